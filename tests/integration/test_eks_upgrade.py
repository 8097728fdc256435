# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A Kubernetes upgrade the way the eks_cluster role does it, over HTTP against the patched moto.

The role gives the same modules the new version: eks_control_plane upgrades one minor version at
a time, eks_addon moves each add-on to EKS's default for the new version, eks_managed_nodegroup
rolls the nodes. This test does it from 1.32 to 1.34 and checks what EKS recorded. It also runs
check mode, a second run (no change) and a refused downgrade, and it tests eks_kubeconfig's
kubeconfig merge. The molecule scenario runs the role itself at one version.
"""

from __future__ import annotations

import json
import os
import sys
import uuid

import pytest
import yaml

pytestmark = pytest.mark.aws

PLAYBOOK = r"""
- hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Control plane at 1.32 with API logging
      mlops.eks_platform.eks_control_plane:
        name: "{{ cluster }}"
        version: "1.32"
        role_arn: "{{ role_arn }}"
        subnets: "{{ subnets }}"
        logging: [api]

    - name: Add-ons at the 1.32 defaults
      mlops.eks_platform.eks_addon:
        cluster_name: "{{ cluster }}"
        name: "{{ item }}"
      loop: [kube-proxy, coredns]
      register: addons_before

    - name: A node group at the control plane's version
      mlops.eks_platform.eks_managed_nodegroup:
        cluster_name: "{{ cluster }}"
        name: core
        node_role: "{{ role_arn }}"
        subnets: "{{ subnets }}"
        instance_types: [m6i.large]
        ami_type: AL2023_x86_64_STANDARD
        min_size: 1
        max_size: 2
        version: "1.32"

    - name: Plan the upgrade to 1.34 in check mode
      mlops.eks_platform.eks_control_plane:
        name: "{{ cluster }}"
        version: "1.34"
        logging: [api, audit]
      check_mode: true
      register: planned

    - name: Upgrade to 1.34 and add audit logging
      mlops.eks_platform.eks_control_plane:
        name: "{{ cluster }}"
        version: "1.34"
        logging: [api, audit]
      register: upgraded

    - name: Run it again
      mlops.eks_platform.eks_control_plane:
        name: "{{ cluster }}"
        version: "1.34"
        logging: [api, audit]
      register: again

    - name: Add-ons follow the new version
      mlops.eks_platform.eks_addon:
        cluster_name: "{{ cluster }}"
        name: "{{ item }}"
      loop: [kube-proxy, coredns]
      register: addons_after

    - name: Nodes follow the control plane
      mlops.eks_platform.eks_managed_nodegroup:
        cluster_name: "{{ cluster }}"
        name: core
        min_size: 1
        max_size: 2
        version: "1.34"
      register: nodes_after

    - name: A downgrade is refused
      mlops.eks_platform.eks_control_plane:
        name: "{{ cluster }}"
        version: "1.33"
      register: downgrade
      ignore_errors: true

    - name: Check what happened
      ansible.builtin.assert:
        that:
          - addons_before.results | map(attribute='addon.addon_version') | list == ['v1.32.3-eksbuild.2', 'v1.11.4-eksbuild.14']
          - planned is changed
          - planned.actions == ['version 1.33', 'version 1.34', 'control plane logging']
          - planned.cluster.version == '1.32'
          - upgraded is changed
          - upgraded.actions == ['version 1.33', 'version 1.34', 'control plane logging']
          - upgraded.cluster.version == '1.34'
          - again is not changed
          - addons_after.results | map(attribute='addon.addon_version') | list == ['v1.34.3-eksbuild.2', 'v1.12.2-eksbuild.4']
          - addons_after.results | map(attribute='actions') | list
            == [['version v1.32.3-eksbuild.2 -> v1.34.3-eksbuild.2'], ['version v1.11.4-eksbuild.14 -> v1.12.2-eksbuild.4']]
          - nodes_after.actions == ['version 1.34']
          - nodes_after.nodegroup.version == '1.34'
          - downgrade is failed
          - "'can not be downgraded' in downgrade.msg"

    - name: Kubeconfig with a token, next to an entry that must survive
      mlops.eks_platform.eks_kubeconfig:
        cluster_name: "{{ cluster }}"
        path: "{{ kubeconfig }}"
        auth: token
      register: token_first

    - name: Again (the token is still fresh)
      mlops.eks_platform.eks_kubeconfig:
        cluster_name: "{{ cluster }}"
        path: "{{ kubeconfig }}"
        auth: token
      register: token_again

    - name: An exec entry under another name in the same file
      mlops.eks_platform.eks_kubeconfig:
        cluster_name: "{{ cluster }}"
        path: "{{ kubeconfig }}"
        alias: "{{ cluster }}-exec"
        exec_profile: platform-admin
        set_current_context: false
      register: exec_entry

    - name: Remove the exec entry
      mlops.eks_platform.eks_kubeconfig:
        cluster_name: "{{ cluster }}"
        path: "{{ kubeconfig }}"
        alias: "{{ cluster }}-exec"
        state: absent
      register: exec_removed

    - name: Check the kubeconfig runs
      ansible.builtin.assert:
        that:
          - token_first is changed
          - token_again is not changed
          - token_first.token_expires_at == token_again.token_expires_at
          - exec_entry is changed
          - exec_removed is changed
"""


def test_upgrade_one_minor_version_at_a_time_with_add_ons_and_nodes(aws, run_cmd, tmp_path):
    ec2, iam, eks = aws.client("ec2"), aws.client("iam"), aws.client("eks")
    cluster = "upgrade-" + uuid.uuid4().hex[:6]
    vpc = ec2.create_vpc(CidrBlock="10.11.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock="10.11.%d.0/24" % i, AvailabilityZone="eu-west-1" + z)
               ["Subnet"]["SubnetId"] for i, z in ((1, "a"), (2, "b"))]
    role_arn = iam.create_role(RoleName=cluster, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "other",
        "clusters": [{"name": "other", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "other", "user": {"token": "keep-me"}}],
        "contexts": [{"name": "other", "context": {"cluster": "other", "user": "other"}}]}))
    playbook = tmp_path / "upgrade.yml"
    playbook.write_text(PLAYBOOK)
    extra = {"cluster": cluster, "role_arn": role_arn, "subnets": subnets, "kubeconfig": str(kubeconfig)}
    proc = run_cmd([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
                    "-e", json.dumps(extra), str(playbook)], aws.env, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:]

    # EKS recorded two version updates, 1.33 then 1.34, and the logging update after them.
    updates = [eks.describe_update(name=cluster, updateId=u)["update"]
               for u in eks.list_updates(name=cluster)["updateIds"]]
    assert [(u["type"], [p["value"] for p in u["params"] if p["type"] == "Version"]) for u in updates] == [
        ("VersionUpdate", ["1.33"]), ("VersionUpdate", ["1.34"]), ("LoggingUpdate", [])]
    assert eks.describe_cluster(name=cluster)["cluster"]["version"] == "1.34"

    config = yaml.safe_load(kubeconfig.read_text())
    assert (kubeconfig.stat().st_mode & 0o777) == 0o600
    users = {u["name"]: u["user"] for u in config["users"]}
    servers = {c["name"]: c["cluster"]["server"] for c in config["clusters"]}
    assert sorted(servers) == sorted([cluster, "other"])
    assert users["other"] == {"token": "keep-me"}
    assert users[cluster]["token"].startswith("k8s-aws-v1.")
    assert config["current-context"] == cluster
    assert servers[cluster] == eks.describe_cluster(name=cluster)["cluster"]["endpoint"]
