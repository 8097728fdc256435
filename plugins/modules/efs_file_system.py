#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: efs_file_system
short_description: Manage an Amazon EFS file system, its mount targets, lifecycle, backup and policy
version_added: 0.1.0
description:
  - Creates, updates or deletes an encrypted Amazon EFS file system together with what makes it
    usable from a VPC and what protects it, in one idempotent task; the mount targets (one per
    subnet, each with its security groups), the lifecycle configuration, automatic backups, the
    file system policy and tags.
  - This module fills a gap in M(community.aws.efs). That module reads and writes tags with the
    legacy EFS C(DescribeTags), C(CreateTags) and C(DeleteTags) operations, which AWS has
    deprecated and which current endpoints and emulators no longer answer, so it fails on every
    run. It also cannot switch automatic backups on or off, and it has no file system policy.
    This module only uses the current API. Tags go through C(CreateFileSystem) with C(Tags),
    C(TagResource), C(UntagResource) and C(ListTagsForResource). It also uses
    C(PutBackupPolicy), C(PutFileSystemPolicy), C(PutLifecycleConfiguration),
    C(UpdateFileSystem) and the mount target operations, with retries on throttling.
  - The file system is found by its creation token (O(creation_token), by default O(name)), the
    idempotency key EFS itself provides. O(name) is also written as the C(Name) tag.
  - Encryption, the KMS key and the performance mode are fixed when a file system is created.
    When an existing file system differs in one of them, the module fails and says which, rather
    than deleting data.
  - With O(state=absent), the access points and mount targets of the file system are deleted
    first, as EFS requires, then the file system.
author:
  - mlops.eks_platform maintainers (@mlops)
options:
  name:
    description:
      - Name of the file system, stored as its C(Name) tag.
      - Also the creation token unless O(creation_token) is given.
    type: str
    required: true
  creation_token:
    description:
      - The creation token (1 to 64 characters) that identifies the file system. Defaults to O(name).
    type: str
  state:
    description:
      - V(present) creates or updates the file system, V(absent) deletes it with its mount targets
        and access points.
    type: str
    choices: [present, absent]
    default: present
  encrypted:
    description:
      - Whether the file system is encrypted at rest. Only used when the file system is created;
        a difference on an existing file system is an error.
    type: bool
    default: true
  kms_key_id:
    description:
      - KMS key for encryption at rest, as a key ARN, key id, alias name or alias ARN. The AWS
        managed key C(aws/elasticfilesystem) is used when omitted.
      - Compared as a key ARN with the key of an existing file system. A key id or alias is
        resolved with C(kms:DescribeKey) for that.
    type: str
  performance_mode:
    description:
      - Performance mode, fixed at creation.
    type: str
    choices: [generalPurpose, maxIO]
    default: generalPurpose
  throughput_mode:
    description:
      - Throughput mode. When omitted, it is left as it is (EFS creates V(bursting) file systems).
    type: str
    choices: [bursting, provisioned, elastic]
  provisioned_throughput_in_mibps:
    description:
      - Provisioned throughput in MiB/s. Required with O(throughput_mode=provisioned).
    type: float
  lifecycle:
    description:
      - The lifecycle configuration, as a whole. Transitions left out are removed, and an empty
        dictionary removes every transition.
      - When omitted, the lifecycle configuration is not managed.
    type: dict
    suboptions:
      transition_to_ia:
        description: When files move to Infrequent Access storage.
        type: str
        choices: [AFTER_1_DAY, AFTER_7_DAYS, AFTER_14_DAYS, AFTER_30_DAYS, AFTER_60_DAYS, AFTER_90_DAYS,
                  AFTER_180_DAYS, AFTER_270_DAYS, AFTER_365_DAYS]
      transition_to_archive:
        description: When files move to Archive storage (needs O(throughput_mode=elastic)).
        type: str
        choices: [AFTER_1_DAY, AFTER_7_DAYS, AFTER_14_DAYS, AFTER_30_DAYS, AFTER_60_DAYS, AFTER_90_DAYS,
                  AFTER_180_DAYS, AFTER_270_DAYS, AFTER_365_DAYS]
      transition_to_primary_storage_class:
        description: Move a file back to Standard storage on its first access.
        type: str
        choices: [AFTER_1_ACCESS]
  backup:
    description:
      - Whether AWS Backup takes automatic daily backups of the file system (C(PutBackupPolicy)).
      - When omitted, the backup policy is not managed.
    type: bool
  policy:
    description:
      - The file system policy (a resource policy, JSON), for example one that denies access
        without TLS (C(aws:SecureTransport)). Compared without regard to ordering.
      - A statement without C(Resource) (or C(NotResource)) gets the file system's ARN, which
        does not exist before the file system does.
      - When omitted, the policy is not managed.
    type: json
  mount_targets:
    description:
      - The mount targets, one per subnet and at most one per availability zone.
      - When omitted, mount targets are not managed.
    type: list
    elements: dict
    suboptions:
      subnet_id:
        description: The subnet of the mount target.
        type: str
        required: true
      security_groups:
        description:
          - Security groups of the mount target's network interface (at most 5). When omitted,
            EFS uses the VPC's default security group at creation and the groups are not managed.
        type: list
        elements: str
      ip_address:
        description:
          - A fixed IPv4 address in the subnet. A mount target with another address is replaced.
        type: str
  purge_mount_targets:
    description:
      - Whether mount targets in subnets not listed in O(mount_targets) are deleted.
    type: bool
    default: true
  wait:
    description:
      - Whether to wait until mount targets are available and deleted resources are gone.
      - The module always waits for a new file system to become available, and for deleted mount
        targets to be gone before it deletes a file system.
    type: bool
    default: true
  wait_timeout:
    description: How long to wait, in seconds, for each resource.
    type: int
    default: 600
  wait_interval:
    description:
      - Seconds between two status polls while waiting.
    type: int
    default: 5
extends_documentation_fragment:
  - mlops.eks_platform.attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
attributes:
  check_mode:
    support: full
    details:
      - In check mode the returned O(name) description is the current state, not the planned one.
  diff_mode:
    support: none
notes:
  - The module needs C(elasticfilesystem:*) on the file system, C(ec2:DescribeSubnets),
    C(ec2:CreateNetworkInterface) and C(ec2:DescribeNetworkInterfaces) for mount targets, and
    C(kms:DescribeKey) when O(kms_key_id) is not an ARN.
seealso:
  - module: mlops.eks_platform.efs_access_point
  - module: community.aws.efs
    description: The community module this one replaces, which depends on the legacy tag API.
"""

EXAMPLES = r"""
- name: An encrypted file system for Airflow DAGs, reachable from the private subnets
  mlops.eks_platform.efs_file_system:
    name: mlops-dags
    kms_key_id: "{{ efs_key.key_arn }}"
    throughput_mode: elastic
    lifecycle:
      transition_to_ia: AFTER_30_DAYS
      transition_to_primary_storage_class: AFTER_1_ACCESS
    backup: true
    policy:
      Version: "2012-10-17"
      Statement:
        - Sid: DenyWithoutTLS
          Effect: Deny
          Principal: {AWS: "*"}
          Action: "*"
          # No Resource: the module fills in the file system's ARN.
          Condition: {Bool: {"aws:SecureTransport": "false"}}
    mount_targets: "{{ private_subnet_ids | map('community.general.dict_kv', 'subnet_id')
                       | map('combine', {'security_groups': [efs_sg.group_id]}) | list }}"
    tags:
      Environment: production
  register: dags_fs

- name: Delete it with its access points and mount targets
  mlops.eks_platform.efs_file_system:
    name: mlops-dags
    state: absent
"""

RETURN = r"""
file_system:
  description:
    - The file system after the task. With O(state=absent), or in check mode before the file system exists, an empty dictionary.
  returned: always
  type: dict
  contains:
    file_system_id:
      description: Id of the file system.
      type: str
      sample: fs-0123456789abcdef0
    file_system_arn:
      description: ARN of the file system.
      type: str
      sample: arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-0123456789abcdef0
    creation_token:
      description: The creation token.
      type: str
      sample: mlops-dags
    name:
      description: Value of the C(Name) tag.
      type: str
      sample: mlops-dags
    dns_name:
      description: The file system's DNS name in its region.
      type: str
      sample: fs-0123456789abcdef0.efs.eu-west-1.amazonaws.com
    encrypted:
      description: Whether the file system is encrypted at rest.
      type: bool
      sample: true
    kms_key_id:
      description: ARN of the KMS key that encrypts the file system.
      type: str
      sample: arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
    performance_mode:
      description: Performance mode.
      type: str
      sample: generalPurpose
    throughput_mode:
      description: Throughput mode.
      type: str
      sample: elastic
    provisioned_throughput_in_mibps:
      description: Provisioned throughput, when O(throughput_mode=provisioned).
      type: float
      sample: 64.0
    life_cycle_state:
      description: State of the file system.
      type: str
      sample: available
    number_of_mount_targets:
      description: Number of mount targets.
      type: int
      sample: 3
    lifecycle:
      description: The lifecycle transitions that are set, keyed like O(lifecycle).
      type: dict
      sample: {transition_to_ia: AFTER_30_DAYS}
    backup:
      description: Whether automatic backups are enabled.
      type: bool
      sample: true
    policy:
      description: The file system policy, or V(null) when the default policy applies.
      type: dict
    mount_targets:
      description: The mount targets.
      type: list
      elements: dict
      contains:
        mount_target_id:
          description: Id of the mount target.
          type: str
          sample: fsmt-0123456789abcdef0
        subnet_id:
          description: Its subnet.
          type: str
          sample: subnet-0123456789abcdef0
        availability_zone_name:
          description: Its availability zone.
          type: str
          sample: eu-west-1a
        ip_address:
          description: Its IPv4 address.
          type: str
          sample: 10.0.1.25
        security_groups:
          description: Security groups of its network interface.
          type: list
          elements: str
          sample: [sg-0123456789abcdef0]
        network_interface_id:
          description: Its network interface.
          type: str
          sample: eni-0123456789abcdef0
        life_cycle_state:
          description: Its state.
          type: str
          sample: available
    tags:
      description: Tags of the file system.
      type: dict
      sample: {Name: mlops-dags, Environment: production}
"""

import json

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.mlops.eks_platform.plugins.module_utils.efs.api import EfsClient
from ansible_collections.mlops.eks_platform.plugins.module_utils.efs.resources import EfsError
from ansible_collections.mlops.eks_platform.plugins.module_utils.efs.resources import TRANSITION_TO_IA_CHOICES
from ansible_collections.mlops.eks_platform.plugins.module_utils.efs.resources import TRANSITION_TO_PRIMARY_CHOICES
from ansible_collections.mlops.eks_platform.plugins.module_utils.efs.resources import complete_policy
from ansible_collections.mlops.eks_platform.plugins.module_utils.efs.resources import file_system_tags
from ansible_collections.mlops.eks_platform.plugins.module_utils.efs.resources import immutable_differences
from ansible_collections.mlops.eks_platform.plugins.module_utils.efs.resources import plan_mount_targets
from ansible_collections.mlops.eks_platform.plugins.module_utils.efs.resources import policies_differ
from ansible_collections.mlops.eks_platform.plugins.module_utils.efs.resources import throughput_update


def describe(efs, file_system_id, region):
    fs = efs.find_file_system(file_system_id=file_system_id)
    if fs is None:
        return {}
    tags = efs.list_tags(file_system_id)
    return {
        "file_system_id": fs["FileSystemId"],
        "file_system_arn": fs.get("FileSystemArn"),
        "creation_token": fs.get("CreationToken"),
        "name": tags.get("Name", fs.get("Name")),
        "dns_name": "%s.efs.%s.amazonaws.com" % (fs["FileSystemId"], region),
        "encrypted": bool(fs.get("Encrypted")),
        "kms_key_id": fs.get("KmsKeyId"),
        "performance_mode": fs.get("PerformanceMode"),
        "throughput_mode": fs.get("ThroughputMode"),
        "provisioned_throughput_in_mibps": fs.get("ProvisionedThroughputInMibps"),
        "life_cycle_state": fs.get("LifeCycleState"),
        "number_of_mount_targets": fs.get("NumberOfMountTargets"),
        "lifecycle": efs.get_lifecycle(file_system_id),
        "backup": efs.get_backup(file_system_id),
        "policy": efs.get_policy(file_system_id),
        "mount_targets": [
            {
                "mount_target_id": mt["MountTargetId"],
                "subnet_id": mt.get("SubnetId"),
                "availability_zone_name": mt.get("AvailabilityZoneName"),
                "ip_address": mt.get("IpAddress"),
                "security_groups": sorted(mt.get("SecurityGroups") or []),
                "network_interface_id": mt.get("NetworkInterfaceId"),
                "life_cycle_state": mt.get("LifeCycleState"),
            }
            for mt in sorted(efs.mount_targets(file_system_id), key=lambda m: m.get("SubnetId") or "")
        ],
        "tags": tags,
    }


def ensure_absent(module, efs, fs):
    if fs is None:
        module.exit_json(changed=False, file_system={})
    if module.check_mode:
        module.exit_json(changed=True, file_system={})
    fs_id = fs["FileSystemId"]
    timeout = module.params["wait_timeout"]
    for point in efs.access_points(file_system_id=fs_id):
        efs.delete_access_point(point["AccessPointId"])
        efs.wait_access_point(point["AccessPointId"], timeout, gone=True)
    targets = efs.mount_targets(fs_id)
    for target in targets:
        efs.delete_mount_target(target["MountTargetId"])
    if targets:
        efs.wait_mount_targets(fs_id, timeout, gone=[t["MountTargetId"] for t in targets])
    efs.delete_file_system(fs_id, timeout, module.params["wait"])
    module.exit_json(changed=True, file_system={})


def ensure_present(module, efs, fs, token):
    params = module.params
    timeout = params["wait_timeout"]
    kms_key_arn = efs.resolve_kms_key_arn(params["kms_key_id"])
    policy = json.loads(params["policy"]) if params["policy"] else None
    lifecycle = None
    if params["lifecycle"] is not None:
        lifecycle = {k: v for k, v in params["lifecycle"].items() if v}
    desired_tags = file_system_tags(params["name"], params["tags"])
    changed = False

    if fs is None:
        if module.check_mode:
            module.exit_json(changed=True, file_system={})
        create = {
            "CreationToken": token,
            "PerformanceMode": params["performance_mode"],
            "Encrypted": params["encrypted"],
            "Tags": [{"Key": k, "Value": v} for k, v in sorted(desired_tags.items())],
        }
        if kms_key_arn:
            create["KmsKeyId"] = kms_key_arn
        if params["throughput_mode"]:
            create["ThroughputMode"] = params["throughput_mode"]
        if params["throughput_mode"] == "provisioned":
            create["ProvisionedThroughputInMibps"] = params["provisioned_throughput_in_mibps"]
        if params["backup"] is not None:
            create["Backup"] = params["backup"]
        created = efs.create_file_system(create)
        fs_id = created["FileSystemId"]
        efs.wait_file_system(fs_id, timeout)
        fs = efs.find_file_system(file_system_id=fs_id)
        changed = True
    else:
        fs_id = fs["FileSystemId"]
        problems = immutable_differences(fs, {
            "encrypted": params["encrypted"],
            "kms_key_arn": kms_key_arn,
            "performance_mode": params["performance_mode"],
        })
        if problems:
            module.fail_json(msg="File system %s (creation token %s) cannot be changed in place: %s. These are fixed when a "
                                 "file system is created; use another name or creation_token for a new one."
                                 % (fs_id, token, "; ".join(problems)))
        update = throughput_update(fs, params)
        if update:
            changed = True
            if not module.check_mode:
                efs.update_file_system(fs_id, update)

    purge_tags = params["purge_tags"] if params["tags"] is not None else False
    changed |= efs.ensure_tags(fs_id, efs.list_tags(fs_id), desired_tags, purge_tags)

    if lifecycle is not None and efs.get_lifecycle(fs_id) != lifecycle:
        changed = True
        if not module.check_mode:
            efs.put_lifecycle(fs_id, lifecycle)

    if params["backup"] is not None and efs.get_backup(fs_id) != params["backup"]:
        changed = True
        if not module.check_mode:
            efs.put_backup(fs_id, params["backup"])

    policy = complete_policy(policy, fs["FileSystemArn"])
    if policies_differ(efs.get_policy(fs_id), policy):
        changed = True
        if not module.check_mode:
            efs.put_policy(fs_id, policy)

    if params["mount_targets"] is not None:
        plan = plan_mount_targets(efs.mount_targets(fs_id), params["mount_targets"], params["purge_mount_targets"])
        if plan["delete"] or plan["create"] or plan["security_groups"]:
            changed = True
        if not module.check_mode:
            for target in plan["delete"]:
                efs.delete_mount_target(target["MountTargetId"])
            if plan["delete"]:
                # One mount target per zone: a replacement waits for its predecessor to be gone.
                efs.wait_mount_targets(fs_id, timeout, gone=[t["MountTargetId"] for t in plan["delete"]])
            for target in plan["create"]:
                efs.create_mount_target(fs_id, target)
            for target, groups in plan["security_groups"]:
                efs.set_mount_target_security_groups(target["MountTargetId"], groups)
            if plan["create"] and params["wait"]:
                efs.wait_mount_targets(fs_id, timeout)

    module.exit_json(changed=changed, file_system=describe(efs, fs_id, module.region))


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        creation_token=dict(type="str", no_log=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        encrypted=dict(type="bool", default=True),
        kms_key_id=dict(type="str"),
        performance_mode=dict(type="str", default="generalPurpose", choices=["generalPurpose", "maxIO"]),
        throughput_mode=dict(type="str", choices=["bursting", "provisioned", "elastic"]),
        provisioned_throughput_in_mibps=dict(type="float"),
        lifecycle=dict(type="dict", options=dict(
            transition_to_ia=dict(type="str", choices=TRANSITION_TO_IA_CHOICES),
            transition_to_archive=dict(type="str", choices=TRANSITION_TO_IA_CHOICES),
            transition_to_primary_storage_class=dict(type="str", choices=TRANSITION_TO_PRIMARY_CHOICES),
        )),
        backup=dict(type="bool"),
        policy=dict(type="json"),
        mount_targets=dict(type="list", elements="dict", options=dict(
            subnet_id=dict(type="str", required=True),
            security_groups=dict(type="list", elements="str"),
            ip_address=dict(type="str"),
        )),
        purge_mount_targets=dict(type="bool", default=True),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=600),
        wait_interval=dict(type="int", default=5),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("throughput_mode", "provisioned", ["provisioned_throughput_in_mibps"])],
    )
    token = module.params["creation_token"] or module.params["name"]
    if not 1 <= len(token) <= 64:
        module.fail_json(msg="creation_token (or name) must be 1 to 64 characters, got %d" % len(token))
    if not module.params["encrypted"] and module.params["kms_key_id"]:
        module.fail_json(msg="kms_key_id needs encrypted=true")

    efs = EfsClient(module, poll_delay=module.params["wait_interval"])
    try:
        fs = efs.find_file_system(creation_token=token)
        if module.params["state"] == "absent":
            ensure_absent(module, efs, fs)
        else:
            ensure_present(module, efs, fs, token)
    except EfsError as e:
        module.fail_json(msg=str(e))


if __name__ == "__main__":
    main()
