# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Amazon EFS through the current API, for the efs_file_system and efs_access_point modules.

``community.aws.efs`` still reads tags with the legacy ``DescribeTags`` operation (and writes
them with ``CreateTags``/``DeleteTags``), which AWS has deprecated and which current endpoints
and emulators no longer answer. Everything here uses the current operations instead:
``CreateFileSystem``/``CreateAccessPoint`` with ``Tags``, ``TagResource``,
``UntagResource`` and ``ListTagsForResource``, mount targets and their security groups,
``PutLifecycleConfiguration``, ``PutBackupPolicy``, ``PutFileSystemPolicy`` and
``UpdateFileSystem``.

The planning functions are pure (plain data in, plain data out) so they can be tested on their
own; :class:`EfsClient` is the only place that calls AWS.
"""

from __future__ import annotations

import json
import time
import uuid

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports a missing botocore

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.mlops.eks_platform.plugins.module_utils.retry import retry_decorator
from ansible_collections.mlops.eks_platform.plugins.module_utils.waiter import wait_until
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

# Option name -> the key of one element of LifecyclePolicies in the API.
LIFECYCLE_KEYS = {
    "transition_to_ia": "TransitionToIA",
    "transition_to_archive": "TransitionToArchive",
    "transition_to_primary_storage_class": "TransitionToPrimaryStorageClass",
}
TRANSITION_TO_IA_CHOICES = ["AFTER_1_DAY", "AFTER_7_DAYS", "AFTER_14_DAYS", "AFTER_30_DAYS", "AFTER_60_DAYS",
                            "AFTER_90_DAYS", "AFTER_180_DAYS", "AFTER_270_DAYS", "AFTER_365_DAYS"]
TRANSITION_TO_PRIMARY_CHOICES = ["AFTER_1_ACCESS"]
# Seconds between two polls of a wait: file systems, mount targets and access points settle in seconds.
POLL_DELAY = 5


class EfsError(Exception):
    """A request that cannot be carried out, with a message for the user."""


# --------------------------------------------------------------------------- pure planning


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


# --------------------------------------------------------------------------- AWS calls


class EfsClient:
    """The EFS (and, for key ARNs, KMS) calls the modules need, with retries and waits."""

    def __init__(self, module, poll_delay=POLL_DELAY, sleep=time.sleep, clock=time.monotonic):
        self.module = module
        self.client = module.client("efs", retry_decorator=retry_decorator())
        self.poll_delay = poll_delay
        self.sleep = sleep
        self.clock = clock

    # -- helpers
    def fail(self, e, msg):
        self.module.fail_json_aws(e, msg=msg)

    def _wait(self, what, probe, timeout):
        """Poll ``probe()`` every ``poll_delay`` seconds until it returns True; EfsError after ``timeout`` seconds."""
        wait_until(probe, bool, what, timeout, delay=self.poll_delay, error=EfsError, sleep=self.sleep, clock=self.clock)

    def resolve_kms_key_arn(self, key_id):
        """EFS reports the key as an ARN; an alias or key id is resolved to compare like with like."""
        if not key_id or key_id.startswith("arn:") and ":key/" in key_id:
            return key_id
        kms = self.module.client("kms", retry_decorator=retry_decorator())
        try:
            return kms.describe_key(KeyId=key_id, aws_retry=True)["KeyMetadata"]["Arn"]
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.fail(e, "Failed to resolve KMS key %s" % key_id)

    # -- file systems
    def find_file_system(self, creation_token=None, file_system_id=None):
        try:
            if file_system_id:
                response = self.client.describe_file_systems(FileSystemId=file_system_id, aws_retry=True)
            else:
                response = self.client.describe_file_systems(CreationToken=creation_token, aws_retry=True)
        except is_boto3_error_code("FileSystemNotFound"):
            return None
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
            self.fail(e, "Failed to describe the EFS file system")
        found = [fs for fs in response.get("FileSystems", []) if fs.get("LifeCycleState") not in ("deleted",)]
        return found[0] if found else None

    def wait_file_system(self, file_system_id, timeout):
        def available():
            fs = self.find_file_system(file_system_id=file_system_id)
            if fs is None or fs.get("LifeCycleState") == "error":
                raise EfsError("file system %s went into state error or disappeared" % file_system_id)
            return fs.get("LifeCycleState") == "available"
        self._wait("file system %s to become available" % file_system_id, available, timeout)

    def create_file_system(self, params):
        try:
            return self.client.create_file_system(aws_retry=True, **params)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.fail(e, "Failed to create the EFS file system")

    def update_file_system(self, file_system_id, update):
        try:
            self.client.update_file_system(FileSystemId=file_system_id, aws_retry=True, **update)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.fail(e, "Failed to update the throughput of file system %s" % file_system_id)

    def delete_file_system(self, file_system_id, timeout, wait):
        try:
            self.client.delete_file_system(FileSystemId=file_system_id, aws_retry=True)
        except is_boto3_error_code("FileSystemNotFound"):
            return
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
            self.fail(e, "Failed to delete file system %s" % file_system_id)
        if wait:
            self._wait("file system %s to be deleted" % file_system_id,
                       lambda: self.find_file_system(file_system_id=file_system_id) is None, timeout)

    # -- tags (current API)
    def list_tags(self, resource_id):
        tags = []
        params = {"ResourceId": resource_id}
        try:
            while True:
                response = self.client.list_tags_for_resource(aws_retry=True, **params)
                tags.extend(response.get("Tags", []))
                if not response.get("NextToken"):
                    break
                params["NextToken"] = response["NextToken"]
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.fail(e, "Failed to list the tags of %s" % resource_id)
        return boto3_tag_list_to_ansible_dict(tags)

    def ensure_tags(self, resource_id, current, desired, purge):
        """Tag and untag so the resource carries ``desired``; returns whether anything changed."""
        to_add, to_remove = compare_aws_tags(current, desired, purge)
        if not to_add and not to_remove:
            return False
        if self.module.check_mode:
            return True
        try:
            if to_remove:
                self.client.untag_resource(ResourceId=resource_id, TagKeys=to_remove, aws_retry=True)
            if to_add:
                self.client.tag_resource(ResourceId=resource_id, Tags=ansible_dict_to_boto3_tag_list(to_add),
                                         aws_retry=True)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.fail(e, "Failed to update the tags of %s" % resource_id)
        return True

    # -- lifecycle, backup, policy
    def get_lifecycle(self, file_system_id):
        try:
            response = self.client.describe_lifecycle_configuration(FileSystemId=file_system_id, aws_retry=True)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.fail(e, "Failed to describe the lifecycle configuration of %s" % file_system_id)
        return lifecycle_from_api(response.get("LifecyclePolicies"))

    def put_lifecycle(self, file_system_id, lifecycle):
        try:
            self.client.put_lifecycle_configuration(FileSystemId=file_system_id, aws_retry=True,
                                                    LifecyclePolicies=lifecycle_to_api(lifecycle))
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.fail(e, "Failed to put the lifecycle configuration of %s" % file_system_id)

    def get_backup(self, file_system_id):
        try:
            response = self.client.describe_backup_policy(FileSystemId=file_system_id, aws_retry=True)
        except is_boto3_error_code("PolicyNotFound"):
            return False
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
            self.fail(e, "Failed to describe the backup policy of %s" % file_system_id)
        return response.get("BackupPolicy", {}).get("Status") in ("ENABLED", "ENABLING")

    def put_backup(self, file_system_id, enabled):
        try:
            self.client.put_backup_policy(FileSystemId=file_system_id, aws_retry=True,
                                          BackupPolicy={"Status": "ENABLED" if enabled else "DISABLED"})
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.fail(e, "Failed to put the backup policy of %s" % file_system_id)

    def get_policy(self, file_system_id):
        try:
            response = self.client.describe_file_system_policy(FileSystemId=file_system_id, aws_retry=True)
        except is_boto3_error_code("PolicyNotFound"):
            return None
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
            self.fail(e, "Failed to describe the file system policy of %s" % file_system_id)
        policy = response.get("Policy")
        if isinstance(policy, str):
            policy = json.loads(policy)
        return policy

    def put_policy(self, file_system_id, policy):
        try:
            self.client.put_file_system_policy(FileSystemId=file_system_id, Policy=json.dumps(policy), aws_retry=True)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.fail(e, "Failed to put the file system policy of %s" % file_system_id)

    # -- mount targets
    def mount_targets(self, file_system_id):
        targets = []
        params = {"FileSystemId": file_system_id}
        try:
            while True:
                response = self.client.describe_mount_targets(aws_retry=True, **params)
                targets.extend(response.get("MountTargets", []))
                if not response.get("NextMarker"):
                    break
                params["Marker"] = response["NextMarker"]
            for target in targets:
                target["SecurityGroups"] = self.client.describe_mount_target_security_groups(
                    MountTargetId=target["MountTargetId"], aws_retry=True).get("SecurityGroups") or []
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.fail(e, "Failed to describe the mount targets of %s" % file_system_id)
        return [t for t in targets if t.get("LifeCycleState") != "deleted"]

    def create_mount_target(self, file_system_id, target):
        params = {"FileSystemId": file_system_id, "SubnetId": target["subnet_id"]}
        if target.get("security_groups") is not None:
            params["SecurityGroups"] = target["security_groups"]
        if target.get("ip_address"):
            params["IpAddress"] = target["ip_address"]
        try:
            return self.client.create_mount_target(aws_retry=True, **params)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.fail(e, "Failed to create a mount target of %s in %s" % (file_system_id, target["subnet_id"]))

    def set_mount_target_security_groups(self, mount_target_id, groups):
        try:
            self.client.modify_mount_target_security_groups(MountTargetId=mount_target_id, SecurityGroups=groups,
                                                            aws_retry=True)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.fail(e, "Failed to set the security groups of mount target %s" % mount_target_id)

    def delete_mount_target(self, mount_target_id):
        try:
            self.client.delete_mount_target(MountTargetId=mount_target_id, aws_retry=True)
        except is_boto3_error_code("MountTargetNotFound"):
            pass
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
            self.fail(e, "Failed to delete mount target %s" % mount_target_id)

    def wait_mount_targets(self, file_system_id, timeout, gone=()):
        """Until every mount target is available and those in ``gone`` have disappeared."""
        gone = set(gone)

        def settled():
            targets = self.mount_targets(file_system_id)
            if any(t["LifeCycleState"] == "error" for t in targets):
                raise EfsError("a mount target of %s went into state error" % file_system_id)
            return (all(t["LifeCycleState"] == "available" for t in targets if t["MountTargetId"] not in gone)
                    and not any(t["MountTargetId"] in gone for t in targets))
        self._wait("the mount targets of %s" % file_system_id, settled, timeout)

    # -- access points
    def access_points(self, file_system_id=None, access_point_id=None):
        points = []
        params = {"FileSystemId": file_system_id} if file_system_id else {"AccessPointId": access_point_id}
        try:
            while True:
                response = self.client.describe_access_points(aws_retry=True, **params)
                points.extend(response.get("AccessPoints", []))
                if not response.get("NextToken"):
                    break
                params["NextToken"] = response["NextToken"]
        except is_boto3_error_code(["AccessPointNotFound", "FileSystemNotFound"]):
            return []
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
            self.fail(e, "Failed to describe access points")
        return [p for p in points if p.get("LifeCycleState") not in ("deleted", "deleting")]

    def create_access_point(self, params):
        try:
            # A fresh token per call: the retries inside this call stay idempotent, and a name
            # can be reused after its access point was deleted.
            return self.client.create_access_point(ClientToken=str(uuid.uuid4()), aws_retry=True, **params)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.fail(e, "Failed to create the access point")

    def wait_access_point(self, access_point_id, timeout, gone=False):
        def settled():
            points = self.access_points(access_point_id=access_point_id)
            if gone:
                return not points
            if points and points[0].get("LifeCycleState") == "error":
                raise EfsError("access point %s went into state error" % access_point_id)
            return bool(points) and points[0].get("LifeCycleState") == "available"
        self._wait("access point %s" % access_point_id, settled, timeout)

    def delete_access_point(self, access_point_id):
        try:
            self.client.delete_access_point(AccessPointId=access_point_id, aws_retry=True)
        except is_boto3_error_code("AccessPointNotFound"):
            pass
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
            self.fail(e, "Failed to delete access point %s" % access_point_id)


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
