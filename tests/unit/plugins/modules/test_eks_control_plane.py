# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the control plane logic of eks_control_plane (plugins/module_utils/eks/).

The plan (what to change, in which order) is tested as plain data; the calls, waits and check
mode against botocore's Stubber, which checks every request against the EKS service model.
The same module runs over HTTP against the patched moto server in tests/integration.
"""

from __future__ import annotations

import pytest

from ansible_collections.mlops.eks_platform.plugins.module_utils.eks import cluster as eks_cluster
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks import common as eks_common
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks import waiters as eks_waiters

ARN = "arn:aws:eks:eu-west-1:123456789012:cluster/mlops"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE = "arn:aws:iam::123456789012:role/mlops-cluster"
ALL_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]


def cluster(**overrides):
    base = {
        "name": "mlops", "arn": ARN, "version": "1.31", "status": "ACTIVE", "roleArn": ROLE,
        "endpoint": "https://ABC.gr7.eu-west-1.eks.amazonaws.com",
        "resourcesVpcConfig": {"subnetIds": ["subnet-1", "subnet-2"], "securityGroupIds": [],
                               "endpointPublicAccess": True, "endpointPrivateAccess": False,
                               "publicAccessCidrs": ["0.0.0.0/0"], "clusterSecurityGroupId": "sg-1", "vpcId": "vpc-1"},
        "logging": {"clusterLogging": [{"types": ALL_LOGS, "enabled": False}]},
        "kubernetesNetworkConfig": {"serviceIpv4Cidr": "172.20.0.0/16"},
        "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"},
        "tags": {"team": "ml"},
    }
    base.update(overrides)
    return base


def params(**overrides):
    base = {"name": "mlops", "version": None, "role_arn": None, "subnets": None, "security_groups": None,
            "endpoint_public_access": None, "endpoint_private_access": None, "public_access_cidrs": None,
            "logging": None, "encryption_key_arn": None, "service_ipv4_cidr": None, "authentication_mode": None,
            "tags": None, "purge_tags": True, "wait": True, "wait_timeout": 60}
    base.update(overrides)
    return base


class NoSleep:
    def __init__(self):
        self.calls = []

    def __call__(self, seconds):
        self.calls.append(seconds)


# ---- versions ---------------------------------------------------------------------------------
@pytest.mark.parametrize("current, desired, steps", [
    ("1.31", "1.34", ["1.32", "1.33", "1.34"]),
    ("1.33", "1.34", ["1.34"]),
    ("1.34", "1.34", []),
    ("1.9", "1.11", ["1.10", "1.11"]),
])
def test_upgrade_path_goes_one_minor_version_at_a_time(current, desired, steps):
    assert eks_common.upgrade_path(current, desired) == steps


def test_upgrade_path_refuses_a_downgrade():
    with pytest.raises(eks_common.EksError, match="can not be downgraded"):
        eks_common.upgrade_path("1.34", "1.33")


@pytest.mark.parametrize("bad", ["1.34.1", "v1.34", "134", "", None, "1.x"])
def test_minor_version_refuses_anything_but_major_minor(bad):
    with pytest.raises(eks_common.EksError, match="MAJOR.MINOR"):
        eks_common.minor_version(bad)


# ---- logging ---------------------------------------------------------------------------------
def test_logging_payload_lists_enabled_and_disabled_types_in_api_order():
    assert eks_cluster.logging_payload(["scheduler", "api"]) == {"clusterLogging": [
        {"types": ["api", "scheduler"], "enabled": True},
        {"types": ["audit", "authenticator", "controllerManager"], "enabled": False}]}
    assert eks_cluster.logging_payload(ALL_LOGS) == {"clusterLogging": [{"types": ALL_LOGS, "enabled": True}]}


def test_enabled_log_types_reads_every_shape_eks_returns():
    assert eks_cluster.enabled_log_types(cluster()) == set()
    assert eks_cluster.enabled_log_types({"logging": eks_cluster.logging_payload(["api", "audit"])}) == {"api", "audit"}
    assert eks_cluster.enabled_log_types({}) == set()


# ---- plan ------------------------------------------------------------------------------------
def test_plan_upgrades_first_then_endpoint_then_logging():
    plan = eks_cluster.plan_cluster_updates(cluster(), params(
        version="1.34", endpoint_private_access=True, endpoint_public_access=True,
        public_access_cidrs=["203.0.113.0/24"], logging=ALL_LOGS))
    assert [p[0] for p in plan] == ["version 1.32", "version 1.33", "version 1.34", "endpoint access",
                                    "control plane logging"]
    assert [p[2]["version"] for p in plan[:3]] == ["1.32", "1.33", "1.34"]
    assert plan[3][2] == {"name": "mlops", "resourcesVpcConfig": {
        "endpointPrivateAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}}
    assert plan[4][2]["logging"] == eks_cluster.logging_payload(ALL_LOGS)


def test_plan_is_empty_when_everything_matches():
    current = cluster(version="1.34", logging=eks_cluster.logging_payload(ALL_LOGS), encryptionConfig=[
        {"resources": ["secrets"], "provider": {"keyArn": KEY}}])
    plan = eks_cluster.plan_cluster_updates(current, params(
        version="1.34", endpoint_public_access=True, endpoint_private_access=False,
        public_access_cidrs=["0.0.0.0/0"], logging=ALL_LOGS, encryption_key_arn=KEY, role_arn=ROLE,
        subnets=["subnet-2", "subnet-1"], service_ipv4_cidr="172.20.0.0/16", authentication_mode="API_AND_CONFIG_MAP"))
    assert plan == []


def test_plan_ignores_public_cidrs_when_the_public_endpoint_goes_off():
    plan = eks_cluster.plan_cluster_updates(cluster(), params(endpoint_public_access=False, endpoint_private_access=True,
                                                              public_access_cidrs=["10.0.0.0/8"]))
    assert plan == [("endpoint access", "update_cluster_config", {"name": "mlops", "resourcesVpcConfig": {
        "endpointPublicAccess": False, "endpointPrivateAccess": True}})]


def test_plan_changes_subnets_separately_from_endpoint_access():
    plan = eks_cluster.plan_cluster_updates(cluster(), params(subnets=["subnet-1", "subnet-3"], endpoint_private_access=True))
    assert [p[0] for p in plan] == ["subnets and security groups", "endpoint access"]
    assert plan[0][2]["resourcesVpcConfig"] == {"subnetIds": ["subnet-1", "subnet-3"]}


def test_plan_associates_a_key_with_an_unencrypted_cluster():
    plan = eks_cluster.plan_cluster_updates(cluster(), params(encryption_key_arn=KEY))
    assert plan == [("secrets encryption", "associate_encryption_config", {
        "clusterName": "mlops", "encryptionConfig": [{"resources": ["secrets"], "provider": {"keyArn": KEY}}]})]


@pytest.mark.parametrize("current, wanted, message", [
    ({"encryptionConfig": [{"resources": ["secrets"], "provider": {"keyArn": KEY}}]},
     {"encryption_key_arn": KEY + "0"}, "can not change the key"),
    ({}, {"service_ipv4_cidr": "10.100.0.0/16"}, "service_ipv4_cidr is fixed"),
    ({}, {"role_arn": ROLE + "2"}, "cluster role is fixed"),
    ({"accessConfig": {"authenticationMode": "API"}}, {"authentication_mode": "CONFIG_MAP"}, "can only move"),
    ({"version": "1.34"}, {"version": "1.33"}, "can not be downgraded"),
])
def test_plan_refuses_what_eks_can_not_change(current, wanted, message):
    with pytest.raises(eks_common.EksError, match=message):
        eks_cluster.plan_cluster_updates(cluster(**current), params(**wanted))


def test_plan_moves_the_authentication_mode_forward():
    plan = eks_cluster.plan_cluster_updates(cluster(), params(authentication_mode="API"))
    assert plan == [("authentication mode API", "update_cluster_config",
                     {"name": "mlops", "accessConfig": {"authenticationMode": "API"}})]


def test_create_request_holds_everything_asked_for():
    request = eks_cluster.create_cluster_request(params(
        version="1.34", role_arn=ROLE, subnets=["subnet-1", "subnet-2"], endpoint_public_access=True,
        endpoint_private_access=True, public_access_cidrs=["203.0.113.0/24"], logging=["api"],
        encryption_key_arn=KEY, service_ipv4_cidr="172.20.0.0/16", authentication_mode="API", tags={"a": 1}))
    assert request == {
        "name": "mlops", "roleArn": ROLE, "version": "1.34",
        "resourcesVpcConfig": {"subnetIds": ["subnet-1", "subnet-2"], "endpointPublicAccess": True,
                               "endpointPrivateAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]},
        "logging": eks_cluster.logging_payload(["api"]),
        "kubernetesNetworkConfig": {"serviceIpv4Cidr": "172.20.0.0/16"},
        "encryptionConfig": [{"resources": ["secrets"], "provider": {"keyArn": KEY}}],
        "accessConfig": {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": True},
        "tags": {"a": "1"},
    }


# ---- calls (Stubber) -------------------------------------------------------------------------
def test_ensure_cluster_upgrades_step_by_step_and_waits_for_each(stubbed):
    client, stub = stubbed
    sleep = NoSleep()
    stub.add_response("describe_cluster", {"cluster": cluster(version="1.32")}, {"name": "mlops"})
    for version in ("1.33", "1.34"):
        update = {"id": "u-" + version, "status": "InProgress", "type": "VersionUpdate"}
        stub.add_response("update_cluster_version", {"update": update}, {"name": "mlops", "version": version})
        stub.add_response("describe_update", {"update": update}, {"name": "mlops", "updateId": "u-" + version})
        stub.add_response("describe_update", {"update": dict(update, status="Successful")},
                          {"name": "mlops", "updateId": "u-" + version})
        stub.add_response("describe_cluster", {"cluster": cluster(version=version)}, {"name": "mlops"})
    stub.add_response("describe_cluster", {"cluster": cluster(version="1.34")}, {"name": "mlops"})
    changed, result, actions = eks_cluster.ensure_cluster(client, params(version="1.34"), False, sleep=sleep)
    assert changed and result["version"] == "1.34"
    assert actions == ["version 1.33", "version 1.34"]
    assert sleep.calls == [eks_waiters.DEFAULT_DELAY, eks_waiters.DEFAULT_DELAY]


def test_ensure_cluster_in_check_mode_only_reads(stubbed):
    client, stub = stubbed
    stub.add_response("describe_cluster", {"cluster": cluster()}, {"name": "mlops"})
    changed, result, actions = eks_cluster.ensure_cluster(client, params(version="1.33", logging=["api"], tags={"team": "ai"}),
                                                          True, sleep=NoSleep())
    assert changed
    assert actions == ["version 1.32", "version 1.33", "control plane logging", "tags"]
    assert result["version"] == "1.31"


def test_ensure_cluster_in_check_mode_plans_a_creation_without_inputs(stubbed):
    client, stub = stubbed
    stub.add_client_error("describe_cluster", "ResourceNotFoundException", "No cluster found", 404)
    assert eks_cluster.ensure_cluster(client, params(), True) == (True, {}, ["create cluster mlops"])


def test_ensure_cluster_creates_and_waits_until_active(stubbed):
    client, stub = stubbed
    sleep = NoSleep()
    stub.add_client_error("describe_cluster", "ResourceNotFoundException", "No cluster found", 404)
    request = eks_cluster.create_cluster_request(params(version="1.34", role_arn=ROLE, subnets=["subnet-1", "subnet-2"],
                                                        logging=ALL_LOGS))
    stub.add_response("create_cluster", {"cluster": cluster(status="CREATING")}, request)
    stub.add_response("describe_cluster", {"cluster": cluster(status="CREATING")}, {"name": "mlops"})
    stub.add_response("describe_cluster", {"cluster": cluster(status="ACTIVE", version="1.34")}, {"name": "mlops"})
    wanted = params(version="1.34", role_arn=ROLE, subnets=["subnet-1", "subnet-2"], logging=ALL_LOGS)
    changed, result = eks_cluster.ensure_cluster(client, wanted, False, sleep=sleep)[:2]
    assert changed and result["status"] == "ACTIVE" and sleep.calls == [eks_waiters.DEFAULT_DELAY]


def test_ensure_cluster_needs_role_and_subnets_to_create(stubbed):
    client, stub = stubbed
    stub.add_client_error("describe_cluster", "ResourceNotFoundException", "No cluster found", 404)
    with pytest.raises(eks_common.EksError, match="role_arn is required"):
        eks_cluster.ensure_cluster(client, params(version="1.34"), False)


def test_ensure_cluster_reports_a_failed_update_with_its_errors(stubbed):
    client, stub = stubbed
    stub.add_response("describe_cluster", {"cluster": cluster()}, {"name": "mlops"})
    update = {"id": "u1", "status": "InProgress", "type": "LoggingUpdate"}
    stub.add_response("update_cluster_config", {"update": update},
                      {"name": "mlops", "logging": eks_cluster.logging_payload(["api"])})
    stub.add_response("describe_update", {"update": dict(update, status="Failed", errors=[
        {"errorCode": "AccessDenied", "errorMessage": "no logs:CreateLogGroup"}])}, {"name": "mlops", "updateId": "u1"})
    with pytest.raises(eks_common.EksError, match="Failed .*AccessDenied: no logs:CreateLogGroup"):
        eks_cluster.ensure_cluster(client, params(logging=["api"]), False, sleep=NoSleep())


def test_ensure_cluster_syncs_tags_and_keeps_aws_tags(stubbed):
    client, stub = stubbed
    stub.add_response("describe_cluster", {"cluster": cluster(tags={"team": "ml", "old": "x", "aws:eks:x": "y"})},
                      {"name": "mlops"})
    stub.add_response("untag_resource", {}, {"resourceArn": ARN, "tagKeys": ["old"]})
    stub.add_response("tag_resource", {}, {"resourceArn": ARN, "tags": {"env": "prod"}})
    stub.add_response("describe_cluster", {"cluster": cluster()}, {"name": "mlops"})
    changed, actions = eks_cluster.ensure_cluster(client, params(tags={"team": "ml", "env": "prod"}), False)[::2]
    assert changed and actions == ["tags"]


def test_ensure_cluster_refuses_a_failed_cluster(stubbed):
    client, stub = stubbed
    stub.add_response("describe_cluster", {"cluster": cluster(status="FAILED")}, {"name": "mlops"})
    with pytest.raises(eks_common.EksError, match="FAILED"):
        eks_cluster.ensure_cluster(client, params(), False)


def test_delete_cluster_refuses_while_node_groups_remain(stubbed):
    client, stub = stubbed
    stub.add_response("describe_cluster", {"cluster": cluster()}, {"name": "mlops"})
    stub.add_response("list_nodegroups", {"nodegroups": ["core", "gpu"]}, {"clusterName": "mlops"})
    with pytest.raises(eks_common.EksError, match="still has node groups \\(core, gpu\\)"):
        eks_cluster.delete_cluster(client, params(state="absent"), False)


def test_delete_cluster_deletes_and_waits_until_gone(stubbed):
    client, stub = stubbed
    sleep = NoSleep()
    stub.add_response("describe_cluster", {"cluster": cluster()}, {"name": "mlops"})
    stub.add_response("list_nodegroups", {"nodegroups": []}, {"clusterName": "mlops"})
    stub.add_response("delete_cluster", {"cluster": cluster(status="DELETING")}, {"name": "mlops"})
    stub.add_response("describe_cluster", {"cluster": cluster(status="DELETING")}, {"name": "mlops"})
    stub.add_client_error("describe_cluster", "ResourceNotFoundException", "No cluster found", 404)
    assert eks_cluster.delete_cluster(client, params(), False, sleep=sleep) == (True, ["delete cluster mlops"])
    assert sleep.calls == [eks_waiters.DEFAULT_DELAY]


def test_delete_cluster_is_a_no_op_when_it_is_gone(stubbed):
    client, stub = stubbed
    stub.add_client_error("describe_cluster", "ResourceNotFoundException", "No cluster found", 404)
    assert eks_cluster.delete_cluster(client, params(), False) == (False, [])


def test_wait_until_times_out_with_a_clear_message():
    ticks = iter(range(0, 1000, 10))
    with pytest.raises(eks_common.EksError, match="Timed out after 30s waiting for the thing"):
        eks_waiters.wait_until(lambda: "x", lambda v: False, "the thing", 30, delay=10, sleep=lambda s: None,
                               clock=lambda: next(ticks))


def test_snake_result_keeps_tag_and_label_keys():
    assert eks_common.snake_result({"nodegroupName": "gpu", "labels": {"nvidia.com/gpu": "true", "TeamName": "x"},
                                    "tags": {"CostCenter": "1"}}) == {
        "nodegroup_name": "gpu", "labels": {"nvidia.com/gpu": "true", "TeamName": "x"}, "tags": {"CostCenter": "1"}}
