#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_control_plane_info
short_description: Read an Amazon EKS cluster, its node groups and add-ons
version_added: 0.1.0
description:
  - Returns what C(DescribeCluster) says about one cluster, plus the names of its managed node
    groups and add-ons, or RV(exists=false) when there is no such cluster.
  - Neither amazon.aws nor community.aws has an information module for EKS clusters. This one
    lets a role find a cluster by name on its own, for example to delete what belongs to it.
author:
  - mlops.eks_platform maintainers (@mlops)
options:
  name:
    description: Name of the cluster.
    type: str
    required: true
  details:
    description: Also describe each node group and add-on (RV(nodegroup_details), RV(addon_details)).
    type: bool
    default: false
extends_documentation_fragment:
  - mlops.eks_platform.attributes
  - mlops.eks_platform.attributes.info_module
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
seealso:
  - module: mlops.eks_platform.eks_control_plane
"""

EXAMPLES = r"""
- name: Find the cluster
  mlops.eks_platform.eks_control_plane_info:
    name: mlops
  register: found

- name: Show its version and OIDC issuer
  ansible.builtin.debug:
    msg: "{{ found.cluster.version }} {{ found.cluster.identity.oidc.issuer }}"
  when: found.exists
"""

RETURN = r"""
exists:
  description: Whether the cluster exists.
  returned: always
  type: bool
cluster:
  description: The cluster as C(DescribeCluster) returns it, keys in snake_case (tag keys as they are); empty when it does not exist.
  returned: always
  type: dict
nodegroups:
  description: Names of the cluster's managed node groups.
  returned: always
  type: list
  elements: str
addons:
  description: Names of the cluster's add-ons.
  returned: always
  type: list
  elements: str
nodegroup_details:
  description: The node groups as C(DescribeNodegroup) returns them, keys in snake_case (label and tag keys as they are).
  returned: when O(details=true)
  type: list
  elements: dict
addon_details:
  description: The add-ons as C(DescribeAddon) returns them, keys in snake_case.
  returned: when O(details=true)
  type: list
  elements: dict
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.mlops.eks_platform.plugins.module_utils.retry import retry_decorator
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import RETRY_CODES
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.api import describe_cluster_inventory
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.api import get_addon
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.api import get_nodegroup
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import run
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import snake_result


def main():
    module = AnsibleAWSModule(argument_spec=dict(name=dict(type="str", required=True),
                                                 details=dict(type="bool", default=False)),
                              supports_check_mode=True)
    client = module.client("eks", retry_decorator=retry_decorator(RETRY_CODES))
    name = module.params["name"]
    cluster, nodegroups, addons = run(module, describe_cluster_inventory, client, name)
    result = dict(changed=False, exists=cluster is not None, cluster=snake_result(cluster), nodegroups=nodegroups,
                  addons=addons)
    if module.params["details"]:
        result["nodegroup_details"] = [snake_result(run(module, get_nodegroup, client, name, group))
                                       for group in nodegroups]
        result["addon_details"] = [snake_result(run(module, get_addon, client, name, addon)) for addon in addons]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
