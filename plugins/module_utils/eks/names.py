# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The names EKS accepts, as its API reference gives them, checked once for the modules (before
any API call) and for the roles' validation (through the ``eks_cluster_name`` and
``eks_nodegroup_name`` test plugins).

CreateCluster ``name``: 1-100 characters, ``^[0-9A-Za-z][A-Za-z0-9\\-_]*``.
CreateNodegroup ``nodegroupName``: 1-63 characters, same alphabet.
(https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html,
https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateNodegroup.html)
"""

from __future__ import annotations

import re

CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}\Z")
NODEGROUP_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,62}\Z")


def is_cluster_name(name):
    """True for a name CreateCluster accepts."""
    return isinstance(name, str) and CLUSTER_NAME.match(name) is not None


def is_nodegroup_name(name):
    """True for a name CreateNodegroup accepts."""
    return isinstance(name, str) and NODEGROUP_NAME.match(name) is not None


def name_problems(cluster_name=None, nodegroup_name=None):
    """What is wrong with the names given (None: not checked), one phrase each, naming the option."""
    problems = []
    if cluster_name is not None and not is_cluster_name(cluster_name):
        problems.append("cluster name %r must be 1-100 letters, digits, '-' or '_', starting with a letter or digit"
                        % (cluster_name,))
    if nodegroup_name is not None and not is_nodegroup_name(nodegroup_name):
        problems.append("node group name %r must be 1-63 letters, digits, '-' or '_', starting with a letter or digit"
                        % (nodegroup_name,))
    return problems
