# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Kubernetes half of efs_dags in what its molecule scenario (static volumes) does not run.

Only the role's kubernetes.yml runs here (``tasks_from``), against the local control plane,
with the file system and access point ids the AWS half would have found:

* dynamic provisioning: the StorageClass carries the file system and the Airflow user's
  identity for the EFS CSI driver, the claim names no volume, and no PersistentVolume is made;
* a StorageClass whose fixed fields differ (another file system) is replaced, not patched (the
  API server refuses to change them);
* static volumes whose access point changed are refused with an explanation, not rewritten.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

pytestmark = pytest.mark.k8s

PLAYBOOK = r"""
- hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
    efs_dags_namespace: volumes-test
    efs_dags_storage_class: volumes-test-sc
    efs_dags_provisioning: "{{ provisioning }}"
    _efs_dags_fs: {file_system: {file_system_id: "{{ fs_id }}"}}
    _efs_dags_access_point_ids: {dags: "{{ ap_id }}"}
  tasks:
    - name: The role's Kubernetes half
      ansible.builtin.include_role:
        name: mlops.eks_platform.efs_dags
        tasks_from: kubernetes.yml
"""


def run_playbook(run_cmd, kube, path, check=True, **extra):
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
            "-e", json.dumps(extra), str(path)]
    return run_cmd(argv, kube.env, check=check)


def get(kube, *args):
    return json.loads(kube.kubectl("get", *args, "-o", "json").stdout)


def test_dynamic_provisioning_then_storage_class_replacement(kube_cluster, run_cmd, tmp_path):
    playbook = tmp_path / "volumes.yml"
    playbook.write_text(PLAYBOOK)
    try:
        run_playbook(run_cmd, kube_cluster, playbook, provisioning="dynamic", fs_id="fs-0123456789abcdef0", ap_id="")
        sc = get(kube_cluster, "storageclass", "volumes-test-sc")
        assert sc["provisioner"] == "efs.csi.aws.com"
        assert sc["parameters"] == {"provisioningMode": "efs-ap", "fileSystemId": "fs-0123456789abcdef0",
                                    "directoryPerms": "755", "uid": "50000", "gid": "0", "basePath": "/airflow/dynamic"}
        assert sc["mountOptions"] == ["tls"]
        assert sc["reclaimPolicy"] == "Retain"
        pvc = get(kube_cluster, "pvc", "-n", "volumes-test", "airflow-dags")
        assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
        assert pvc["spec"]["storageClassName"] == "volumes-test-sc"
        assert "volumeName" not in pvc["spec"], "a dynamic claim is provisioned by the driver"
        pvs = get(kube_cluster, "pv", "-l", "app.kubernetes.io/name=efs-dags,app.kubernetes.io/instance=volumes-test")
        assert pvs["items"] == []
        uid = sc["metadata"]["uid"]

        # Another file system: the StorageClass's parameters are fixed, so it is replaced.
        run_playbook(run_cmd, kube_cluster, playbook, provisioning="dynamic", fs_id="fs-0fedcba9876543210", ap_id="")
        sc = get(kube_cluster, "storageclass", "volumes-test-sc")
        assert sc["parameters"]["fileSystemId"] == "fs-0fedcba9876543210"
        assert sc["metadata"]["uid"] != uid
    finally:
        kube_cluster.kubectl("delete", "namespace", "volumes-test", "--ignore-not-found", "--wait=false", check=False)
        kube_cluster.kubectl("delete", "storageclass", "volumes-test-sc", "--ignore-not-found", check=False)


def test_static_volume_on_another_access_point_is_refused(kube_cluster, run_cmd, tmp_path):
    playbook = tmp_path / "volumes.yml"
    playbook.write_text(PLAYBOOK.replace("volumes-test", "volumes-static"))
    try:
        run_playbook(run_cmd, kube_cluster, playbook, provisioning="static", fs_id="fs-0123456789abcdef0",
                     ap_id="fsap-0123456789abcdef0")
        pv = get(kube_cluster, "pv", "volumes-static-airflow-dags")
        assert pv["spec"]["csi"]["volumeHandle"] == "fs-0123456789abcdef0::fsap-0123456789abcdef0"
        assert pv["spec"]["claimRef"]["name"] == "airflow-dags"
        pvc = get(kube_cluster, "pvc", "-n", "volumes-static", "airflow-dags")
        assert pvc["status"]["phase"] == "Bound"

        proc = run_playbook(run_cmd, kube_cluster, playbook, check=False, provisioning="static",
                            fs_id="fs-0123456789abcdef0", ap_id="fsap-0fedcba9876543210")
        assert proc.returncode != 0
        assert "PersistentVolume(s) volumes-static-airflow-dags point at another file system or access point" in proc.stdout
        pv = get(kube_cluster, "pv", "volumes-static-airflow-dags")
        assert pv["spec"]["csi"]["volumeHandle"] == "fs-0123456789abcdef0::fsap-0123456789abcdef0"
    finally:
        kube_cluster.kubectl("delete", "namespace", "volumes-static", "--ignore-not-found", "--wait=false", check=False)
        kube_cluster.kubectl("delete", "pv", "volumes-static-airflow-dags", "--ignore-not-found", "--wait=false", check=False)
        kube_cluster.kubectl("delete", "storageclass", "volumes-static-sc", "--ignore-not-found", check=False)
