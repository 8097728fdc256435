#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_managed_nodegroup
short_description: Create, update and delete an Amazon EKS managed node group
version_added: 0.1.0
description:
  - Manages an EKS managed node group. This covers scaling limits, Kubernetes labels and taints,
    the update configuration, the Kubernetes version and AMI release of the nodes, and tags.
  - Fills gaps in M(community.aws.eks_nodegroup). That module does not accept the current AMI types
    (V(AL2023_x86_64_STANDARD), V(AL2023_x86_64_NVIDIA), V(AL2023_ARM_64_NVIDIA),
    V(BOTTLEROCKET_x86_64_NVIDIA), ...). It can not add or change taints, because the request it builds
    fails. It does not notice a changed label value. It tags with the wrong parameter name. It
    reports no change in check mode. It resets the desired size on every run, which fights the
    cluster autoscaler. It can not upgrade a node group to the control plane's version.
  - O(desired_size) is only used when the group is created. Later runs keep the size the
    autoscaler (or a person) chose, except when new O(min_size)/O(max_size) exclude it. The desired
    size is then moved to the nearest limit.
  - Fields EKS can not change in place (instance types, AMI type, capacity type, disk size, subnets,
    node role) are compared. A difference fails before any change, because a silent replacement
    would drain every node.
author:
  - mlops.eks_platform maintainers (@mlops)
options:
  cluster_name:
    description: Name of the EKS cluster.
    type: str
    required: true
  name:
    description: Name of the node group (1-63 letters, digits, C(-) or C(_), starting with a letter or digit; checked before any API call).
    type: str
    required: true
  state:
    description: Whether the node group should exist.
    type: str
    choices: [present, absent]
    default: present
  node_role:
    description: ARN of the node IAM role. Required to create a node group.
    type: str
  subnets:
    description: Subnets the nodes are placed in (the Auto Scaling group spreads across their zones). Required to create.
    type: list
    elements: str
  instance_types:
    description: EC2 instance types. EKS picks from them in order for on-demand capacity, and by availability for spot.
    type: list
    elements: str
  ami_type:
    description: AMI type, for example V(AL2023_x86_64_STANDARD), V(AL2023_x86_64_NVIDIA) or V(BOTTLEROCKET_x86_64_NVIDIA).
    type: str
  capacity_type:
    description: On-demand or spot capacity. A new group gets V(ON_DEMAND) when unset.
    type: str
    choices: [ON_DEMAND, SPOT]
  disk_size:
    description: Root volume size in GiB.
    type: int
  min_size:
    description: Minimum number of nodes. V(0) lets the group scale to zero. Required when O(state=present).
    type: int
  max_size:
    description: Maximum number of nodes (at least 1). Required when O(state=present).
    type: int
  desired_size:
    description:
      - Number of nodes when the group is created; defaults to O(min_size). See the description for later runs.
    type: int
  labels:
    description:
      - Kubernetes labels of the nodes. Labels not listed are removed; V({}) removes all.
      - When unset, the labels of an existing group are left as they are.
    type: dict
  taints:
    description:
      - Kubernetes taints of the nodes. Taints not listed are removed; V([]) removes all.
      - When unset, the taints of an existing group are left as they are.
    type: list
    elements: dict
    suboptions:
      key:
        description: Taint key.
        type: str
        required: true
      value:
        description: Taint value.
        type: str
      effect:
        description: Taint effect, in Kubernetes (V(NoSchedule)) or EKS API (V(NO_SCHEDULE)) spelling.
        type: str
        required: true
        choices: [NoSchedule, NoExecute, PreferNoSchedule, NO_SCHEDULE, NO_EXECUTE, PREFER_NO_SCHEDULE]
  version:
    description:
      - Kubernetes version of the nodes. When unset, a new group gets the control plane's version and
        an existing group keeps its version.
      - A newer version than the group runs starts a rolling node upgrade (C(UpdateNodegroupVersion)).
    type: str
  release_version:
    description: AMI release version to run; unset means the latest release for the version at creation or upgrade.
    type: str
  update_config:
    description: How many nodes may be unavailable during a rolling update.
    type: dict
    suboptions:
      max_unavailable:
        description: Absolute number of nodes.
        type: int
      max_unavailable_percentage:
        description: Percentage of nodes.
        type: int
  wait:
    description: Wait until a new group is ACTIVE, or until a deleted group is gone. Updates are always waited for.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for each step.
    type: int
    default: 2400
  wait_interval:
    description:
      - Seconds between two status polls while waiting.
      - The default suits real AWS, where creation takes minutes; a shorter interval helps where
        provisioning is quick (the local sandbox).
    type: int
    default: 15
attributes:
  check_mode:
    support: full
    details:
      - Reports in RV(actions) the updates that would be made. A node group that would be created is
        returned empty.
  diff_mode:
    support: none
extends_documentation_fragment:
  - mlops.eks_platform.attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
notes:
  - Tags are set on the node group resource. EKS does not copy them to the Auto Scaling group or the instances.
  - The cluster autoscaler scales managed node groups from zero because it reads their labels and
    taints from the EKS API (it needs C(eks:DescribeNodegroup)).
seealso:
  - module: community.aws.eks_nodegroup
  - module: mlops.eks_platform.eks_control_plane
"""

EXAMPLES = r"""
- name: GPU node group that scales to zero, only for pods that tolerate the GPU taint
  mlops.eks_platform.eks_managed_nodegroup:
    cluster_name: mlops
    name: gpu-a10g
    node_role: arn:aws:iam::123456789012:role/mlops-node
    subnets: [subnet-0a1b2c3d4e5f60001, subnet-0a1b2c3d4e5f60002]
    instance_types: [g5.xlarge, g5.2xlarge]
    ami_type: AL2023_x86_64_NVIDIA
    capacity_type: SPOT
    min_size: 0
    max_size: 4
    disk_size: 200
    labels:
      nvidia.com/gpu: "true"
    taints:
      - key: nvidia.com/gpu
        value: "true"
        effect: NoSchedule
    tags:
      Team: ml

- name: Move the group to the control plane's version after an upgrade
  mlops.eks_platform.eks_managed_nodegroup:
    cluster_name: mlops
    name: core
    min_size: 3
    max_size: 6
    version: "1.34"
"""

RETURN = r"""
nodegroup:
  description: The node group as C(DescribeNodegroup) returns it, keys in snake_case (label and tag keys as they are).
  returned: when O(state=present) and the group exists (empty in check mode before creation)
  type: dict
  contains:
    nodegroup_name:
      description: Name.
      type: str
      sample: gpu-a10g
    nodegroup_arn:
      description: ARN.
      type: str
    status:
      description: Status.
      type: str
      sample: ACTIVE
    scaling_config:
      description: C(min_size), C(max_size), C(desired_size).
      type: dict
      sample: {"min_size": 0, "max_size": 4, "desired_size": 0}
    labels:
      description: Kubernetes labels.
      type: dict
      sample: {"nvidia.com/gpu": "true"}
    taints:
      description: Kubernetes taints in EKS API form.
      type: list
      sample: [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    version:
      description: Kubernetes version.
      type: str
      sample: "1.34"
    tags:
      description: Tags.
      type: dict
actions:
  description: What was done (or would be done in check mode).
  returned: always
  type: list
  elements: str
  sample: ["labels, scaling, taints", "version 1.34", "tags"]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.mlops.eks_platform.plugins.module_utils.retry import retry_decorator
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import RETRY_CODES
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.nodegroup import TAINT_EFFECTS
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.nodegroup import delete_nodegroup
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.nodegroup import ensure_nodegroup
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import run
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import snake_result
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.names import name_problems


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        node_role=dict(type="str"),
        subnets=dict(type="list", elements="str"),
        instance_types=dict(type="list", elements="str"),
        ami_type=dict(type="str"),
        capacity_type=dict(type="str", choices=["ON_DEMAND", "SPOT"]),
        disk_size=dict(type="int"),
        min_size=dict(type="int"),
        max_size=dict(type="int"),
        desired_size=dict(type="int"),
        labels=dict(type="dict"),
        taints=dict(type="list", elements="dict", options=dict(
            key=dict(type="str", required=True, no_log=False),
            value=dict(type="str"),
            effect=dict(type="str", required=True, choices=list(TAINT_EFFECTS)),
        )),
        version=dict(type="str"),
        release_version=dict(type="str"),
        update_config=dict(type="dict", options=dict(
            max_unavailable=dict(type="int"),
            max_unavailable_percentage=dict(type="int"),
        ), mutually_exclusive=[["max_unavailable", "max_unavailable_percentage"]]),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=2400),
        wait_interval=dict(type="int", default=15),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              required_if=[["state", "present", ["min_size", "max_size"]]])
    problems = name_problems(cluster_name=module.params["cluster_name"], nodegroup_name=module.params["name"])
    if problems:
        module.fail_json(msg="; ".join(problems))
    client = module.client("eks", retry_decorator=retry_decorator(RETRY_CODES))
    params = module.params
    if params["state"] == "absent":
        changed = run(module, delete_nodegroup, client, params, module.check_mode)
        module.exit_json(changed=changed, actions=["delete node group %s" % params["name"]] if changed else [])
    changed, nodegroup, actions = run(module, ensure_nodegroup, client, params, module.check_mode)
    module.exit_json(changed=changed, nodegroup=snake_result(nodegroup), actions=actions)


if __name__ == "__main__":
    main()
