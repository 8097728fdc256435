# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the node group logic of eks_managed_nodegroup (plugins/module_utils/eks/)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.mlops.eks_platform.plugins.module_utils.eks import common as eks_common
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks import nodegroup as eks_nodegroup
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks import waiters as eks_waiters

NG_ARN = "arn:aws:eks:eu-west-1:123456789012:nodegroup/mlops/gpu/0a1b"
ROLE = "arn:aws:iam::123456789012:role/mlops-node"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}


def nodegroup(**overrides):
    base = {"nodegroupName": "gpu", "nodegroupArn": NG_ARN, "clusterName": "mlops", "version": "1.33",
            "releaseVersion": "1.33.0-20261101", "status": "ACTIVE", "capacityType": "SPOT",
            "scalingConfig": {"minSize": 0, "maxSize": 2, "desiredSize": 1}, "instanceTypes": ["g5.xlarge"],
            "subnets": ["subnet-1", "subnet-2"], "amiType": "AL2023_x86_64_NVIDIA", "nodeRole": ROLE,
            "labels": {"nvidia.com/gpu": "true"}, "taints": [GPU_TAINT], "diskSize": 100,
            "updateConfig": {"maxUnavailable": 1}, "tags": {"team": "ml"}}
    base.update(overrides)
    return base


def params(**overrides):
    base = {"cluster_name": "mlops", "name": "gpu", "node_role": ROLE, "subnets": ["subnet-2", "subnet-1"],
            "instance_types": ["g5.xlarge"], "ami_type": "AL2023_x86_64_NVIDIA", "capacity_type": "SPOT",
            "disk_size": 100, "min_size": 0, "max_size": 2, "desired_size": None,
            "labels": {"nvidia.com/gpu": "true"},
            "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
            "version": None, "release_version": None, "update_config": {"max_unavailable": 1},
            "tags": {"team": "ml"}, "purge_tags": True, "wait": True, "wait_timeout": 60}
    base.update(overrides)
    return base


def test_taints_accept_kubernetes_and_api_spelling():
    assert eks_nodegroup.normalize_taints([{"key": "a", "value": "1", "effect": "NoExecute"},
                                           {"key": "b", "effect": "PREFER_NO_SCHEDULE", "value": None}]) == [
        {"key": "a", "value": "1", "effect": "NO_EXECUTE"}, {"key": "b", "effect": "PREFER_NO_SCHEDULE"}]
    with pytest.raises(eks_common.EksError, match="effect must be"):
        eks_nodegroup.normalize_taints([{"key": "a", "effect": "Sometimes"}])


def test_label_changes_see_changed_values_and_removed_keys():
    assert eks_nodegroup.label_changes({"a": "1", "b": "2"}, {"a": "9", "c": 3}) == ({"a": "9", "c": "3"}, ["b"])


def test_taint_changes_replace_by_key_and_effect():
    add, remove = eks_nodegroup.taint_changes([GPU_TAINT, {"key": "old", "effect": "NO_EXECUTE"}],
                                              [{"key": "nvidia.com/gpu", "value": "yes", "effect": "NoSchedule"}])
    assert add == [{"key": "nvidia.com/gpu", "value": "yes", "effect": "NO_SCHEDULE"}]
    assert remove == [{"key": "old", "effect": "NO_EXECUTE"}]


def test_plan_is_empty_when_the_group_matches():
    assert eks_nodegroup.plan_nodegroup_updates(nodegroup(), params(), "1.33") == []


def test_plan_puts_scaling_labels_taints_in_one_update_and_keeps_the_autoscalers_size():
    plan = eks_nodegroup.plan_nodegroup_updates(nodegroup(scalingConfig={"minSize": 0, "maxSize": 2, "desiredSize": 2}), params(
        min_size=0, max_size=4, labels={"nvidia.com/gpu": "true", "team": "ml"},
        taints=[{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"},
                {"key": "dedicated", "value": "training", "effect": "NoExecute"}]), "1.33")
    assert len(plan) == 1
    description, method, request = plan[0]
    assert method == "update_nodegroup_config"
    assert description == "labels, scaling, taints"
    assert request["scalingConfig"] == {"minSize": 0, "maxSize": 4, "desiredSize": 2}
    assert request["labels"] == {"addOrUpdateLabels": {"team": "ml"}}
    assert request["taints"] == {"addOrUpdateTaints": [{"key": "dedicated", "value": "training", "effect": "NO_EXECUTE"}]}


@pytest.mark.parametrize("low, high, current, expected", [(0, 1, 3, 1), (2, 5, 0, 2), (0, 5, 3, 3)])
def test_plan_moves_the_desired_size_only_into_new_limits(low, high, current, expected):
    plan = eks_nodegroup.plan_nodegroup_updates(nodegroup(scalingConfig={"minSize": 1, "maxSize": 3, "desiredSize": current}),
                                                params(min_size=low, max_size=high), "1.33")
    assert plan[0][2]["scalingConfig"] == {"minSize": low, "maxSize": high, "desiredSize": expected}


def test_plan_upgrades_the_version_after_the_config():
    plan = eks_nodegroup.plan_nodegroup_updates(nodegroup(), params(version="1.34", labels={}), "1.34")
    assert [p[1] for p in plan] == ["update_nodegroup_config", "update_nodegroup_version"]
    assert plan[1][2] == {"clusterName": "mlops", "nodegroupName": "gpu", "version": "1.34"}


@pytest.mark.parametrize("change, message", [
    ({"instance_types": ["g6.xlarge"]}, "instance_types"),
    ({"ami_type": "BOTTLEROCKET_x86_64_NVIDIA"}, "ami_type"),
    ({"capacity_type": "ON_DEMAND"}, "capacity_type"),
    ({"disk_size": 200}, "disk_size"),
    ({"subnets": ["subnet-3"]}, "subnets"),
    ({"node_role": ROLE + "2"}, "node_role"),
])
def test_plan_refuses_in_place_changes_eks_can_not_make(change, message):
    with pytest.raises(eks_common.EksError, match="can not change %s" % message):
        eks_nodegroup.plan_nodegroup_updates(nodegroup(), params(**change), "1.33")


def test_plan_refuses_a_node_version_newer_than_the_control_plane_or_older_than_the_group():
    with pytest.raises(eks_common.EksError, match="newer than the control plane"):
        eks_nodegroup.plan_nodegroup_updates(nodegroup(), params(version="1.34"), "1.33")
    with pytest.raises(eks_common.EksError, match="can not be downgraded"):
        eks_nodegroup.plan_nodegroup_updates(nodegroup(), params(version="1.32"), "1.33")


@pytest.mark.parametrize("low, high, desired", [(3, 2, None), (0, 0, None), (-1, 2, None), (0, 2, 5)])
def test_scaling_is_checked_before_any_call(low, high, desired):
    with pytest.raises(eks_common.EksError):
        eks_nodegroup.check_scaling(params(min_size=low, max_size=high, desired_size=desired))


@pytest.mark.parametrize("labels, taints, message", [
    ({"mlops.eks_platform/pool": "gpu"}, [], "prefix must be a lower-case DNS subdomain"),
    ({"team": "machine learning"}, [], "value"),
    ({}, [{"key": "-bad", "effect": "NoSchedule"}], "name part"),
])
def test_kubernetes_label_and_taint_syntax_is_checked(labels, taints, message):
    with pytest.raises(eks_common.EksError, match=message):
        eks_nodegroup.check_scaling(params(labels=labels, taints=taints))


@given(st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z0-9]{1,5}){0,2}/[A-Za-z0-9]([A-Za-z0-9_.-]{0,20}[A-Za-z0-9])?\Z"))
def test_well_formed_label_keys_are_accepted(key):
    assert eks_nodegroup.invalid_label_key(key) is None


def test_create_request_defaults_desired_to_min_and_normalizes_taints():
    request = eks_nodegroup.create_nodegroup_request(params(version="1.33"))
    assert request["scalingConfig"] == {"minSize": 0, "maxSize": 2, "desiredSize": 0}
    assert request["taints"] == [GPU_TAINT]
    assert request["amiType"] == "AL2023_x86_64_NVIDIA" and request["version"] == "1.33"
    assert request["updateConfig"] == {"maxUnavailable": 1}


def test_ensure_nodegroup_creates_and_waits(stubbed):
    client, stub = stubbed
    stub.add_client_error("describe_nodegroup", "ResourceNotFoundException", "No node group", 404)
    stub.add_response("create_nodegroup", {"nodegroup": nodegroup(status="CREATING")},
                      eks_nodegroup.create_nodegroup_request(params()))
    stub.add_response("describe_nodegroup", {"nodegroup": nodegroup()}, {"clusterName": "mlops", "nodegroupName": "gpu"})
    changed, result, actions = eks_nodegroup.ensure_nodegroup(client, params(), False, sleep=lambda s: None)
    assert changed and result["status"] == "ACTIVE" and actions == ["create node group gpu"]


def test_ensure_nodegroup_updates_once_waits_and_tags(stubbed):
    client, stub = stubbed
    sleep = []
    key = {"clusterName": "mlops", "nodegroupName": "gpu"}
    stub.add_response("describe_nodegroup", {"nodegroup": nodegroup()}, key)
    stub.add_response("describe_cluster", {"cluster": {"name": "mlops", "version": "1.33"}}, {"name": "mlops"})
    update = {"id": "u1", "status": "InProgress", "type": "ConfigUpdate"}
    stub.add_response("update_nodegroup_config", {"update": update},
                      dict(key, scalingConfig={"minSize": 0, "maxSize": 3, "desiredSize": 1}))
    stub.add_response("describe_update", {"update": update}, {"name": "mlops", "updateId": "u1", "nodegroupName": "gpu"})
    stub.add_response("describe_update", {"update": dict(update, status="Successful")},
                      {"name": "mlops", "updateId": "u1", "nodegroupName": "gpu"})
    stub.add_response("describe_nodegroup", {"nodegroup": nodegroup()}, key)
    stub.add_response("tag_resource", {}, {"resourceArn": NG_ARN, "tags": {"env": "prod"}})
    stub.add_response("describe_nodegroup", {"nodegroup": nodegroup()}, key)
    changed, actions = eks_nodegroup.ensure_nodegroup(client, params(max_size=3, tags={"team": "ml", "env": "prod"}),
                                                      False, sleep=sleep.append)[::2]
    assert changed and actions == ["scaling", "tags"] and sleep == [eks_waiters.DEFAULT_DELAY]


def test_ensure_nodegroup_check_mode_reports_without_calls(stubbed):
    client, stub = stubbed
    stub.add_response("describe_nodegroup", {"nodegroup": nodegroup()}, {"clusterName": "mlops", "nodegroupName": "gpu"})
    stub.add_response("describe_cluster", {"cluster": {"name": "mlops", "version": "1.33"}}, {"name": "mlops"})
    changed, actions = eks_nodegroup.ensure_nodegroup(client, params(labels={}), True)[::2]
    assert changed and actions == ["labels"]


def test_delete_nodegroup(stubbed):
    client, stub = stubbed
    key = {"clusterName": "mlops", "nodegroupName": "gpu"}
    stub.add_response("describe_nodegroup", {"nodegroup": nodegroup()}, key)
    stub.add_response("delete_nodegroup", {"nodegroup": nodegroup(status="DELETING")}, key)
    stub.add_client_error("describe_nodegroup", "ResourceNotFoundException", "No node group", 404)
    assert eks_nodegroup.delete_nodegroup(client, params(), False) is True
