#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_control_plane
short_description: Create, upgrade, reconfigure and delete an Amazon EKS control plane
version_added: 0.1.0
description:
  - Manages an EKS cluster (the control plane) and keeps it at the asked-for Kubernetes version,
    control plane logging, API endpoint access, secrets encryption, authentication mode and tags.
  - Fills gaps in M(community.aws.eks_cluster), which creates and deletes clusters but can not
    change anything on an existing one. It can not upgrade the Kubernetes version, change control
    plane logging or endpoint access, associate a KMS key for secrets encryption, or set the
    authentication mode, and it does not retry when EKS is busy.
  - Upgrades go one minor version at a time, because EKS accepts nothing else. Changing O(version)
    from V(1.31) to V(1.34) makes three upgrades (1.32, 1.33, 1.34). The module waits for each one
    to succeed before it starts the next.
  - EKS runs one update of a cluster at a time. The module therefore applies version steps, then
    subnet and security group changes, then endpoint access, logging, authentication mode and
    encryption, and waits for each update (C(DescribeUpdate)) to succeed before the next.
  - What EKS can not change is refused before any change is made, with a message saying what to do.
    This covers a downgrade, another KMS key for secrets, another cluster role, another service CIDR
    and a step back in authentication mode.
author:
  - mlops.eks_platform maintainers (@mlops)
options:
  name:
    description: Name of the cluster (1-100 letters, digits, C(-) or C(_), starting with a letter or digit; checked before any API call).
    type: str
    required: true
  state:
    description: Whether the cluster should exist.
    type: str
    choices: [present, absent]
    default: present
  version:
    description:
      - Kubernetes minor version of the control plane, for example V(1.34).
      - When the cluster runs an older version, it is upgraded one minor version at a time.
        When it runs a newer one, the module fails, because EKS can not downgrade.
      - When unset, EKS picks its default version at creation and the version is not managed.
    type: str
  role_arn:
    description:
      - ARN of the cluster IAM role (with the AWS managed policy C(AmazonEKSClusterPolicy)).
      - Required to create a cluster. It can not be changed later.
    type: str
  subnets:
    description:
      - Subnets for the control plane's network interfaces, in at least two availability zones.
      - Required to create a cluster. A changed list is applied with C(UpdateClusterConfig).
    type: list
    elements: str
  security_groups:
    description: Additional security groups for the control plane network interfaces.
    type: list
    elements: str
  endpoint_public_access:
    description: Whether the Kubernetes API endpoint is reachable from the internet. Unset leaves it as it is.
    type: bool
  endpoint_private_access:
    description: Whether the API endpoint is reachable from inside the VPC. Unset leaves it as it is.
    type: bool
  public_access_cidrs:
    description: CIDR blocks allowed to reach the public endpoint. Ignored when O(endpoint_public_access=false).
    type: list
    elements: str
  logging:
    description:
      - Control plane log types to send to CloudWatch Logs (log group C(/aws/eks/<name>/cluster)).
        Types not listed are switched off. An empty list switches all off; unset leaves logging as it is.
    type: list
    elements: str
    choices: [api, audit, authenticator, controllerManager, scheduler]
  encryption_key_arn:
    description:
      - ARN of the KMS key that encrypts Kubernetes secrets (envelope encryption).
      - Set at creation or associated later. Once set, EKS can not change or remove it.
    type: str
  service_ipv4_cidr:
    description: CIDR block for Kubernetes service IP addresses. It can only be set at creation.
    type: str
  authentication_mode:
    description:
      - How IAM principals authenticate to the cluster. It can only move forward, from
        V(CONFIG_MAP) to V(API_AND_CONFIG_MAP) to V(API).
      - At creation the identity that creates the cluster gets cluster-admin access.
    type: str
    choices: [CONFIG_MAP, API_AND_CONFIG_MAP, API]
  wait:
    description:
      - Wait until a new cluster is ACTIVE, or until a deleted cluster is gone.
      - Updates of an existing cluster are always waited for, because EKS accepts only one at a time.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for each step (creation, each update, deletion).
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
      - Reports in RV(actions) the updates that would be made, in the order EKS would get them. A
        cluster that would be created is returned empty, since what it needs (the role, the subnets)
        may itself only exist after a real run.
  diff_mode:
    support: none
extends_documentation_fragment:
  - mlops.eks_platform.attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
notes:
  - Node groups must be deleted before the cluster; with O(state=absent) the module refuses while
    there are any.
  - Node groups and add-ons are not upgraded with the control plane. Use
    M(mlops.eks_platform.eks_managed_nodegroup) and M(mlops.eks_platform.eks_addon) after the
    upgrade. Kubernetes allows kubelets up to three minor versions older than the API server.
seealso:
  - module: community.aws.eks_cluster
  - module: mlops.eks_platform.eks_managed_nodegroup
  - module: mlops.eks_platform.eks_addon
  - name: Updating an Amazon EKS cluster Kubernetes version
    description: EKS upgrades one minor version at a time.
    link: https://docs.aws.amazon.com/eks/latest/userguide/update-cluster.html
"""

EXAMPLES = r"""
- name: Cluster at 1.34 with full control plane logging and secrets encryption
  mlops.eks_platform.eks_control_plane:
    name: mlops
    version: "1.34"
    role_arn: arn:aws:iam::123456789012:role/mlops-cluster
    subnets: [subnet-0a1b2c3d4e5f60001, subnet-0a1b2c3d4e5f60002, subnet-0a1b2c3d4e5f60003]
    endpoint_public_access: true
    endpoint_private_access: true
    public_access_cidrs: [203.0.113.0/24]
    logging: [api, audit, authenticator, controllerManager, scheduler]
    encryption_key_arn: arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
    authentication_mode: API_AND_CONFIG_MAP
    tags:
      Environment: production
  register: cluster

- name: Upgrade from 1.31 to 1.34 (three upgrades, one after the other)
  mlops.eks_platform.eks_control_plane:
    name: mlops
    version: "1.34"

- name: Delete the cluster (its node groups first)
  mlops.eks_platform.eks_control_plane:
    name: mlops
    state: absent
"""

RETURN = r"""
cluster:
  description: The cluster as C(DescribeCluster) returns it, keys in snake_case (tag keys as they are).
  returned: when O(state=present) and the cluster exists (empty in check mode before creation)
  type: dict
  contains:
    name:
      description: Cluster name.
      type: str
      sample: mlops
    arn:
      description: Cluster ARN.
      type: str
      sample: arn:aws:eks:eu-west-1:123456789012:cluster/mlops
    version:
      description: Kubernetes version.
      type: str
      sample: "1.34"
    endpoint:
      description: URL of the Kubernetes API server.
      type: str
      sample: https://0123456789ABCDEF.gr7.eu-west-1.eks.amazonaws.com
    certificate_authority:
      description: The cluster CA, C(data) is base64 PEM.
      type: dict
    identity:
      description: C(oidc.issuer) is the OIDC issuer URL used for IAM roles for service accounts.
      type: dict
      sample: {"oidc": {"issuer": "https://oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF"}}
    resources_vpc_config:
      description: Subnets, security groups (including the C(cluster_security_group_id) EKS creates), VPC and endpoint access.
      type: dict
    logging:
      description: Enabled and disabled log types.
      type: dict
    encryption_config:
      description: Secrets encryption configuration.
      type: list
    status:
      description: Cluster status.
      type: str
      sample: ACTIVE
    tags:
      description: Cluster tags.
      type: dict
actions:
  description: What was done (or would be done in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["version 1.33", "version 1.34", "control plane logging", "tags"]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.mlops.eks_platform.plugins.module_utils.retry import retry_decorator
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.cluster import LOG_TYPES
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import RETRY_CODES
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.cluster import delete_cluster
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.cluster import ensure_cluster
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import run
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import snake_result
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.names import name_problems


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        version=dict(type="str"),
        role_arn=dict(type="str"),
        subnets=dict(type="list", elements="str"),
        security_groups=dict(type="list", elements="str"),
        endpoint_public_access=dict(type="bool"),
        endpoint_private_access=dict(type="bool"),
        public_access_cidrs=dict(type="list", elements="str"),
        logging=dict(type="list", elements="str", choices=list(LOG_TYPES)),
        encryption_key_arn=dict(type="str", no_log=False),
        service_ipv4_cidr=dict(type="str"),
        authentication_mode=dict(type="str", choices=["CONFIG_MAP", "API_AND_CONFIG_MAP", "API"]),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=2400),
        wait_interval=dict(type="int", default=15),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    problems = name_problems(cluster_name=module.params["name"])
    if problems:
        module.fail_json(msg="name: " + "; ".join(problems))
    client = module.client("eks", retry_decorator=retry_decorator(RETRY_CODES))
    params = module.params
    if params["state"] == "absent":
        changed, actions = run(module, delete_cluster, client, params, module.check_mode)
        module.exit_json(changed=changed, actions=actions)
    changed, cluster, actions = run(module, ensure_cluster, client, params, module.check_mode)
    module.exit_json(changed=changed, cluster=snake_result(cluster), actions=actions)


if __name__ == "__main__":
    main()
