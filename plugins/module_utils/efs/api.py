# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The EFS calls of the efs_file_system and efs_access_point modules, with retries and waits.

``community.aws.efs`` still reads tags with the legacy ``DescribeTags`` operation (and writes
them with ``CreateTags``/``DeleteTags``), which AWS has deprecated and which current endpoints
and emulators no longer answer. Everything here uses the current operations instead:
``CreateFileSystem``/``CreateAccessPoint`` with ``Tags``, ``TagResource``,
``UntagResource`` and ``ListTagsForResource``, mount targets and their security groups,
``PutLifecycleConfiguration``, ``PutBackupPolicy``, ``PutFileSystemPolicy`` and
``UpdateFileSystem``. :class:`EfsClient` is the only place that calls AWS; its waits go through
the collection's waiter (module_utils/waiter.py).
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
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags
from ansible_collections.mlops.eks_platform.plugins.module_utils.efs.resources import EfsError
from ansible_collections.mlops.eks_platform.plugins.module_utils.efs.resources import lifecycle_from_api
from ansible_collections.mlops.eks_platform.plugins.module_utils.efs.resources import lifecycle_to_api
from ansible_collections.mlops.eks_platform.plugins.module_utils.retry import retry_decorator
from ansible_collections.mlops.eks_platform.plugins.module_utils.waiter import wait_until

# Seconds between two polls of a wait: file systems, mount targets and access points settle in seconds.
POLL_DELAY = 5


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
