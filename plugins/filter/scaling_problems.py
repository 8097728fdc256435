# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# (GPL because filter plugins run inside the ansible-core process.)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: scaling_problems
short_description: Check the sizes of an EKS managed node group with the module's rule
version_added: 0.1.0
description:
  - Checks C(min_size), C(max_size) and C(desired_size) of a managed node group with the rule the
    M(mlops.eks_platform.eks_managed_nodegroup) module applies before it creates or updates a group,
    and returns the problems found. An empty list means the module accepts the sizes.
  - The rule is 0 <= C(min_size) <= C(max_size), C(max_size) >= 1, and C(desired_size), when set,
    between the two.
  - Sizes given as strings of digits (inventory values) are read as numbers.
options:
  _input:
    description: The sizes, a dictionary with C(min_size), C(max_size) and optionally C(desired_size).
    type: dict
    required: true
seealso:
  - module: mlops.eks_platform.eks_managed_nodegroup
author:
  - mlops.eks_platform maintainers (@mlops)
"""

EXAMPLES = r"""
- name: Refuse the core node group sizes before any API call
  ansible.builtin.assert:
    that: sizes | mlops.eks_platform.scaling_problems | length == 0
    fail_msg: "core_min_size, core_max_size: {{ sizes | mlops.eks_platform.scaling_problems | join('; ') }}"
  vars:
    sizes: {min_size: "{{ core_min_size }}", max_size: "{{ core_max_size }}", desired_size: "{{ core_desired_size }}"}
"""

RETURN = r"""
_value:
  description:
    - "The problems, for example C(Scaling: need 0 <= min_size <= max_size and max_size >= 1 (got min 3, max 2))."
    - An empty list when the sizes are valid.
  type: list
  elements: str
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import EksError
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.nodegroup import check_scaling

SIZES = ('min_size', 'max_size', 'desired_size')


def scaling_problems(sizes):
    if not isinstance(sizes, Mapping):
        raise AnsibleFilterError('scaling_problems expects a dictionary of sizes, got a {0}'.format(type(sizes).__name__))
    params = {}
    for field in SIZES:
        value = sizes.get(field)
        if value is None or value == '':
            params[field] = None
            continue
        try:
            params[field] = int(value)
        except (TypeError, ValueError):
            return ['{0} must be a whole number (got {1!r})'.format(field, value)]
    try:
        check_scaling(params)
    except EksError as refusal:
        return [refusal.msg.rstrip('.')]
    return []


class FilterModule:
    def filters(self):
        return {'scaling_problems': scaling_problems}
