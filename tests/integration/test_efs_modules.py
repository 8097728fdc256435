# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""efs_file_system and efs_access_point against the emulated EFS API (moto, patched).

One playbook walks both modules through their life: create with everything, a rerun and a
check-mode run that change nothing, updates of each managed setting, the refusals (a fixed
setting or an access point's identity cannot change in place), and deletion with its access
points and mount targets. The resulting AWS state is then read back with boto3.
"""

from __future__ import annotations

import os
import sys

import pytest

pytestmark = pytest.mark.aws

PLAYBOOK = r"""
- hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
    fs_args: &fs_args
      name: efs-test
      kms_key_id: alias/efs-test
      throughput_mode: bursting
      lifecycle: {transition_to_ia: AFTER_30_DAYS}
      backup: false
      policy:
        Version: "2012-10-17"
        Statement:
          - {Sid: DenyWithoutTLS, Effect: Deny, Principal: {AWS: "*"}, Action: "*",
             Condition: {Bool: {"aws:SecureTransport": "false"}}}
      mount_targets:
        - {subnet_id: "{{ subnet_a }}", security_groups: ["{{ sg_one }}"]}
        - {subnet_id: "{{ subnet_b }}", security_groups: ["{{ sg_one }}"]}
      tags: {Team: data}
    ap_args: &ap_args
      name: dags
      posix_user: {uid: 50000, gid: 0}
      root_directory:
        path: /airflow/dags
        creation_info: {owner_uid: 50000, owner_gid: 0, permissions: "755"}
  tasks:
    - name: Create
      mlops.eks_platform.efs_file_system: *fs_args
      register: created

    - name: Run again
      mlops.eks_platform.efs_file_system: *fs_args
      register: again

    - name: Run again in check mode
      mlops.eks_platform.efs_file_system: *fs_args
      check_mode: true
      register: checked

    - name: Check creation and idempotence
      ansible.builtin.assert:
        that:
          - created is changed
          - again is not changed
          - checked is not changed
          - created.file_system.encrypted
          - created.file_system.kms_key_id is match('^arn:aws:kms:')
          - created.file_system.lifecycle == dict(transition_to_ia='AFTER_30_DAYS')
          - not created.file_system.backup
          - created.file_system.policy.Statement[0].Resource == created.file_system.file_system_arn
          - created.file_system.mount_targets | length == 2
          - created.file_system.tags == dict(Name='efs-test', Team='data')
          - again.file_system.file_system_id == created.file_system.file_system_id

    - name: Change every managed setting (check mode first)
      mlops.eks_platform.efs_file_system:
        <<: *fs_args
        throughput_mode: elastic
        lifecycle: {transition_to_ia: AFTER_7_DAYS, transition_to_primary_storage_class: AFTER_1_ACCESS}
        backup: true
        mount_targets:
          - {subnet_id: "{{ subnet_a }}", security_groups: ["{{ sg_two }}"]}
        tags: {Team: ml}
      check_mode: true
      register: change_check

    - name: Check that check mode changed nothing
      mlops.eks_platform.efs_file_system: *fs_args
      register: after_check

    - name: Change every managed setting
      mlops.eks_platform.efs_file_system:
        <<: *fs_args
        throughput_mode: elastic
        lifecycle: {transition_to_ia: AFTER_7_DAYS, transition_to_primary_storage_class: AFTER_1_ACCESS}
        backup: true
        mount_targets:
          - {subnet_id: "{{ subnet_a }}", security_groups: ["{{ sg_two }}"]}
        tags: {Team: ml}
      register: changed_fs

    - name: Check the changes
      ansible.builtin.assert:
        that:
          - change_check is changed
          - after_check is not changed
          - changed_fs is changed
          - changed_fs.file_system.throughput_mode == 'elastic'
          - changed_fs.file_system.lifecycle == dict(transition_to_ia='AFTER_7_DAYS', transition_to_primary_storage_class='AFTER_1_ACCESS')
          - changed_fs.file_system.backup
          - changed_fs.file_system.mount_targets | map(attribute='subnet_id') | list == [subnet_a]
          - changed_fs.file_system.mount_targets[0].security_groups == [sg_two]
          - changed_fs.file_system.tags == dict(Name='efs-test', Team='ml')

    - name: Try to switch off encryption
      mlops.eks_platform.efs_file_system:
        name: efs-test
        encrypted: false
      register: unencrypted
      ignore_errors: true

    - name: Check the refusal
      ansible.builtin.assert:
        that:
          - unencrypted is failed
          - "'cannot be changed in place' in unencrypted.msg"
          - "'encrypted is True on the existing file system, False requested' in unencrypted.msg"

    - name: Create the access point
      mlops.eks_platform.efs_access_point:
        <<: *ap_args
        file_system_id: "{{ created.file_system.file_system_id }}"
        tags: {Team: data}
      register: ap

    - name: Run again
      mlops.eks_platform.efs_access_point:
        <<: *ap_args
        file_system_id: "{{ created.file_system.file_system_id }}"
        tags: {Team: data}
      register: ap_again

    - name: Change its tags
      mlops.eks_platform.efs_access_point:
        <<: *ap_args
        file_system_id: "{{ created.file_system.file_system_id }}"
        tags: {Team: ml}
      register: ap_tags

    - name: Try to change its user
      mlops.eks_platform.efs_access_point:
        <<: *ap_args
        file_system_id: "{{ created.file_system.file_system_id }}"
        posix_user: {uid: 1000, gid: 1000}
      register: ap_user
      ignore_errors: true

    - name: Check the access point
      ansible.builtin.assert:
        that:
          - ap is changed
          - ap.access_point.access_point_id is match('^fsap-')
          - ap.access_point.posix_user == dict(uid=50000, gid=0, secondary_gids=[])
          - ap.access_point.root_directory.creation_info.permissions == '0755'
          - ap.access_point.tags == dict(Name='dags', Team='data')
          - ap_again is not changed
          - ap_again.access_point.access_point_id == ap.access_point.access_point_id
          - ap_tags is changed
          - ap_tags.access_point.tags == dict(Name='dags', Team='ml')
          - ap_user is failed
          - "'posix_user is 50000:0, 1000:1000 requested' in ap_user.msg"

    - name: Delete the file system (its access point and mount target go first)
      mlops.eks_platform.efs_file_system:
        name: efs-test
        state: absent
      register: deleted

    - name: Delete it again
      mlops.eks_platform.efs_file_system:
        name: efs-test
        state: absent
      register: deleted_again

    - name: Check the deletion
      ansible.builtin.assert:
        that:
          - deleted is changed
          - deleted_again is not changed
"""


def test_efs_modules_life_cycle(aws, run_cmd, tmp_path):
    ec2 = aws.client("ec2")
    kms = aws.client("kms")
    vpc = ec2.create_vpc(CidrBlock="10.70.0.0/16")["Vpc"]["VpcId"]
    subnet_a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.70.1.0/24", AvailabilityZone="eu-west-1a")["Subnet"]["SubnetId"]
    subnet_b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.70.2.0/24", AvailabilityZone="eu-west-1b")["Subnet"]["SubnetId"]
    sg_one = ec2.create_security_group(GroupName="one", Description="one", VpcId=vpc)["GroupId"]
    sg_two = ec2.create_security_group(GroupName="two", Description="two", VpcId=vpc)["GroupId"]
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/efs-test", TargetKeyId=key["KeyId"])

    playbook = tmp_path / "efs.yml"
    playbook.write_text(PLAYBOOK)
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
            "-e", "subnet_a=%s subnet_b=%s sg_one=%s sg_two=%s" % (subnet_a, subnet_b, sg_one, sg_two), str(playbook)]
    proc = run_cmd(argv, aws.env, check=False)
    assert proc.returncode == 0, proc.stdout[-8000:]

    efs = aws.client("efs")
    assert efs.describe_file_systems()["FileSystems"] == []
    assert efs.describe_access_points()["AccessPoints"] == []
    # The mount targets' network interfaces went with them.
    assert ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NetworkInterfaces"] == []


def test_file_system_with_access_points_is_not_deleted_behind_the_modules_back(aws):
    """The emulator refuses what AWS refuses (tests/tools/moto_patches/efs_delete_access_points.py)."""
    efs = aws.client("efs")
    fs_id = efs.create_file_system(CreationToken="guard")["FileSystemId"]
    efs.create_access_point(FileSystemId=fs_id, ClientToken="guard")
    with pytest.raises(efs.exceptions.FileSystemInUse):
        efs.delete_file_system(FileSystemId=fs_id)
