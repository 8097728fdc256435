#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_addon
short_description: Install, update and remove an Amazon EKS add-on at a version that matches the cluster
version_added: 0.1.0
description:
  - Manages one EKS add-on, for example C(vpc-cni), C(coredns), C(kube-proxy),
    C(aws-ebs-csi-driver) or C(aws-efs-csi-driver). This covers its version, the IAM role of its
    service account (IRSA), its configuration values and its tags.
  - Neither amazon.aws nor community.aws has a module for EKS add-ons. This module fills that gap.
  - The version follows the cluster. With O(version=default) (the default), the module asks EKS
    (C(DescribeAddonVersions)) for the default version for the cluster's Kubernetes version. After a
    control plane upgrade the add-on therefore moves to the new default on the next run. A newer
    compatible version someone installed on purpose is kept, because EKS can not downgrade add-ons.
    V(latest) picks the newest compatible version. An exact version must be compatible.
author:
  - mlops.eks_platform maintainers (@mlops)
options:
  cluster_name:
    description: Name of the EKS cluster.
    type: str
    required: true
  name:
    description: Name of the add-on as EKS knows it.
    type: str
    required: true
  state:
    description: Whether the add-on should be installed.
    type: str
    choices: [present, absent]
    default: present
  version:
    description: V(default), V(latest) or an exact add-on version such as V(v1.20.4-eksbuild.1).
    type: str
    default: default
  service_account_role_arn:
    description:
      - IAM role the add-on's Kubernetes service account assumes (IRSA).
      - An empty string removes the role. When unset, the role is not managed.
    type: str
  configuration_values:
    description:
      - Add-on configuration as a dictionary or as JSON/YAML text (compared as JSON when it is JSON).
      - An empty string removes it. When unset, it is not managed.
    type: raw
  resolve_conflicts:
    description: What EKS does with fields someone changed in the add-on's Kubernetes objects.
    type: str
    choices: [OVERWRITE, NONE, PRESERVE]
    default: OVERWRITE
  preserve:
    description: With O(state=absent), leave the add-on's Kubernetes objects in the cluster.
    type: bool
    default: false
  wait:
    description:
      - Wait until the add-on is ACTIVE (or DEGRADED, reported as a warning), or gone after deletion.
      - Version and configuration updates are always waited for.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 1200
attributes:
  check_mode:
    support: full
    details:
      - Reads the cluster, the add-on and the versions compatible with the cluster and reports in
        RV(actions) what would change. An add-on that would be created is returned with only its
        name and the chosen version.
  diff_mode:
    support: none
extends_documentation_fragment:
  - mlops.eks_platform.attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
notes:
  - An add-on whose pods need nodes (C(coredns), the CSI controllers) stays DEGRADED until nodes
    join, so install them after a node group exists.
seealso:
  - module: mlops.eks_platform.eks_control_plane
  - module: mlops.eks_platform.iam_oidc_provider
  - name: Amazon EKS add-ons
    description: Available add-ons and their IAM needs.
    link: https://docs.aws.amazon.com/eks/latest/userguide/eks-add-ons.html
"""

EXAMPLES = r"""
- name: Amazon VPC CNI at the default version for the cluster, with its IRSA role
  mlops.eks_platform.eks_addon:
    cluster_name: mlops
    name: vpc-cni
    service_account_role_arn: arn:aws:iam::123456789012:role/mlops-vpc-cni
    configuration_values:
      env:
        ENABLE_PREFIX_DELEGATION: "true"
    tags:
      Environment: production

- name: Pin CoreDNS to an exact version
  mlops.eks_platform.eks_addon:
    cluster_name: mlops
    name: coredns
    version: v1.12.2-eksbuild.4

- name: Remove the EFS CSI driver add-on but keep its objects
  mlops.eks_platform.eks_addon:
    cluster_name: mlops
    name: aws-efs-csi-driver
    state: absent
    preserve: true
"""

RETURN = r"""
addon:
  description: The add-on as C(DescribeAddon) returns it, keys in snake_case (tag keys as they are).
  returned: when O(state=present)
  type: dict
  contains:
    addon_name:
      description: Add-on name.
      type: str
      sample: vpc-cni
    addon_version:
      description: Installed (or, in check mode, chosen) version.
      type: str
      sample: v1.20.4-eksbuild.1
    status:
      description: Add-on status.
      type: str
      sample: ACTIVE
    service_account_role_arn:
      description: IRSA role.
      type: str
    addon_arn:
      description: ARN.
      type: str
    tags:
      description: Tags.
      type: dict
actions:
  description: What was done (or would be done in check mode).
  returned: always
  type: list
  elements: str
  sample: ["version v1.19.6-eksbuild.7 -> v1.20.4-eksbuild.1"]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.mlops.eks_platform.plugins.module_utils.retry import retry_decorator
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import RETRY_CODES
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.addon import delete_addon
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.addon import ensure_addon
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import run
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import snake_result


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        version=dict(type="str", default="default"),
        service_account_role_arn=dict(type="str"),
        configuration_values=dict(type="raw"),
        resolve_conflicts=dict(type="str", choices=["OVERWRITE", "NONE", "PRESERVE"], default="OVERWRITE"),
        preserve=dict(type="bool", default=False),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1200),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    client = module.client("eks", retry_decorator=retry_decorator(RETRY_CODES))
    params = module.params
    if params["state"] == "absent":
        changed = run(module, delete_addon, client, params, module.check_mode)
        module.exit_json(changed=changed, actions=["delete add-on %s" % params["name"]] if changed else [])
    changed, addon, actions, warnings = run(module, ensure_addon, client, params, module.check_mode)
    for warning in warnings:
        module.warn(warning)
    module.exit_json(changed=changed, addon=snake_result(addon), actions=actions)


if __name__ == "__main__":
    main()
