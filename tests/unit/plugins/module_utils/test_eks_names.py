# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""EKS name rules (module_utils/eks/names.py) and the test plugins the roles use them through.

Expected values come from the EKS API reference (CreateCluster: 1-100 characters; CreateNodegroup:
1-63; both ^[0-9A-Za-z][A-Za-z0-9\\-_]*), not from the code."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.names import (
    is_cluster_name, is_nodegroup_name, name_problems)
from ansible_collections.mlops.eks_platform.plugins.test import eks_names as eks_name_tests


@pytest.mark.parametrize("name", ["a", "9", "mlops-prod", "Mlops_2", "x" * 100])
def test_cluster_names_eks_accepts(name):
    assert is_cluster_name(name)


@pytest.mark.parametrize("name", ["", "-mlops", "_mlops", "ml.ops", "ml ops", "x" * 101, "mlops\n", None, 12])
def test_cluster_names_eks_refuses(name):
    assert not is_cluster_name(name)


def test_node_groups_are_limited_to_63_characters():
    assert is_nodegroup_name("g" * 63)
    assert not is_nodegroup_name("g" * 64)
    assert not is_nodegroup_name("gpu.a10g")


def test_problems_name_what_is_wrong_and_nothing_when_valid():
    assert name_problems("mlops", "gpu-a10g") == []
    problems = name_problems("-mlops", "g" * 64)
    assert len(problems) == 2
    assert problems[0].startswith("cluster name '-mlops'") and "1-100" in problems[0]
    assert problems[1].startswith("node group name") and "1-63" in problems[1]
    assert name_problems(None, None) == []


def test_the_test_plugins_are_the_module_rules():
    tests = eks_name_tests.TestModule().tests()
    assert tests == {"eks_cluster_name": is_cluster_name, "eks_nodegroup_name": is_nodegroup_name}


@pytest.mark.parametrize("module, args, expected", [
    ("eks_control_plane", "name=-mlops", "name: cluster name '-mlops' must be 1-100"),
    ("eks_managed_nodegroup", "cluster_name=mlops name=gpu.a10g min_size=0 max_size=1",
     "node group name 'gpu.a10g' must be 1-63"),
])
def test_modules_refuse_a_bad_name_before_any_api_call(module, args, expected, tmp_path):
    """The endpoint is a closed port: a module that called AWS first would fail on the connection."""
    env = dict(os.environ, AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_ACCESS_KEY_ID="AKIAUNITTEST0000000",
               AWS_SECRET_ACCESS_KEY="unit-test", AWS_REGION="eu-west-1", ANSIBLE_LOCAL_TEMP=str(tmp_path),
               AWS_MAX_ATTEMPTS="1")
    ansible = os.path.join(os.path.dirname(sys.executable), "ansible")
    proc = subprocess.run([ansible, "localhost", "-m", "mlops.eks_platform." + module, "-a", args],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode != 0
    assert expected in proc.stdout, proc.stdout + proc.stderr
    assert "Could not connect" not in proc.stdout
