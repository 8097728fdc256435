#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_kubeconfig
short_description: Write a kubeconfig entry for an Amazon EKS cluster, with an STS token or the aws CLI
version_added: 0.1.0
description:
  - Adds (or replaces) the cluster, user and context of one EKS cluster in a kubeconfig file, the
    way C(aws eks update-kubeconfig) does. Entries of other clusters in the file are kept. The file
    is written with mode C(0600).
  - With O(auth=token) the user entry holds a bearer token that the module makes itself, the same
    way C(aws eks get-token) makes it. It pre-signs an STS C(GetCallerIdentity) request whose
    signature covers the header C(x-k8s-aws-id) set to the cluster name. No AWS CLI is needed.
    EKS accepts such a token for 15 minutes. The module keeps a token that is still valid for
    O(token_min_validity) seconds (so reruns change nothing) and makes a new one otherwise.
  - With O(auth=exec) (the default) the user entry runs C(aws eks get-token) whenever a client needs
    a token. This suits people and long-running tools. The AWS CLI must then be installed where the
    kubeconfig is used.
  - Neither amazon.aws nor community.aws writes kubeconfigs or makes EKS tokens. This module fills
    that gap.
author:
  - mlops.eks_platform maintainers (@mlops)
options:
  cluster_name:
    description: Name of the EKS cluster. Its endpoint and CA are read with C(DescribeCluster).
    type: str
    required: true
  path:
    description: The kubeconfig file. Missing parent directories are created.
    type: path
    required: true
  state:
    description: V(present) writes the entries, V(absent) removes them (and the file when nothing else is left in it).
    type: str
    choices: [present, absent]
    default: present
  alias:
    description: Name of the cluster, user and context entries. Defaults to O(cluster_name).
    type: str
  auth:
    description: V(exec) runs C(aws eks get-token) on demand; V(token) embeds a short-lived token.
    type: str
    choices: [exec, token]
    default: exec
  exec_command:
    description: Command of the exec credential plugin with O(auth=exec).
    type: str
    default: aws
  exec_role_arn:
    description: With O(auth=exec), a role the AWS CLI assumes before it makes the token (C(--role-arn)).
    type: str
  exec_profile:
    description: With O(auth=exec), the AWS profile the AWS CLI uses (C(AWS_PROFILE) in the plugin's environment).
    type: str
  namespace:
    description: Default namespace of the context.
    type: str
  set_current_context:
    description: Make the context the current one.
    type: bool
    default: true
  token_min_validity:
    description: With O(auth=token), seconds an existing token must still be valid for to be kept.
    type: int
    default: 600
attributes:
  check_mode:
    support: partial
    details:
      - Reports whether the cluster, user and context entries would change. Tightening the mode of an
        existing file to C(0600) is only done, and reported, in a real run.
  diff_mode:
    support: full
    details:
      - The diff is the kubeconfig before and after the task; tokens are never shown.
extends_documentation_fragment:
  - mlops.eks_platform.attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - The STS client uses the module's AWS connection options. To make the token for another role,
    run the module with that role's credentials (for example from M(amazon.aws.sts_assume_role)).
  - The token gives the identity that signed it the rights that identity has in the cluster (an
    access entry or the C(aws-auth) ConfigMap). The identity that created the cluster is admin by default.
seealso:
  - module: mlops.eks_platform.eks_control_plane
  - name: aws eks get-token
    description: The token format this module reproduces.
    link: https://docs.aws.amazon.com/cli/latest/reference/eks/get-token.html
"""

EXAMPLES = r"""
- name: Kubeconfig with an embedded token for the rest of this play
  mlops.eks_platform.eks_kubeconfig:
    cluster_name: mlops
    path: "{{ playbook_dir }}/.kube/mlops"
    auth: token
  register: kubeconfig

- name: Use it
  kubernetes.core.k8s_info:
    kubeconfig: "{{ kubeconfig.path }}"
    kind: Node

- name: The usual kubeconfig for people, through the AWS CLI and a profile
  mlops.eks_platform.eks_kubeconfig:
    cluster_name: mlops
    path: ~/.kube/config
    exec_profile: platform-admin
"""

RETURN = r"""
path:
  description: The kubeconfig file.
  returned: always
  type: str
  sample: /home/ops/.kube/mlops
context:
  description: Name of the context (and of the cluster and user entries).
  returned: always
  type: str
  sample: mlops
server:
  description: The cluster's API server endpoint.
  returned: when O(state=present)
  type: str
  sample: https://0123456789ABCDEF.gr7.eu-west-1.eks.amazonaws.com
auth:
  description: V(exec) or V(token).
  returned: when O(state=present)
  type: str
token_expires_at:
  description: With O(auth=token), when the token in the file stops being accepted (ISO 8601, UTC).
  returned: when O(auth=token) and O(state=present)
  type: str
  sample: "2026-11-21T17:15:04+00:00"
"""

import os
import tempfile

from ansible.module_utils.common.text.converters import to_bytes
from ansible.module_utils.common.yaml import HAS_YAML
from ansible.module_utils.common.yaml import yaml_dump
from ansible.module_utils.common.yaml import yaml_load

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.mlops.eks_platform.plugins.module_utils.retry import retry_decorator
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import RETRY_CODES
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.api import get_cluster
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import run
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.kubeconfig import existing_server
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.kubeconfig import existing_token
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.kubeconfig import exec_user
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.kubeconfig import generate_token
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.kubeconfig import merge_entries
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.kubeconfig import redact
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.kubeconfig import remove_entries
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.kubeconfig import token_details
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.kubeconfig import token_still_valid


def read_config(module, path):
    if not os.path.exists(path):
        return None
    try:
        with open(path, "rb") as handle:
            data = yaml_load(handle.read()) or {}
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="%s is not a readable kubeconfig: %s" % (path, exc))
    if not isinstance(data, dict):
        module.fail_json(msg="%s is not a kubeconfig (not a mapping)." % path)
    return data


def write_config(module, path, config):
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".kubeconfig-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(to_bytes(yaml_dump(config, default_flow_style=False, sort_keys=False)))
        os.chmod(tmp, 0o600)
        module.atomic_move(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        path=dict(type="path", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        alias=dict(type="str"),
        auth=dict(type="str", choices=["exec", "token"], default="exec"),
        exec_command=dict(type="str", default="aws"),
        exec_role_arn=dict(type="str"),
        exec_profile=dict(type="str"),
        namespace=dict(type="str"),
        set_current_context=dict(type="bool", default=True),
        token_min_validity=dict(type="int", default=600, no_log=False),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    if not HAS_YAML:
        module.fail_json(msg="PyYAML is required to read and write kubeconfig files.")
    params = module.params
    path = params["path"]
    alias = params["alias"] or params["cluster_name"]
    before = read_config(module, path)
    result = {"path": path, "context": alias}

    if params["state"] == "absent":
        after = remove_entries(before, alias) if before is not None else None
        changed = before is not None and after != before
        empty = after is not None and not any(after.get(k) for k in ("clusters", "users", "contexts"))
        if changed and not module.check_mode:
            if empty:
                os.unlink(path)
            else:
                write_config(module, path, after)
        module.exit_json(changed=changed, diff={"before": redact(before or {}), "after": redact(after or {})}, **result)

    client = module.client("eks", retry_decorator=retry_decorator(RETRY_CODES))
    cluster = run(module, get_cluster, client, params["cluster_name"])
    if cluster is None:
        module.fail_json(msg="Cluster %s does not exist." % params["cluster_name"])
    if not cluster.get("endpoint") or not (cluster.get("certificateAuthority") or {}).get("data"):
        module.fail_json(msg="Cluster %s has no endpoint yet (status %s)." % (params["cluster_name"], cluster.get("status")))
    server = cluster["endpoint"]
    region = cluster["arn"].split(":")[3]
    if params["auth"] == "exec":
        user = exec_user(params["cluster_name"], region, params["exec_command"], params["exec_role_arn"],
                         params["exec_profile"])
    else:
        token = existing_token(before, alias)
        if not (token and existing_server(before, alias) == server
                and token_still_valid(token, params["token_min_validity"])):
            sts = module.client("sts", retry_decorator=retry_decorator())
            try:
                token = generate_token(sts, params["cluster_name"])[0]
            except Exception as exc:  # pylint: disable=broad-except
                module.fail_json_aws(exc, msg="Failed to make an EKS token with STS")
        user = {"token": token}
        result["token_expires_at"] = token_details(token)["expires_at"].isoformat()
    after = merge_entries(before, alias, server, cluster["certificateAuthority"]["data"], user,
                          namespace=params["namespace"], set_current=params["set_current_context"])
    changed = after != before
    if changed and not module.check_mode:
        write_config(module, path, after)
    if os.path.exists(path) and not module.check_mode:
        changed = module.set_fs_attributes_if_different(
            module.load_file_common_arguments({"path": path, "mode": "0600"}), changed)
    module.exit_json(changed=changed, server=server, auth=params["auth"],
                     diff={"before": redact(before or {}), "after": redact(after)}, **result)


if __name__ == "__main__":
    main()
