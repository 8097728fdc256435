# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""eks_cluster refuses bad input before any API call (AWS_ENDPOINT_URL points at a closed port)."""

from __future__ import annotations

import json
import os
import socket
import sys

import pytest

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  roles:
    - role: mlops.eks_platform.eks_cluster
"""


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("variables, message", [
    ({"eks_cluster_version": "1.3"}, "eks_cluster_version must be a quoted Kubernetes minor version"),
    ({"eks_cluster_nat_gateways": "two"}, "eks_cluster_nat_gateways"),
    ({"eks_cluster_core_min_size": 4},
     "eks_cluster_core_min_size (4), eks_cluster_core_desired_size (3) and eks_cluster_core_max_size (6) must satisfy"
     " the node group module's rule (desired_size 3 is outside min_size 4 and max_size 6)"),
    ({"eks_cluster_logging": ["api", "kubelet"]}, "eks_cluster_logging may only hold"),
    ({"eks_cluster_iam_role_prefix": "x" * 50}, "shorten eks_cluster_iam_role_prefix"),
])
def test_eks_cluster_refuses_bad_input_before_any_api_call(run_cmd, ansible_env, tmp_path, variables, message):
    playbook = tmp_path / "eks.yml"
    playbook.write_text(PLAYBOOK)
    env = dict(ansible_env, AWS_ENDPOINT_URL="http://127.0.0.1:%d" % closed_port(), AWS_REGION="eu-west-1",
               AWS_ACCESS_KEY_ID="AKIANOTUSED", AWS_SECRET_ACCESS_KEY="not-used")
    proc = run_cmd([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
                    "-e", json.dumps(variables), str(playbook)], env, check=False)
    out = " ".join(proc.stdout.split())
    assert proc.returncode != 0 and message in out, out[-3000:]
    assert "Look up the region's availability zones" not in out
