# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""gpu_nodes refuses bad node groups before any API call.

The role runs with AWS_ENDPOINT_URL pointing at a closed port and no KUBECONFIG. A check that let
bad input through would fail later with a connection error, not with the message the validation
task gives, and the test would notice. No server is needed.
"""

from __future__ import annotations

import json
import os
import socket
import sys

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  roles:
    - role: mlops.eks_platform.gpu_nodes
"""


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_role(run_cmd, ansible_env, tmp_path, groups, **extra):
    playbook = tmp_path / "gpu.yml"
    playbook.write_text(PLAYBOOK)
    env = dict(ansible_env, AWS_ENDPOINT_URL="http://127.0.0.1:%d" % closed_port(), AWS_REGION="eu-west-1",
               AWS_ACCESS_KEY_ID="AKIANOTUSED", AWS_SECRET_ACCESS_KEY="not-used")
    variables = dict({"gpu_nodes_cluster_name": "validation", "gpu_nodes_groups": groups}, **extra)
    return run_cmd([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
                    "-e", json.dumps(variables), str(playbook)], env, check=False)


def test_bad_groups_are_refused_with_every_problem_named(run_cmd, ansible_env, tmp_path):
    groups = [
        # A CPU instance type.
        {"name": "cpu", "instance_types": ["m6i.xlarge"], "ami_type": "AL2023_x86_64_NVIDIA", "max_size": 2},
        # AMD GPUs (g4ad) and Inferentia are not NVIDIA GPUs.
        {"name": "amd", "instance_types": ["g4ad.xlarge", "inf2.xlarge"], "ami_type": "AL2023_x86_64_NVIDIA",
         "max_size": 2},
        # g5g is Graviton (arm64): an x86_64 AMI can not boot it.
        {"name": "graviton", "instance_types": ["g5g.xlarge"], "ami_type": "AL2023_x86_64_NVIDIA", "max_size": 2},
        # Bottlerocket arm64 for x86_64 instances.
        {"name": "br-arm", "instance_types": ["g6.xlarge"], "ami_type": "BOTTLEROCKET_ARM_64_NVIDIA", "max_size": 2},
        # Mixed architectures in one group.
        {"name": "mixed", "instance_types": ["g5.xlarge", "g5g.xlarge"], "ami_type": "AL2023_x86_64_NVIDIA",
         "max_size": 2},
        # min_size above max_size, desired outside.
        {"name": "sizes", "instance_types": ["g6e.xlarge"], "ami_type": "AL2023_x86_64_NVIDIA", "min_size": 3,
         "max_size": 2},
        {"name": "desired", "instance_types": ["p5.48xlarge"], "ami_type": "AL2023_x86_64_NVIDIA", "min_size": 0,
         "max_size": 1, "desired_size": 4},
        # A valid group: not named in the message.
        {"name": "good", "instance_types": ["g5.xlarge"], "ami_type": "AL2023_x86_64_NVIDIA", "max_size": 2},
    ]
    proc = run_role(run_cmd, ansible_env, tmp_path, groups)
    out = " ".join(proc.stdout.split())
    assert proc.returncode != 0
    assert "Check every GPU node group" in out, out[-3000:]
    for expected in [
        "'cpu': m6i.xlarge is not an NVIDIA GPU instance type",
        "'amd': g4ad.xlarge is not an NVIDIA GPU instance type",
        "'amd': inf2.xlarge is not an NVIDIA GPU instance type",
        "'graviton': ami_type AL2023_x86_64_NVIDIA is for x86_64 but g5g.xlarge are arm64 instances",
        "'br-arm': ami_type BOTTLEROCKET_ARM_64_NVIDIA is for arm64 but g6.xlarge are x86_64 instances",
        "'mixed': instance_types mix architectures (x86_64 and arm64)",
        # The scaling rule of the eks_managed_nodegroup module (module_utils/eks/nodegroup.py check_scaling).
        "'sizes': Scaling: need 0 <= min_size <= max_size and max_size >= 1 (got min 3, max 2)",
        "'desired': desired_size 4 is outside min_size 0 and max_size 1",
    ]:
        assert expected in out, "missing %r in:\n%s" % (expected, out[-4000:])
    assert "'good'" not in out
    assert "Find the cluster" not in out, "an API call ran after invalid input"


def test_non_gpu_ami_types_are_refused_by_the_argument_spec(run_cmd, ansible_env, tmp_path):
    proc = run_role(run_cmd, ansible_env, tmp_path, [
        {"name": "gpu", "instance_types": ["g5.xlarge"], "ami_type": "AL2023_x86_64_STANDARD", "max_size": 2}])
    out = " ".join(proc.stdout.split())
    assert proc.returncode != 0
    assert "ami_type" in out and "AL2023_x86_64_NVIDIA" in out, out[-3000:]
    assert "Find the cluster" not in out


def test_new_families_can_be_allowed(run_cmd, ansible_env, tmp_path):
    proc = run_role(run_cmd, ansible_env, tmp_path, [
        {"name": "next", "instance_types": ["g9.xlarge"], "ami_type": "AL2023_x86_64_NVIDIA", "max_size": 2}],
        gpu_nodes_extra_instance_families={"g9": "x86_64"})
    out = " ".join(proc.stdout.split())
    # Validation passes; the first API call then fails against the closed port.
    assert proc.returncode != 0
    assert "Find the cluster and its node groups" in out and "Check every GPU node group" in out
    assert "is not an NVIDIA GPU instance type" not in out
