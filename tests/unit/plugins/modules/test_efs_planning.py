# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the planning half of plugins/module_utils/efs/resources.py (no AWS involved).

The modules efs_file_system and efs_access_point decide what to change from these pure
functions; their AWS calls are tested against the emulator in
tests/integration/test_efs_modules.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.mlops.eks_platform.plugins.module_utils.efs import resources as efs

IA = efs.TRANSITION_TO_IA_CHOICES


def mount_target(subnet, groups, ip="10.0.0.10", mt_id=None):
    return {"MountTargetId": mt_id or "fsmt-" + subnet[-4:], "SubnetId": subnet, "IpAddress": ip,
            "SecurityGroups": list(groups), "LifeCycleState": "available"}


# --- lifecycle ---------------------------------------------------------------------------


def test_lifecycle_from_api_merges_the_one_key_policies():
    api = [{"TransitionToIA": "AFTER_30_DAYS"}, {"TransitionToPrimaryStorageClass": "AFTER_1_ACCESS"}]
    assert efs.lifecycle_from_api(api) == {"transition_to_ia": "AFTER_30_DAYS",
                                           "transition_to_primary_storage_class": "AFTER_1_ACCESS"}


def test_lifecycle_from_api_of_nothing_is_empty():
    assert efs.lifecycle_from_api(None) == {}
    assert efs.lifecycle_from_api([]) == {}


def test_lifecycle_to_api_leaves_out_unset_transitions():
    assert efs.lifecycle_to_api({"transition_to_ia": "AFTER_7_DAYS", "transition_to_archive": None}) == [
        {"TransitionToIA": "AFTER_7_DAYS"}]
    assert efs.lifecycle_to_api({}) == []


@given(st.fixed_dictionaries({}, optional={
    "transition_to_ia": st.sampled_from(IA),
    "transition_to_archive": st.sampled_from(IA),
    "transition_to_primary_storage_class": st.just("AFTER_1_ACCESS"),
}))
def test_lifecycle_round_trips(lifecycle):
    assert efs.lifecycle_from_api(efs.lifecycle_to_api(lifecycle)) == lifecycle


# --- immutable settings and throughput ----------------------------------------------------


def test_no_difference_when_the_settings_match():
    current = {"Encrypted": True, "KmsKeyId": "arn:aws:kms:eu-west-1:1:key/a", "PerformanceMode": "generalPurpose"}
    desired = {"encrypted": True, "kms_key_arn": "arn:aws:kms:eu-west-1:1:key/a", "performance_mode": "generalPurpose"}
    assert efs.immutable_differences(current, desired) == []


@pytest.mark.parametrize("desired, words", [
    ({"encrypted": True}, "encrypted is False"),
    ({"kms_key_arn": "arn:aws:kms:eu-west-1:1:key/b"}, "encrypted with arn:aws:kms:eu-west-1:1:key/a"),
    ({"performance_mode": "maxIO"}, "performance_mode is generalPurpose"),
])
def test_each_fixed_setting_is_reported(desired, words):
    current = {"Encrypted": False, "KmsKeyId": "arn:aws:kms:eu-west-1:1:key/a", "PerformanceMode": "generalPurpose"}
    problems = efs.immutable_differences(current, desired)
    assert len(problems) == 1 and words in problems[0]


def test_unmanaged_settings_are_not_compared():
    assert efs.immutable_differences({"Encrypted": False, "PerformanceMode": "maxIO"}, {}) == []


@pytest.mark.parametrize("current, desired, update", [
    ({"ThroughputMode": "bursting"}, {"throughput_mode": "elastic"}, {"ThroughputMode": "elastic"}),
    ({"ThroughputMode": "elastic"}, {"throughput_mode": "elastic"}, None),
    ({"ThroughputMode": "elastic"}, {}, None),
    ({"ThroughputMode": "provisioned", "ProvisionedThroughputInMibps": 64.0},
     {"throughput_mode": "provisioned", "provisioned_throughput_in_mibps": 64}, None),
    ({"ThroughputMode": "provisioned", "ProvisionedThroughputInMibps": 64.0},
     {"throughput_mode": "provisioned", "provisioned_throughput_in_mibps": 128}, {"ProvisionedThroughputInMibps": 128.0}),
    ({"ThroughputMode": "bursting"}, {"throughput_mode": "provisioned", "provisioned_throughput_in_mibps": 10},
     {"ThroughputMode": "provisioned", "ProvisionedThroughputInMibps": 10.0}),
])
def test_throughput_update(current, desired, update):
    assert efs.throughput_update(current, desired) == update


# --- mount targets -------------------------------------------------------------------------


def test_nothing_to_do_when_the_mount_targets_match():
    current = [mount_target("subnet-aaaa", ["sg-1"]), mount_target("subnet-bbbb", ["sg-1"])]
    desired = [{"subnet_id": "subnet-bbbb", "security_groups": ["sg-1"]}, {"subnet_id": "subnet-aaaa", "security_groups": ["sg-1"]}]
    assert efs.plan_mount_targets(current, desired) == {"delete": [], "create": [], "security_groups": []}


def test_missing_mount_targets_are_created_and_extra_ones_deleted():
    current = [mount_target("subnet-aaaa", ["sg-1"]), mount_target("subnet-cccc", ["sg-1"])]
    desired = [{"subnet_id": "subnet-aaaa", "security_groups": ["sg-1"]}, {"subnet_id": "subnet-bbbb", "security_groups": ["sg-1"]}]
    plan = efs.plan_mount_targets(current, desired)
    assert [t["SubnetId"] for t in plan["delete"]] == ["subnet-cccc"]
    assert [t["subnet_id"] for t in plan["create"]] == ["subnet-bbbb"]
    assert plan["security_groups"] == []


def test_extra_mount_targets_stay_without_purge():
    current = [mount_target("subnet-cccc", ["sg-1"])]
    plan = efs.plan_mount_targets(current, [{"subnet_id": "subnet-aaaa"}], purge=False)
    assert plan["delete"] == [] and [t["subnet_id"] for t in plan["create"]] == ["subnet-aaaa"]


def test_security_groups_are_compared_as_sets():
    current = [mount_target("subnet-aaaa", ["sg-2", "sg-1"])]
    assert efs.plan_mount_targets(current, [{"subnet_id": "subnet-aaaa", "security_groups": ["sg-1", "sg-2"]}])[
        "security_groups"] == []
    plan = efs.plan_mount_targets(current, [{"subnet_id": "subnet-aaaa", "security_groups": ["sg-3"]}])
    assert [(t["SubnetId"], groups) for t, groups in plan["security_groups"]] == [("subnet-aaaa", ["sg-3"])]


def test_unmanaged_security_groups_are_left_alone():
    current = [mount_target("subnet-aaaa", ["sg-default"])]
    assert efs.plan_mount_targets(current, [{"subnet_id": "subnet-aaaa"}])["security_groups"] == []


def test_another_fixed_address_replaces_the_mount_target():
    current = [mount_target("subnet-aaaa", ["sg-1"], ip="10.0.0.10")]
    plan = efs.plan_mount_targets(current, [{"subnet_id": "subnet-aaaa", "ip_address": "10.0.0.20"}])
    assert [t["SubnetId"] for t in plan["delete"]] == ["subnet-aaaa"]
    assert [t["ip_address"] for t in plan["create"]] == ["10.0.0.20"]


def test_a_subnet_listed_twice_is_refused():
    with pytest.raises(efs.EfsError, match="listed twice"):
        efs.plan_mount_targets([], [{"subnet_id": "subnet-aaaa"}, {"subnet_id": "subnet-aaaa"}])


@given(st.sets(st.sampled_from(["subnet-%04d" % i for i in range(8)])),
       st.sets(st.sampled_from(["subnet-%04d" % i for i in range(8)])))
def test_plan_reaches_the_desired_subnets(have, want):
    current = [mount_target(s, ["sg-1"]) for s in sorted(have)]
    plan = efs.plan_mount_targets(current, [{"subnet_id": s, "security_groups": ["sg-1"]} for s in sorted(want)])
    after = (have - {t["SubnetId"] for t in plan["delete"]}) | {t["subnet_id"] for t in plan["create"]}
    assert after == want
    assert not ({t["subnet_id"] for t in plan["create"]} & (have - {t["SubnetId"] for t in plan["delete"]}))


# --- access points -------------------------------------------------------------------------

AP = {"PosixUser": {"Uid": 50000, "Gid": 0},
      "RootDirectory": {"Path": "/airflow/dags", "CreationInfo": {"OwnerUid": 50000, "OwnerGid": 0, "Permissions": "0755"}}}


def test_access_point_that_matches():
    assert efs.access_point_differences(AP, {"uid": 50000, "gid": 0}, {
        "path": "/airflow/dags", "creation_info": {"owner_uid": 50000, "owner_gid": 0, "permissions": "755"}}) == []


@pytest.mark.parametrize("posix, root, words", [
    ({"uid": 1000, "gid": 0}, None, "posix_user is 50000:0, 1000:0 requested"),
    ({"uid": 50000, "gid": 0, "secondary_gids": [1]}, None, "secondary_gids"),
    (None, {"path": "/other"}, "root_directory.path is /airflow/dags"),
    (None, {"path": "/airflow/dags", "creation_info": {"owner_uid": 50000, "owner_gid": 0, "permissions": "0700"}},
     "creation_info"),
])
def test_access_point_differences(posix, root, words):
    problems = efs.access_point_differences(AP, posix, root)
    assert len(problems) == 1 and words in problems[0]


@pytest.mark.parametrize("value, normal", [("755", "0755"), ("0755", "0755"), (755, "0755"), ("0700", "0700"), ("1777", "1777")])
def test_permissions_are_normalised(value, normal):
    assert efs.normalize_permissions(value) == normal


@pytest.mark.parametrize("value", ["rwx", "0789", "", "07555"])
def test_bad_permissions_are_refused(value):
    with pytest.raises(efs.EfsError):
        efs.normalize_permissions(value)


def test_describe_access_point():
    point = dict(AP, AccessPointId="fsap-1", AccessPointArn="arn:x", FileSystemId="fs-1", Name="dags",
                 LifeCycleState="available", Tags=[{"Key": "Name", "Value": "dags"}])
    described = efs.describe_access_point(point)
    assert described["posix_user"] == {"uid": 50000, "gid": 0, "secondary_gids": []}
    assert described["root_directory"] == {"path": "/airflow/dags", "creation_info": {
        "owner_uid": 50000, "owner_gid": 0, "permissions": "0755"}}
    assert described["tags"] == {"Name": "dags"}


# --- policy and tags -----------------------------------------------------------------------

POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Deny", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "*",
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    {"Sid": "Other", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "elasticfilesystem:ClientMount",
     "Resource": "arn:aws:elasticfilesystem:eu-west-1:1:file-system/fs-other"},
]}


def test_complete_policy_fills_in_the_missing_resources_only():
    completed = efs.complete_policy(POLICY, "arn:fs")
    assert completed["Statement"][0]["Resource"] == "arn:fs"
    assert completed["Statement"][1]["Resource"].endswith("fs-other")
    assert "Resource" not in POLICY["Statement"][0], "the input must not be changed"


def test_complete_policy_with_a_single_statement_object():
    completed = efs.complete_policy({"Statement": {"Effect": "Deny", "Action": "*"}}, "arn:fs")
    assert completed["Statement"] == {"Effect": "Deny", "Action": "*", "Resource": "arn:fs"}
    assert efs.complete_policy(None, "arn:fs") is None


def test_policies_compare_without_ordering():
    policy = efs.complete_policy(POLICY, "arn:fs")
    reordered = dict(policy, Statement=list(reversed(policy["Statement"])))
    assert not efs.policies_differ(reordered, policy)
    assert efs.policies_differ(None, policy)
    assert not efs.policies_differ(policy, None), "an unmanaged policy is never put"


def test_the_name_tag_comes_from_the_name():
    assert efs.file_system_tags("dags", {"Name": "other", "Env": "x"}) == {"Name": "dags", "Env": "x"}
    assert efs.file_system_tags("dags", None) == {"Name": "dags"}
