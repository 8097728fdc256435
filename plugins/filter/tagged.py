# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# (GPL because filter plugins run inside the ansible-core process.)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: tagged
short_description: The AWS resources that carry a tag with a given value
version_added: 0.1.0
description:
  - Keeps the dictionaries of a list whose tags hold O(key) set to O(value).
  - Tags may be a dictionary (as EKS, EFS and the boto3_tag_list_to_ansible_dict results give
    them) or a list of C(Key)/C(Value) pairs (as EC2 describes them).
  - Tag keys hold dots and slashes (C(mlops.eks_platform/component)), which Jinja's
    C(selectattr) would read as attribute paths; this filter compares them as plain keys.
options:
  _input:
    description: The resources, each a dictionary with its tags.
    type: list
    elements: dict
    required: true
  key:
    description: The tag key.
    type: str
    required: true
  value:
    description: The value the tag must have.
    type: str
    required: true
  tags_field:
    description: The name of the field that holds a resource's tags.
    type: str
    default: tags
author:
  - mlops.eks_platform maintainers (@mlops)
"""

EXAMPLES = r"""
- name: Record the node groups this role created
  ansible.builtin.set_fact:
    created: >-
      {{ cluster.nodegroup_details | mlops.eks_platform.tagged('mlops.eks_platform/component', 'gpu_nodes')
         | map(attribute='nodegroup_name') | list }}
"""

RETURN = r"""
_value:
  description: The resources of the input whose tag O(key) equals O(value), in input order.
  type: list
  elements: dict
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def _tags_of(resource, tags_field):
    tags = resource.get(tags_field) or {}
    if isinstance(tags, Mapping):
        return tags
    return {pair.get('Key'): pair.get('Value') for pair in tags if isinstance(pair, Mapping)}


def tagged(resources, key, value, tags_field='tags'):
    if not isinstance(resources, (list, tuple)):
        raise AnsibleFilterError('tagged expects a list of resources, got a {0}'.format(type(resources).__name__))
    return [resource for resource in resources
            if isinstance(resource, Mapping) and _tags_of(resource, tags_field).get(key) == value]


class FilterModule:
    def filters(self):
        return {'tagged': tagged}
