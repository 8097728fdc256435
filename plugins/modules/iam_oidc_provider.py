#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: iam_oidc_provider
short_description: Manage an IAM OpenID Connect identity provider, such as an EKS cluster's issuer for IRSA
version_added: 0.1.0
description:
  - Creates, updates and deletes an IAM OIDC identity provider. For EKS it makes the cluster's OIDC
    issuer (C(identity.oidc.issuer) of the cluster) a trusted identity provider. Pods can then
    assume IAM roles through their service accounts (IAM roles for service accounts, IRSA).
  - Neither amazon.aws nor community.aws has a module for IAM OIDC providers. This module fills
    that gap.
  - The provider is found by its URL, so the module needs no ARN. The audiences (client ids),
    the thumbprints (when given) and the tags are converged.
author:
  - mlops.eks_platform maintainers (@mlops)
options:
  url:
    description: Issuer URL, with or without C(https://).
    type: str
    required: true
  state:
    description: Whether the provider should exist.
    type: str
    choices: [present, absent]
    default: present
  client_ids:
    description: Audiences allowed to use the provider. IRSA needs V(sts.amazonaws.com).
    type: list
    elements: str
    default: [sts.amazonaws.com]
  thumbprints:
    description:
      - SHA-1 fingerprints (40 hex digits) of the issuer's top intermediate CA certificate.
      - When unset or empty, none are sent and existing ones are kept. IAM then gets the
        certificate itself, and it trusts the issuers of EKS through its own library of root CAs.
    type: list
    elements: str
attributes:
  check_mode:
    support: full
    details:
      - Reports in RV(actions) what would change. A provider that would be created is returned as
        asked for, without an ARN.
  diff_mode:
    support: none
extends_documentation_fragment:
  - mlops.eks_platform.attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
seealso:
  - module: mlops.eks_platform.eks_control_plane
  - module: amazon.aws.iam_role
  - name: Create an IAM OIDC provider for your cluster
    description: The EKS user guide on IRSA.
    link: https://docs.aws.amazon.com/eks/latest/userguide/enable-iam-roles-for-service-accounts.html
"""

EXAMPLES = r"""
- name: Read the cluster
  mlops.eks_platform.eks_control_plane:
    name: mlops
  register: cluster

- name: Trust the cluster's OIDC issuer for IAM roles for service accounts
  mlops.eks_platform.iam_oidc_provider:
    url: "{{ cluster.cluster.identity.oidc.issuer }}"
    tags:
      mlops.eks_platform/cluster: mlops
  register: oidc

- name: Delete it
  mlops.eks_platform.iam_oidc_provider:
    url: https://oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF
    state: absent
"""

RETURN = r"""
arn:
  description: ARN of the provider (the C(Federated) principal of IRSA trust policies).
  returned: when the provider exists (not in check mode before creation)
  type: str
  sample: arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF
url:
  description: Issuer URL with C(https://).
  returned: when the provider exists or would be created
  type: str
  sample: https://oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF
condition_key_prefix:
  description: Host and path of the issuer, the prefix of the C(:sub) and C(:aud) condition keys in trust policies.
  returned: when O(state=present)
  type: str
  sample: oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF
client_ids:
  description: Audiences.
  returned: when the provider exists or would be created
  type: list
  elements: str
  sample: [sts.amazonaws.com]
thumbprints:
  description: Thumbprints stored with the provider.
  returned: when the provider exists or would be created
  type: list
  elements: str
tags:
  description: Tags of the provider.
  returned: when the provider exists or would be created
  type: dict
actions:
  description: What was done (or would be done in check mode).
  returned: always
  type: list
  elements: str
  sample: ["create"]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.mlops.eks_platform.plugins.module_utils.retry import retry_decorator
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import run
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.oidc import delete_provider
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.oidc import ensure_provider
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.oidc import provider_host_path


def main():
    argument_spec = dict(
        url=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        client_ids=dict(type="list", elements="str", default=["sts.amazonaws.com"]),
        thumbprints=dict(type="list", elements="str"),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    client = module.client("iam", retry_decorator=retry_decorator())
    params = module.params
    if params["state"] == "absent":
        changed, provider = run(module, delete_provider, client, params, module.check_mode)
        module.exit_json(changed=changed, actions=["delete"] if changed else [], **provider)
    changed, provider, actions = run(module, ensure_provider, client, params, module.check_mode)
    prefix = run(module, provider_host_path, params["url"])
    module.exit_json(changed=changed, actions=actions, condition_key_prefix=prefix, **provider)


if __name__ == "__main__":
    main()
