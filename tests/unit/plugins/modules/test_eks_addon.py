# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the add-on logic of eks_addon (plugins/module_utils/eks/).

moto 5.2 has no EKS add-on API. tests/tools/moto_patches/eks_addons.py adds one for the
integration tier, but its catalogue is emulator data, so the version rules are pinned down here
against botocore's Stubber, with responses shaped like AWS's.
"""

from __future__ import annotations

import pytest

from ansible_collections.mlops.eks_platform.plugins.module_utils.eks import addon as eks_addon
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks import common as eks_common

ADDON_ARN = "arn:aws:eks:eu-west-1:123456789012:addon/mlops/coredns/abcd"
ROLE = "arn:aws:iam::123456789012:role/mlops-vpc-cni"
VERSIONS_133 = [("v1.12.2-eksbuild.4", True), ("v1.12.3-eksbuild.1", False), ("v1.11.4-eksbuild.14", False)]


def versions_page(name, kubernetes_version, versions):
    return {"addons": [{"addonName": name, "type": "networking", "addonVersions": [
        {"addonVersion": v, "architecture": ["amd64"], "requiresConfiguration": False,
         "compatibilities": [{"clusterVersion": kubernetes_version, "platformVersions": ["*"], "defaultVersion": d}]}
        for v, d in versions]}]}


def addon(**overrides):
    base = {"addonName": "coredns", "clusterName": "mlops", "status": "ACTIVE", "addonVersion": "v1.11.4-eksbuild.14",
            "addonArn": ADDON_ARN, "tags": {}, "health": {"issues": []}}
    base.update(overrides)
    return base


def params(**overrides):
    base = {"cluster_name": "mlops", "name": "coredns", "version": "default", "service_account_role_arn": None,
            "configuration_values": None, "resolve_conflicts": "OVERWRITE", "preserve": False, "tags": None,
            "purge_tags": True, "wait": True, "wait_timeout": 60}
    base.update(overrides)
    return base


# ---- version choice --------------------------------------------------------------------------
def test_default_picks_eks_default_for_the_cluster_version():
    assert eks_addon.choose_addon_version("coredns", "default", sorted(VERSIONS_133, key=lambda v: eks_addon.addon_version_key(v[0]),
                                                                       reverse=True), "1.33") == "v1.12.2-eksbuild.4"


def test_default_keeps_a_newer_compatible_version_because_add_ons_can_not_go_down():
    versions = sorted(VERSIONS_133, key=lambda v: eks_addon.addon_version_key(v[0]), reverse=True)
    assert eks_addon.choose_addon_version("coredns", "default", versions, "1.33", current="v1.12.3-eksbuild.1") \
        == "v1.12.3-eksbuild.1"
    assert eks_addon.choose_addon_version("coredns", "default", versions, "1.33", current="v1.11.4-eksbuild.14") \
        == "v1.12.2-eksbuild.4"


def test_default_moves_an_incompatible_version_after_a_control_plane_upgrade():
    versions = [("v1.34.3-eksbuild.2", True), ("v1.34.0-eksbuild.1", False)]
    assert eks_addon.choose_addon_version("kube-proxy", "default", versions, "1.34", current="v1.33.3-eksbuild.2") \
        == "v1.34.3-eksbuild.2"


def test_latest_and_exact_versions():
    versions = sorted(VERSIONS_133, key=lambda v: eks_addon.addon_version_key(v[0]), reverse=True)
    assert eks_addon.choose_addon_version("coredns", "latest", versions, "1.33") == "v1.12.3-eksbuild.1"
    assert eks_addon.choose_addon_version("coredns", "v1.11.4-eksbuild.14", versions, "1.33") == "v1.11.4-eksbuild.14"
    with pytest.raises(eks_common.EksError, match="not compatible with Kubernetes 1.33"):
        eks_addon.choose_addon_version("coredns", "v1.10.1-eksbuild.1", versions, "1.33")
    with pytest.raises(eks_common.EksError, match="no version compatible"):
        eks_addon.choose_addon_version("coredns", "default", [], "1.40")


def test_version_keys_order_builds_numerically():
    assert eks_addon.addon_version_key("v1.20.4-eksbuild.10") > eks_addon.addon_version_key("v1.20.4-eksbuild.9")
    assert eks_addon.addon_version_key("v1.9.0-eksbuild.1") < eks_addon.addon_version_key("v1.10.0-eksbuild.1")


def test_addon_versions_follows_pages_and_filters_by_cluster_version(stubbed):
    client, stub = stubbed
    first = versions_page("coredns", "1.33", VERSIONS_133[:1])
    first["nextToken"] = "page2"
    stub.add_response("describe_addon_versions", first, {"addonName": "coredns", "kubernetesVersion": "1.33"})
    stub.add_response("describe_addon_versions", versions_page("coredns", "1.33", VERSIONS_133[1:]),
                      {"addonName": "coredns", "kubernetesVersion": "1.33", "nextToken": "page2"})
    assert eks_addon.addon_versions(client, "coredns", "1.33") == [
        ("v1.12.3-eksbuild.1", False), ("v1.12.2-eksbuild.4", True), ("v1.11.4-eksbuild.14", False)]


@pytest.mark.parametrize("value, expected", [
    ({"b": 1, "a": {"c": "x"}}, '{"a":{"c":"x"},"b":1}'),
    ('{ "b": 1, "a": {"c": "x"} }', '{"a":{"c":"x"},"b":1}'),
    ("replicaCount: 2", "replicaCount: 2"),
    ("", ""),
    (None, None),
])
def test_configuration_values_compare_as_json(value, expected):
    assert eks_addon.normalize_configuration(value) == expected


# ---- calls -----------------------------------------------------------------------------------
def reads(stub, current, kubernetes_version="1.33", versions=None):
    versions = VERSIONS_133 if versions is None else versions
    stub.add_response("describe_cluster", {"cluster": {"name": "mlops", "version": kubernetes_version}}, {"name": "mlops"})
    if current is None:
        stub.add_client_error("describe_addon", "ResourceNotFoundException", "No addon: coredns found", 404)
    else:
        stub.add_response("describe_addon", {"addon": current}, {"clusterName": "mlops", "addonName": "coredns"})
    stub.add_response("describe_addon_versions", versions_page("coredns", kubernetes_version, versions),
                      {"addonName": "coredns", "kubernetesVersion": kubernetes_version})


def test_create_at_the_default_version_with_irsa_role_and_configuration(stubbed):
    client, stub = stubbed
    reads(stub, None)
    stub.add_response("create_addon", {"addon": addon(status="CREATING", addonVersion="v1.12.2-eksbuild.4")}, {
        "clusterName": "mlops", "addonName": "coredns", "addonVersion": "v1.12.2-eksbuild.4",
        "resolveConflicts": "OVERWRITE", "serviceAccountRoleArn": ROLE, "configurationValues": '{"replicaCount":3}',
        "tags": {"env": "prod"}})
    stub.add_response("describe_addon", {"addon": addon(addonVersion="v1.12.2-eksbuild.4")},
                      {"clusterName": "mlops", "addonName": "coredns"})
    changed, result, actions, warnings = eks_addon.ensure_addon(client, params(
        service_account_role_arn=ROLE, configuration_values={"replicaCount": 3}, tags={"env": "prod"}), False)
    assert changed and result["addonVersion"] == "v1.12.2-eksbuild.4" and warnings == []
    assert actions == ["create add-on coredns v1.12.2-eksbuild.4"]


def test_existing_add_on_at_the_default_changes_nothing(stubbed):
    client, stub = stubbed
    reads(stub, addon(addonVersion="v1.12.2-eksbuild.4"))
    assert eks_addon.ensure_addon(client, params(), False)[0] is False


def test_update_to_the_new_default_waits_for_the_update(stubbed):
    client, stub = stubbed
    reads(stub, addon(addonVersion="v1.11.4-eksbuild.14"))
    update = {"id": "u1", "status": "InProgress", "type": "AddonUpdate"}
    stub.add_response("update_addon", {"update": update}, {
        "clusterName": "mlops", "addonName": "coredns", "addonVersion": "v1.12.2-eksbuild.4",
        "resolveConflicts": "OVERWRITE"})
    stub.add_response("describe_update", {"update": dict(update, status="Successful")},
                      {"name": "mlops", "updateId": "u1", "addonName": "coredns"})
    stub.add_response("describe_addon", {"addon": addon(addonVersion="v1.12.2-eksbuild.4")},
                      {"clusterName": "mlops", "addonName": "coredns"})
    stub.add_response("describe_addon", {"addon": addon(addonVersion="v1.12.2-eksbuild.4")},
                      {"clusterName": "mlops", "addonName": "coredns"})
    changed, result, actions = eks_addon.ensure_addon(client, params(), False)[:3]
    assert changed and actions == ["version v1.11.4-eksbuild.14 -> v1.12.2-eksbuild.4"]
    assert result["addonVersion"] == "v1.12.2-eksbuild.4"


def test_an_exact_older_version_is_refused_before_any_update(stubbed):
    client, stub = stubbed
    reads(stub, addon(addonVersion="v1.12.3-eksbuild.1"))
    with pytest.raises(eks_common.EksError, match="can not downgrade"):
        eks_addon.ensure_addon(client, params(version="v1.12.2-eksbuild.4"), False)


def test_check_mode_reports_the_version_it_would_install(stubbed):
    client, stub = stubbed
    reads(stub, addon(addonVersion="v1.11.4-eksbuild.14", serviceAccountRoleArn=ROLE))
    changed, result, actions = eks_addon.ensure_addon(client, params(service_account_role_arn=""), True)[:3]
    assert changed and result["addonVersion"] == "v1.12.2-eksbuild.4"
    assert actions == ["version v1.11.4-eksbuild.14 -> v1.12.2-eksbuild.4", "service account role"]


def test_a_degraded_add_on_is_a_warning_not_a_failure(stubbed):
    client, stub = stubbed
    reads(stub, None)
    stub.add_response("create_addon", {"addon": addon(status="CREATING")}, {
        "clusterName": "mlops", "addonName": "coredns", "addonVersion": "v1.12.2-eksbuild.4",
        "resolveConflicts": "OVERWRITE"})
    stub.add_response("describe_addon", {"addon": addon(status="DEGRADED", health={"issues": [
        {"code": "InsufficientNumberOfReplicas", "message": "no nodes"}]})},
        {"clusterName": "mlops", "addonName": "coredns"})
    warnings = eks_addon.ensure_addon(client, params(), False)[3]
    assert warnings and "DEGRADED" in warnings[0]


def test_a_failed_add_on_fails_with_its_health_issues(stubbed):
    client, stub = stubbed
    reads(stub, None)
    stub.add_response("create_addon", {"addon": addon(status="CREATING")}, {
        "clusterName": "mlops", "addonName": "coredns", "addonVersion": "v1.12.2-eksbuild.4",
        "resolveConflicts": "OVERWRITE"})
    stub.add_response("describe_addon", {"addon": addon(status="CREATE_FAILED", health={"issues": [
        {"code": "ConfigurationConflict", "message": "fields managed by kubectl"}]})},
        {"clusterName": "mlops", "addonName": "coredns"})
    with pytest.raises(eks_common.EksError, match="ConfigurationConflict"):
        eks_addon.ensure_addon(client, params(), False)


def test_missing_cluster_is_a_clear_error(stubbed):
    client, stub = stubbed
    stub.add_client_error("describe_cluster", "ResourceNotFoundException", "No cluster found", 404)
    with pytest.raises(eks_common.EksError, match="Cluster mlops does not exist"):
        eks_addon.ensure_addon(client, params(), False)


def test_delete_addon_with_preserve(stubbed):
    client, stub = stubbed
    key = {"clusterName": "mlops", "addonName": "coredns"}
    stub.add_response("describe_addon", {"addon": addon()}, key)
    stub.add_response("delete_addon", {"addon": addon(status="DELETING")}, dict(key, preserve=True))
    stub.add_client_error("describe_addon", "ResourceNotFoundException", "No addon", 404)
    assert eks_addon.delete_addon(client, params(preserve=True), False, sleep=lambda s: None) is True


def test_delete_addon_that_is_gone(stubbed):
    client, stub = stubbed
    stub.add_client_error("describe_addon", "ResourceNotFoundException", "No addon", 404)
    assert eks_addon.delete_addon(client, params(), False) is False
