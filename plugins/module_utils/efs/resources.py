# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The planning half of the EFS modules: what to create, change or refuse, as plain data in and
plain data out, so that it can be tested without AWS. :mod:`.api` makes the calls."""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

# Option name -> the key of one element of LifecyclePolicies in the API.
LIFECYCLE_KEYS = {
    "transition_to_ia": "TransitionToIA",
    "transition_to_archive": "TransitionToArchive",
    "transition_to_primary_storage_class": "TransitionToPrimaryStorageClass",
}
TRANSITION_TO_IA_CHOICES = ["AFTER_1_DAY", "AFTER_7_DAYS", "AFTER_14_DAYS", "AFTER_30_DAYS", "AFTER_60_DAYS",
                            "AFTER_90_DAYS", "AFTER_180_DAYS", "AFTER_270_DAYS", "AFTER_365_DAYS"]
TRANSITION_TO_PRIMARY_CHOICES = ["AFTER_1_ACCESS"]


class EfsError(Exception):
    """A request that cannot be carried out, with a message for the user."""


def lifecycle_from_api(policies):
    """LifecyclePolicies (a list of one-key dicts) -> {'transition_to_ia': 'AFTER_30_DAYS', ...}."""
    merged = {}
    for policy in policies or []:
        for option, api_key in LIFECYCLE_KEYS.items():
            if policy.get(api_key):
                merged[option] = policy[api_key]
    return merged


def lifecycle_to_api(lifecycle):
    """{'transition_to_ia': ...} -> LifecyclePolicies, one element per transition that is set."""
    return [{LIFECYCLE_KEYS[option]: value} for option, value in sorted((lifecycle or {}).items())
            if option in LIFECYCLE_KEYS and value]


def immutable_differences(current, desired):
    """What the caller asks for that an existing file system cannot change.

    ``current`` is a DescribeFileSystems entry, ``desired`` has the module's option names
    (``None`` means "not managed"). Returns human-readable messages; empty when none.
    """
    problems = []
    if desired.get("encrypted") is not None and bool(current.get("Encrypted")) != desired["encrypted"]:
        problems.append("encrypted is %s on the existing file system, %s requested"
                        % (bool(current.get("Encrypted")), desired["encrypted"]))
    if desired.get("kms_key_arn") and current.get("KmsKeyId") and current["KmsKeyId"] != desired["kms_key_arn"]:
        problems.append("the file system is encrypted with %s, %s requested" % (current["KmsKeyId"], desired["kms_key_arn"]))
    if desired.get("performance_mode") and current.get("PerformanceMode") != desired["performance_mode"]:
        problems.append("performance_mode is %s on the existing file system, %s requested"
                        % (current.get("PerformanceMode"), desired["performance_mode"]))
    return problems


def throughput_update(current, desired):
    """Arguments for UpdateFileSystem, or None when the throughput settings already match."""
    mode = desired.get("throughput_mode")
    mibps = desired.get("provisioned_throughput_in_mibps")
    update = {}
    if mode and current.get("ThroughputMode") != mode:
        update["ThroughputMode"] = mode
    effective_mode = mode or current.get("ThroughputMode")
    if effective_mode == "provisioned" and mibps is not None:
        if float(current.get("ProvisionedThroughputInMibps") or 0) != float(mibps):
            update["ProvisionedThroughputInMibps"] = float(mibps)
    return update or None


def plan_mount_targets(current, desired, purge=True):
    """Decide which mount targets to create, delete, or give other security groups.

    ``current``: DescribeMountTargets entries, each with an added ``SecurityGroups`` list.
    ``desired``: dicts with ``subnet_id`` and optional ``security_groups``/``ip_address``.
    A mount target whose IP address differs from a requested one is replaced (the address is
    fixed at creation). Deletions come first in the result because EFS allows one mount target
    per availability zone, so moving to another subnet of the same zone needs the old one gone.
    """
    by_subnet = {mt["SubnetId"]: mt for mt in current}
    wanted = {}
    for target in desired:
        if target["subnet_id"] in wanted:
            raise EfsError("mount_targets: subnet %s is listed twice" % target["subnet_id"])
        wanted[target["subnet_id"]] = target
    plan = {"delete": [], "create": [], "security_groups": []}
    for subnet_id, mt in sorted(by_subnet.items()):
        target = wanted.get(subnet_id)
        if target is None:
            if purge:
                plan["delete"].append(mt)
            continue
        if target.get("ip_address") and target["ip_address"] != mt.get("IpAddress"):
            plan["delete"].append(mt)
            plan["create"].append(target)
            continue
        groups = target.get("security_groups")
        if groups is not None and sorted(groups) != sorted(mt.get("SecurityGroups") or []):
            plan["security_groups"].append((mt, sorted(groups)))
    for subnet_id, target in sorted(wanted.items()):
        if subnet_id not in by_subnet:
            plan["create"].append(target)
    return plan


def access_point_differences(current, posix_user, root_directory):
    """Differences in the settings an access point cannot change after it is created."""
    problems = []
    if posix_user is not None:
        want = {"Uid": posix_user["uid"], "Gid": posix_user["gid"]}
        have = {"Uid": (current.get("PosixUser") or {}).get("Uid"), "Gid": (current.get("PosixUser") or {}).get("Gid")}
        if want != have:
            problems.append("posix_user is %s:%s, %s:%s requested" % (have["Uid"], have["Gid"], want["Uid"], want["Gid"]))
        want_secondary = sorted(posix_user.get("secondary_gids") or [])
        have_secondary = sorted((current.get("PosixUser") or {}).get("SecondaryGids") or [])
        if want_secondary != have_secondary:
            problems.append("posix_user.secondary_gids is %s, %s requested" % (have_secondary, want_secondary))
    if root_directory is not None:
        have_root = current.get("RootDirectory") or {}
        if (root_directory.get("path") or "/") != (have_root.get("Path") or "/"):
            problems.append("root_directory.path is %s, %s requested" % (have_root.get("Path") or "/", root_directory.get("path")))
        info = root_directory.get("creation_info")
        have_info = have_root.get("CreationInfo") or {}
        if info:
            want_info = (info["owner_uid"], info["owner_gid"], normalize_permissions(info["permissions"]))
            have_tuple = (have_info.get("OwnerUid"), have_info.get("OwnerGid"), normalize_permissions(have_info.get("Permissions")))
            if want_info != have_tuple:
                problems.append("root_directory.creation_info is %s, %s requested" % (have_tuple, want_info))
    return problems


def normalize_permissions(value):
    """'755', '0755' and 755 all mean the same POSIX permissions: '0755' (EFS wants 3-4 octal digits)."""
    if value is None:
        return None
    text = str(value).strip()
    if not 3 <= len(text) <= 4 or any(c not in "01234567" for c in text):
        raise EfsError("permissions must be 3 or 4 octal digits such as 0755, got %r" % (value,))
    return text.rjust(4, "0")


def complete_policy(policy, file_system_arn):
    """The policy with the file system's ARN as Resource of every statement that names none.

    The ARN only exists once the file system does, so a policy written before (in a role's
    defaults, say) can leave Resource out. Statements that name a Resource keep it.
    """
    if policy is None:
        return None
    completed = dict(policy)
    statements = policy.get("Statement", [])
    single = isinstance(statements, dict)
    completed_statements = []
    for statement in [statements] if single else statements:
        statement = dict(statement)
        if "Resource" not in statement and "NotResource" not in statement:
            statement["Resource"] = file_system_arn
        completed_statements.append(statement)
    completed["Statement"] = completed_statements[0] if single else completed_statements
    return completed


def file_system_tags(name, tags):
    """The Name tag carries the module's name option; user tags come on top of it."""
    merged = dict(tags or {})
    merged["Name"] = name
    return merged


def policies_differ(current, desired):
    """True when the file system policy must be put (compare_policies ignores ordering)."""
    if desired is None:
        return False
    if current is None:
        return True
    return compare_policies(current, desired)


def describe_access_point(point, tags=None):
    """The module's view of an access point (snake_case keys, tags as a dict)."""
    posix = point.get("PosixUser") or {}
    root = point.get("RootDirectory") or {}
    info = root.get("CreationInfo") or {}
    return {
        "access_point_id": point.get("AccessPointId"),
        "access_point_arn": point.get("AccessPointArn"),
        "file_system_id": point.get("FileSystemId"),
        "name": point.get("Name"),
        "life_cycle_state": point.get("LifeCycleState"),
        "posix_user": {"uid": posix.get("Uid"), "gid": posix.get("Gid"),
                       "secondary_gids": posix.get("SecondaryGids") or []} if posix else None,
        "root_directory": {
            "path": root.get("Path") or "/",
            "creation_info": {"owner_uid": info.get("OwnerUid"), "owner_gid": info.get("OwnerGid"),
                              "permissions": info.get("Permissions")} if info else None,
        },
        "tags": tags if tags is not None else boto3_tag_list_to_ansible_dict(point.get("Tags") or []),
    }
