# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""rds_metadata in the layouts and life-cycle steps its molecule scenario does not run.

* Two instances (``rds_metadata_separate_instances``) with production's protections: deletion
  protection makes ``state: absent`` delete nothing at all; once it is turned off, ``absent``
  takes a final snapshot of each instance and keeps the KMS key the snapshots need, and the
  secrets stay restorable for their recovery window. AWS only
  (``rds_metadata_manage_kubernetes: false``).
* Rotation is explicit: naming ``airflow`` in ``rds_metadata_rotate_passwords`` gives Airflow's
  user a new password in Secrets Manager and in its Kubernetes Secret and runs a new database
  Job (the old one is removed), while MLflow's and the master password stay as they were.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys

import boto3
import pytest


def make_network(env, cluster, prefix):
    """What eks_cluster would have made, tagged the way the role finds it: a VPC, two private
    subnets in two zones and the nodes' security group (boto3: faster than modules)."""
    kwargs = dict(endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"],
                  aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    ec2 = boto3.client("ec2", **kwargs)
    cluster_tag = {"Key": "mlops.eks_platform/cluster", "Value": cluster}

    def tags(kind, *extra):
        return [{"ResourceType": kind, "Tags": [cluster_tag, *extra]}]

    vpc = ec2.create_vpc(CidrBlock=prefix + ".0.0/16", TagSpecifications=tags("vpc"))["Vpc"]["VpcId"]
    for index, zone in enumerate(("a", "b")):
        ec2.create_subnet(VpcId=vpc, CidrBlock="%s.%d.0/24" % (prefix, index + 1), AvailabilityZone="eu-west-1" + zone,
                          TagSpecifications=tags("subnet", {"Key": "mlops.eks_platform/tier", "Value": "private"}))
    ec2.create_security_group(GroupName=cluster + "-nodes", Description="nodes", VpcId=vpc,
                              TagSpecifications=tags("security-group", {"Key": "mlops.eks_platform/role", "Value": "node"}))


PROTECTED = r"""
- hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
    rds_metadata_cluster_name: rds-prod
    rds_metadata_separate_instances: true
    rds_metadata_manage_kubernetes: false
    platform_environment: production
  tasks:
    - name: Two instances with production's protections
      ansible.builtin.include_role:
        name: mlops.eks_platform.rds_metadata

    - name: Check what was published
      ansible.builtin.assert:
        that:
          - rds_metadata_info.instances | map(attribute='identifier') | list == ['rds-prod-metadata-airflow', 'rds-prod-metadata-mlflow']
          - rds_metadata_info.airflow.instance == 'rds-prod-metadata-airflow'
          - rds_metadata_info.mlflow.instance == 'rds-prod-metadata-mlflow'
          - rds_metadata_info.secrets_manager_arns.keys() | sort == ['airflow', 'master-airflow', 'master-mlflow', 'mlflow']
          - rds_metadata_info.kubernetes_secrets == {}

    - name: Try to remove them while deletion protection is on
      block:
        - name: Run with state absent
          ansible.builtin.include_role:
            name: mlops.eks_platform.rds_metadata
          vars:
            rds_metadata_state: absent
        - name: Not reached
          ansible.builtin.fail:
            msg: state absent deleted instances under deletion protection
      rescue:
        - name: Check the refusal
          ansible.builtin.assert:
            that:
              - "'Deletion protection is on for rds-prod-metadata-airflow, rds-prod-metadata-mlflow' in ansible_failed_result.msg"

    - name: Turn deletion protection off on purpose (what a run with rds_metadata_deletion_protection=false does)
      amazon.aws.rds_instance:
        db_instance_identifier: "{{ item }}"
        deletion_protection: false
        apply_immediately: true
      loop: [rds-prod-metadata-airflow, rds-prod-metadata-mlflow]

    - name: Remove them, with final snapshots
      ansible.builtin.include_role:
        name: mlops.eks_platform.rds_metadata
      vars:
        rds_metadata_state: absent
"""

ROTATION = r"""
- hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
    rds_metadata_cluster_name: rds-rotate
    rds_metadata_airflow_namespace: rotate-airflow
    rds_metadata_mlflow_namespace: rotate-mlflow
    rds_metadata_job_namespace: rotate-rds-metadata
  tasks:
    - name: Converge
      ansible.builtin.include_role:
        name: mlops.eks_platform.rds_metadata
"""


def playbook_argv(path, *extra):
    return [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
            *extra, str(path)]


@pytest.mark.aws
def test_deletion_protection_and_final_snapshots_of_two_instances(aws, run_cmd, tmp_path):
    make_network(aws.env, "rds-prod", "10.71")
    playbook = tmp_path / "protected.yml"
    playbook.write_text(PROTECTED)
    proc = run_cmd(playbook_argv(playbook), aws.env, check=False, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-8000:]

    rds = aws.client("rds")
    assert rds.describe_db_instances()["DBInstances"] == []
    snapshots = rds.describe_db_snapshots()["DBSnapshots"]
    assert sorted(s["DBInstanceIdentifier"] for s in snapshots) == ["rds-prod-metadata-airflow", "rds-prod-metadata-mlflow"]
    assert all(re.match(r"^rds-prod-metadata-(airflow|mlflow)-final-\d{14}$", s["DBSnapshotIdentifier"]) for s in snapshots)
    assert {s["Encrypted"] for s in snapshots} == {True}

    # The snapshots' key is kept; the secrets can still be restored for 30 days.
    kms = aws.client("kms")
    alias = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/rds-prod-rds-metadata"][0]
    key = kms.describe_key(KeyId=alias["TargetKeyId"])["KeyMetadata"]
    assert key["KeyState"] == "Enabled"
    assert {s["KmsKeyId"] for s in snapshots} == {key["Arn"]}
    secrets = aws.client("secretsmanager").list_secrets(IncludePlannedDeletion=True)["SecretList"]
    assert sorted(s["Name"] for s in secrets) == ["rds-prod/rds-metadata/" + n for n in
                                                  ("airflow", "master-airflow", "master-mlflow", "mlflow")]
    assert all(s.get("DeletedDate") for s in secrets)
    # Subnet group, parameter group and security group are gone.
    assert rds.describe_db_subnet_groups()["DBSubnetGroups"] == []
    assert [g for g in rds.describe_db_parameter_groups()["DBParameterGroups"] if g["DBParameterGroupName"].startswith("rds-prod")] == []
    groups = aws.client("ec2").describe_security_groups(Filters=[{"Name": "group-name", "Values": ["rds-prod-rds-metadata"]}])
    assert groups["SecurityGroups"] == []


def read_secret(env, name):
    client = boto3.client("secretsmanager", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"],
                          aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    return json.loads(client.get_secret_value(SecretId="rds-rotate/rds-metadata/" + name)["SecretString"])


@pytest.mark.aws
@pytest.mark.k8s
def test_rotation_is_explicit(local_stack, run_cmd, tmp_path):
    local_stack.aws.reset()
    kube = local_stack.kube
    make_network(local_stack.env, "rds-rotate", "10.72")
    playbook = tmp_path / "rotation.yml"
    playbook.write_text(ROTATION)
    try:
        first = run_cmd(playbook_argv(playbook), local_stack.env, check=False)
        assert first.returncode == 0, first.stdout[-8000:]
        before = {name: read_secret(local_stack.env, name) for name in ("master", "airflow", "mlflow")}
        jobs_before = json.loads(kube.kubectl("get", "jobs", "-n", "rotate-rds-metadata", "-o", "json").stdout)["items"]
        secret = json.loads(kube.kubectl("get", "secret", "-n", "rotate-airflow", "airflow-metadata", "-o", "json").stdout)

        rotated = run_cmd(playbook_argv(playbook, "-e", '{"rds_metadata_rotate_passwords": ["airflow"]}'),
                          local_stack.env, check=False)
        assert rotated.returncode == 0, rotated.stdout[-8000:]
        after = {name: read_secret(local_stack.env, name) for name in ("master", "airflow", "mlflow")}
        assert after["airflow"]["password"] != before["airflow"]["password"]
        assert after["master"] == before["master"]
        assert after["mlflow"] == before["mlflow"]
        for run in (first, rotated):
            assert all(p["password"] not in run.stdout for p in list(before.values()) + list(after.values()))

        jobs_after = json.loads(kube.kubectl("get", "jobs", "-n", "rotate-rds-metadata", "-o", "json").stdout)["items"]
        assert len(jobs_before) == len(jobs_after) == 1
        assert jobs_after[0]["metadata"]["name"] != jobs_before[0]["metadata"]["name"]
        secret_after = json.loads(kube.kubectl("get", "secret", "-n", "rotate-airflow", "airflow-metadata", "-o", "json").stdout)
        assert secret_after["data"]["connection"] != secret["data"]["connection"]
        assert (":%s@" % after["airflow"]["password"]) in base64.b64decode(secret_after["data"]["connection"]).decode()
    finally:
        kube.kubectl("delete", "namespace", "rotate-airflow", "rotate-mlflow", "rotate-rds-metadata",
                     "--ignore-not-found", "--wait=false", check=False)
