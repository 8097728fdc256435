# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# (GPL because test plugins run inside the ansible-core process.)
"""The tests eks_cluster_name and eks_nodegroup_name (documented in eks_cluster_name.yml and
eks_nodegroup_name.yml): the EKS name rules of module_utils/eks/names.py, which the modules apply
too, for the roles' validation."""

from __future__ import annotations

from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.names import is_cluster_name, is_nodegroup_name


class TestModule:
    def tests(self):
        return {'eks_cluster_name': is_cluster_name, 'eks_nodegroup_name': is_nodegroup_name}
