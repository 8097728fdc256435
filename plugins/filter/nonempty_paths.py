# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# (GPL because filter plugins run inside the ansible-core process.)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: nonempty_paths
short_description: The dotted paths a nested dictionary sets to a non-empty value
version_added: 0.1.0
description:
  - Looks up each dotted path (for example C(dags.gitSync.sshKey)) in a nested dictionary and
    returns those that lead to a value other than null, an empty string, an empty list or an
    empty dictionary.
  - A path that crosses something that is not a dictionary, or a key that is missing, is not set.
  - The values themselves are never returned, so the result can be printed even when the paths
    hold secrets.
options:
  _input:
    description: The nested dictionary, for example Helm chart values.
    type: dict
    required: true
  paths:
    description: The dotted paths to look up.
    type: list
    elements: str
    required: true
author:
  - mlops.eks_platform maintainers (@mlops)
"""

EXAMPLES = r"""
- name: Refuse chart values that pass a secret inline
  ansible.builtin.assert:
    that: extra_values | mlops.eks_platform.nonempty_paths(['fernetKey', 'data.metadataConnection']) | length == 0
    fail_msg: "extra_values may not set {{ extra_values | mlops.eks_platform.nonempty_paths(['fernetKey']) | join(', ') }}"
"""

RETURN = r"""
_value:
  description: The paths of O(paths) that are set to a non-empty value, in the order given.
  type: list
  elements: str
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

_MISSING = object()


def _lookup(data, path):
    node = data
    for key in path.split('.'):
        if not isinstance(node, Mapping) or key not in node:
            return _MISSING
        node = node[key]
    return node


def nonempty_paths(data, paths):
    if not isinstance(data, Mapping):
        raise AnsibleFilterError('nonempty_paths expects a dictionary, got a {0}'.format(type(data).__name__))
    found = []
    for path in paths:
        value = _lookup(data, str(path))
        if value is not _MISSING and value is not None and not (
                isinstance(value, (str, list, Mapping)) and len(value) == 0):
            found.append(str(path))
    return found


class FilterModule:
    def filters(self):
        return {'nonempty_paths': nonempty_paths}
