# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# (GPL because filter plugins run inside the ansible-core process.)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: gpu_node_group_problems
short_description: List what is wrong with GPU managed node group definitions
version_added: 0.1.0
description:
  - Checks the node groups of the C(mlops.eks_platform.gpu_nodes) role (its C(gpu_nodes_groups)
    variable) and returns every problem found, each prefixed with the group's name (or its position
    when it has no name). An empty list means the groups are valid.
  - What the role's argument spec checks (required fields, types, the C(ami_type) and
    C(capacity_type) choices) is not repeated here.
  - A group needs a unique name of 1-63 letters, digits, C(-) or C(_), at least one instance type,
    only NVIDIA GPU instance families of one CPU architecture, and an AMI type for that
    architecture.
  - Sizes, labels and taints are checked with the rules of the
    M(mlops.eks_platform.eks_managed_nodegroup) module, which creates the groups. C(min_size)
    defaults to V(0). C(disk_size) must be at least 20 GiB.
options:
  _input:
    description: The node groups, as in C(gpu_nodes_groups).
    type: list
    elements: dict
    required: true
  families:
    description: GPU instance families and their CPU architecture, V(x86_64) or V(arm64) (for example C(g5) is V(x86_64), C(g5g) V(arm64)).
    type: dict
    required: true
  ami_types:
    description: The accepted AMI types and the CPU architecture each runs on.
    type: dict
    required: true
seealso:
  - module: mlops.eks_platform.eks_managed_nodegroup
  - plugin: mlops.eks_platform.scaling_problems
    plugin_type: filter
    description: The size rule alone, as the eks_cluster role checks its core node group.
author:
  - mlops.eks_platform maintainers (@mlops)
"""

EXAMPLES = r"""
- name: Refuse node groups before any API call
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "gpu_nodes_groups: {{ problems | join('; ') }}"
  vars:
    problems: >-
      {{ gpu_nodes_groups | mlops.eks_platform.gpu_node_group_problems(
           families={'g5': 'x86_64', 'g5g': 'arm64'}, ami_types={'AL2023_x86_64_NVIDIA': 'x86_64'}) }}
"""

RETURN = r"""
_value:
  description:
    - "One phrase per problem, for example C('sizes': Scaling: need 0 <= min_size <= max_size and max_size >= 1 (got min 3, max 2))."
    - An empty list when every group is valid.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence

from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import EksError
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.names import is_nodegroup_name
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.nodegroup import check_scaling

MIN_DISK_GIB = 20
_DEFAULTS = {'min_size': 0, 'disk_size': 100}


def _as_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _architectures(label, types, families, problems):
    archs = []
    for itype in types:
        family = str(itype).split('.', 1)[0]
        if family in families:
            if families[family] not in archs:
                archs.append(families[family])
        else:
            problems.append('{0}: {1} is not an NVIDIA GPU instance type (GPU families: {2})'.format(
                label, itype, ', '.join(sorted(families))))
    if len(archs) > 1:
        problems.append('{0}: instance_types mix architectures ({1})'.format(label, ' and '.join(archs)))
    return archs


def _group_problems(index, group, families, ami_types):
    problems = []
    name = str(group.get('name') or '')
    label = "'{0}'".format(name or '#{0}'.format(index))
    if not is_nodegroup_name(name):
        problems.append('{0}: name must be 1-63 letters, digits, - or _'.format(label))
    types = group.get('instance_types') or []
    if not types:
        problems.append('{0}: instance_types is empty'.format(label))
    archs = _architectures(label, types, families, problems)
    ami = group.get('ami_type') or ''
    if ami not in ami_types:
        problems.append('{0}: ami_type {1} must be an NVIDIA AMI type ({2})'.format(
            label, ami or 'is missing; it', ', '.join(ami_types)))
    elif len(archs) == 1 and ami_types[ami] != archs[0]:
        problems.append('{0}: ami_type {1} is for {2} but {3} are {4} instances'.format(
            label, ami, ami_types[ami], ', '.join(str(t) for t in types), archs[0]))
    sizes = {}
    for field in ('min_size', 'max_size', 'desired_size', 'disk_size'):
        value = group.get(field, _DEFAULTS.get(field))
        sizes[field] = None if value is None else _as_int(value)
        if value is not None and sizes[field] is None:
            problems.append('{0}: {1} must be a whole number (got {2!r})'.format(label, field, value))
            return problems
    try:
        check_scaling(dict(sizes, labels=group.get('labels'), taints=group.get('taints')))
    except EksError as refusal:
        problems.append('{0}: {1}'.format(label, refusal.msg.rstrip('.')))
    if sizes['disk_size'] < MIN_DISK_GIB:
        problems.append('{0}: disk_size must be at least {1} GiB'.format(label, MIN_DISK_GIB))
    return problems


def gpu_node_group_problems(groups, families, ami_types):
    if not is_sequence(groups):
        raise AnsibleFilterError('gpu_node_group_problems expects a list of node groups')
    problems = []
    names = [str(group.get('name') or '') for group in groups if isinstance(group, dict)]
    if len(set(names)) != len(names):
        problems.append('node group names must be unique (got {0})'.format(', '.join(names)))
    for index, group in enumerate(groups, 1):
        if not isinstance(group, dict):
            problems.append('#{0}: a node group must be a dict'.format(index))
            continue
        problems.extend(_group_problems(index, group, dict(families or {}), dict(ami_types or {})))
    return problems


class FilterModule:
    def filters(self):
        return {'gpu_node_group_problems': gpu_node_group_problems}
