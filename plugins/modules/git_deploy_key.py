#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# (GPL because the module is shipped together with the GPL module_utils of
# amazon.aws and kubernetes.core that it imports.)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: git_deploy_key
short_description: Repair, prove and store the SSH deploy key git-sync uses to pull DAGs
version_added: 0.1.0
description:
  - Airflow's git-sync sidecar pulls DAGs over SSH with a private key read from a Kubernetes Secret.
    Keys pasted into AWS Secrets Manager, web forms, AWX surveys or YAML files routinely come back
    damaged (a byte order mark, CRLF line endings, a missing final newline, literal C(\n) sequences,
    the body collapsed onto one line, extra quotes, a JSON or base64 wrapper), and OpenSSH then fails
    with C(error in libcrypto) or C(invalid format) deep inside a pod, long after the deployment
    reported success.
  - No existing module normalises or verifies a deploy key before it is shipped.
    M(kubernetes.core.k8s) stores whatever it is given and M(amazon.aws.secretsmanager_secret) only
    moves bytes. This module makes that class of failure impossible to ship.
  - It reads the key from O(key) or from a Secrets Manager secret (O(secret_id)), repairs the known
    kinds of damage and reports each one by name in RV(repairs), and refuses, without writing anything,
    input it cannot turn into a usable key (an empty value, a public key or C(authorized_keys) line,
    a PuTTY C(.ppk) file, a passphrase-protected key, a truncated key, a certificate, unknown armor).
  - The result is proven, not assumed. It is parsed with the Python C(cryptography) library, and the
    module returns its type and SHA256 fingerprint exactly as C(ssh-keygen -lf) prints them.
  - It then writes an C(Opaque) Secret with the data keys the Airflow Helm chart expects,
    C(gitSshKey) and, when O(known_hosts) is given, C(knownHosts). The Secret's data is replaced as a
    whole, so a C(knownHosts) entry left from an earlier run disappears when O(known_hosts) is unset.
  - The private key never appears in the module's result, its diff, its warnings or its error
    messages, at any verbosity.
author:
  - mlops.eks_platform maintainers (@mlops)
options:
  key:
    description:
      - The private key, as pasted or stored. All the damage listed in the description is repaired.
      - A JSON object holding the key in the O(json_field) field is accepted too, also when a
        dictionary is passed (Ansible hands it over as its Python representation).
      - Mutually exclusive with O(secret_id). One of them is required when O(state=present).
    type: str
  secret_id:
    description:
      - Name or ARN of an AWS Secrets Manager secret that holds the private key, either as the whole
        secret string (or binary) or as the O(json_field) field of a JSON secret.
      - The AWS connection options (O(region), O(profile), O(access_key), ...) apply to this lookup
        only, and C(boto3) is needed only when this option is used.
      - Mutually exclusive with O(key).
    type: str
  json_field:
    description:
      - When the key (from O(key) or O(secret_id)) is a JSON object, the field that holds the private
        key.
    type: str
    default: gitSshKey
  known_hosts:
    description:
      - The Git server's host keys in C(known_hosts) format, for example the output of
        C(ssh-keyscan -t ed25519 github.com). Stored as the C(knownHosts) data key.
      - Every non-empty, non-comment line is validated. It must have an optional C(@cert-authority)
        or C(@revoked) marker, host names or a hashed C(|1|salt|hash) entry, a key type, and
        base64 key data that decodes to a key of that type.
      - When unset, the module warns that git-sync will not be able to verify the Git server it
        connects to.
    type: str
  namespace:
    description:
      - Namespace of the Secret, usually the namespace Airflow is deployed in.
    type: str
    required: true
  name:
    description:
      - Name of the Secret. Point the Airflow chart at it with C(dags.gitSync.sshKeySecret).
    type: str
    default: airflow-ssh-secret
  labels:
    description:
      - Labels to set on the Secret. Labels already on the Secret that are not listed here are kept.
    type: dict
  state:
    description:
      - V(present) repairs and verifies the key and makes the Secret hold it.
      - V(absent) deletes the Secret. No key is needed.
    type: str
    choices: [present, absent]
    default: present
  validate_certs:
    description:
      - Whether to verify TLS certificates, both of the Kubernetes API server and of the AWS API.
      - When unset, the Kubernetes client follows the kubeconfig (or C(K8S_AUTH_VERIFY_SSL)) and AWS
        certificates are verified.
      - Setting it to V(false) is strongly discouraged. Provide O(ca_cert) or O(aws_ca_bundle) instead.
    type: bool
    # Explicit, so the amazon.aws fragment's "default: true" does not leak into this merged option.
    default: null
    aliases: [verify_ssl]
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - kubernetes.core.k8s_auth_options
  - amazon.aws.common.modules
  - amazon.aws.region.modules
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows the Secret's labels, type, the C(knownHosts) text and, for C(gitSshKey),
        the key type and fingerprint and any repairs the stored key would need. The key itself is
        never shown.
  platform:
    platforms: posix
requirements:
  - cryptography
  - kubernetes >= 24.2.0
  - boto3 and botocore, only when O(secret_id) is used
notes:
  - git-sync cannot enter a passphrase, so passphrase-protected keys are refused. Remove the
    passphrase from a copy of the key with C(ssh-keygen -p -N "" -f COPY_OF_KEY).
  - Ed25519 keys in PKCS#8 PEM form are converted to OpenSSH form, because OpenSSH releases still
    found in git-sync images (9.2, for example) cannot read them. The conversion is deterministic,
    so repeated runs stay idempotent.
  - The same repair and verification is available in templates as the
    P(mlops.eks_platform.normalize_private_key#filter) filter.
seealso:
  - plugin: mlops.eks_platform.normalize_private_key
    plugin_type: filter
  - name: Airflow Helm chart, mounting DAGs from a private GitHub repo using git-sync
    description: How the chart consumes the C(gitSshKey) Secret.
    link: https://airflow.apache.org/docs/helm-chart/stable/manage-dag-files.html
"""

EXAMPLES = r"""
- name: Store the deploy key pasted into an AWX survey
  mlops.eks_platform.git_deploy_key:
    key: "{{ survey_git_ssh_key }}"
    known_hosts: "{{ lookup('ansible.builtin.file', 'files/github_known_hosts') }}"
    namespace: airflow
    name: airflow-ssh-secret
    labels:
      app.kubernetes.io/part-of: airflow
  register: deploy_key

- name: Show what was deployed (never the key)
  ansible.builtin.debug:
    msg: "{{ deploy_key.key_type }} {{ deploy_key.fingerprint }}, repaired: {{ deploy_key.repairs | join(', ') or 'nothing' }}"

- name: Take the key from a JSON secret in AWS Secrets Manager
  mlops.eks_platform.git_deploy_key:
    secret_id: prod/airflow/git-sync
    json_field: sshKey
    region: eu-west-1
    known_hosts: |
      github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl
    namespace: airflow
    kubeconfig: ~/.kube/eks-prod
    context: prod

- name: Remove the Secret
  mlops.eks_platform.git_deploy_key:
    namespace: airflow
    name: airflow-ssh-secret
    state: absent
"""

RETURN = r"""
fingerprint:
  description: SHA256 fingerprint of the key, exactly as C(ssh-keygen -lf) prints it.
  returned: when O(state=present)
  type: str
  sample: SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8
key_type:
  description: The SSH key type of the key.
  returned: when O(state=present)
  type: str
  sample: ssh-ed25519
key_size:
  description: Key size in bits, as C(ssh-keygen -lf) prints it.
  returned: when O(state=present)
  type: int
  sample: 256
key_format:
  description:
    - Format of the stored key. One of V(openssh), V(pkcs8), V(pkcs1) (C(BEGIN RSA PRIVATE KEY)),
      V(sec1) (C(BEGIN EC PRIVATE KEY)).
  returned: when O(state=present)
  type: str
  sample: openssh
repairs:
  description:
    - The repairs applied to the input, in the order they were found. Empty when the input was
      already exactly what OpenSSH expects.
    - V(utf8_bom) removed a byte order mark. V(line_endings) converted CRLF or CR to LF.
      V(trailing_newline) fixed a missing or repeated final newline. V(whitespace) removed leading
      or trailing whitespace or indentation. V(escaped_newlines) expanded literal C(\n) sequences.
      V(line_wrap) re-wrapped the body at 70 columns (OpenSSH) or 64 columns (PEM).
      V(quotes) removed surrounding quotes. V(base64_layer) removed an extra layer of base64.
      V(json_secret) took the key out of a JSON object. V(pkcs8_ed25519_to_openssh) converted a PEM
      Ed25519 key to OpenSSH form.
  returned: when O(state=present)
  type: list
  elements: str
  sample: [json_secret, escaped_newlines, trailing_newline]
known_hosts_entries:
  description: Number of host key entries in O(known_hosts). V(0) when it is not given.
  returned: when O(state=present)
  type: int
  sample: 3
secret:
  description: The Secret that was written or deleted (never its data).
  returned: always
  type: dict
  contains:
    name:
      description: Name of the Secret.
      type: str
      returned: always
      sample: airflow-ssh-secret
    namespace:
      description: Namespace of the Secret.
      type: str
      returned: always
      sample: airflow
    data_keys:
      description: The data keys the Secret holds after the task.
      type: list
      elements: str
      returned: always
      sample: [gitSshKey, knownHosts]
reason:
  description: Stable code of the refusal when the key is refused, for example V(encrypted) or V(public_key).
  returned: failure, when the key is refused
  type: str
  sample: encrypted
"""

import base64
import copy
import traceback

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.amazon.aws.plugins.module_utils.botocore import check_sdk_version_supported
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleBotocoreError
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.mlops.eks_platform.plugins.module_utils.retry import retry_decorator
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.mlops.eks_platform.plugins.module_utils.deploy_key_material import (
    CRYPTOGRAPHY_IMPORT_ERROR,
    DEFAULT_JSON_FIELD,
    HAS_CRYPTOGRAPHY,
    DeployKeyError,
    normalize_private_key,
)
from ansible_collections.mlops.eks_platform.plugins.module_utils.deploy_key_secret import (
    SecretConflict,
    plan_secret,
    secret_data,
)
from ansible_collections.mlops.eks_platform.plugins.module_utils.known_hosts import validate_known_hosts

try:
    import botocore
except ImportError:
    pass  # only needed with secret_id; checked there

try:
    from kubernetes.client import CoreV1Api
    from kubernetes.client.exceptions import ApiException
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
except ImportError:
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None


NO_KNOWN_HOSTS_WARNING = (
    "known_hosts is not set: git-sync will not verify the Git server's host key, so the connection "
    "will not be verified and a server impersonating it would be trusted. Set known_hosts, for "
    "example to the output of 'ssh-keyscan -t ed25519 github.com'."
)


def read_secrets_manager(module, secret_id):
    try:
        check_sdk_version_supported(warn=module.warn)
    except AnsibleBotocoreError as e:
        module.fail_json(msg=to_text(e))
    client = module.client('secretsmanager', retry_decorator=retry_decorator())
    try:
        response = client.get_secret_value(SecretId=secret_id, aws_retry=True)
    except is_boto3_error_code('ResourceNotFoundException'):
        module.fail_json(msg="Secrets Manager secret '{0}' does not exist (or is not visible to these "
                             "credentials in this region).".format(secret_id))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg="Failed to read Secrets Manager secret '{0}'".format(secret_id))
    if response.get('SecretString') is not None:
        return response['SecretString']
    return response.get('SecretBinary')


def hide(module, *values):
    # Ansible masks no_log values in everything the module returns; the raw
    # option is masked already, the repaired and encoded forms are not.
    for value in values:
        if value:
            module.no_log_values.add(value)


def kubernetes_api(module):
    auth = {name: module.params.get(name) for name in AUTH_ARG_SPEC}
    try:
        client = get_api_client(**auth)
    except Exception as e:  # kubernetes.core raises several unrelated types here
        module.fail_json(msg='Failed to create a Kubernetes API client: {0}'.format(to_text(e)))
    api_client = client.client.client
    return CoreV1Api(api_client), api_client


def api_error(module, action, secret, e):
    # The API server's status message names fields, never Secret data.
    module.fail_json(
        msg='Failed to {0} Secret {1}: {2} {3}'.format(action, secret, e.status, e.reason),
        status=e.status,
    )


def main():
    argument_spec = copy.deepcopy(AUTH_ARG_SPEC)
    argument_spec.update(
        key=dict(type='str', no_log=True),
        secret_id=dict(type='str'),
        json_field=dict(type='str', default=DEFAULT_JSON_FIELD),
        known_hosts=dict(type='str'),
        namespace=dict(type='str', required=True),
        name=dict(type='str', default='airflow-ssh-secret'),
        labels=dict(type='dict'),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        # Shared by the Kubernetes and AWS clients; no default so that the
        # kubeconfig's own TLS setting still applies when it is unset.
        validate_certs=dict(type='bool', aliases=['verify_ssl']),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[('key', 'secret_id')],
        required_if=[('state', 'present', ('key', 'secret_id'), True)],
        # boto3 is needed for secret_id only; it is checked when used.
        check_boto3=False,
    )
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib('cryptography'), exception=to_text(CRYPTOGRAPHY_IMPORT_ERROR))
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib('kubernetes'), exception=KUBERNETES_IMPORT_ERROR)

    params = module.params
    name, namespace = params['name'], params['namespace']
    secret_ref = '{0}/{1}'.format(namespace, name)
    labels = {to_text(k): to_text(v) for k, v in (params['labels'] or {}).items()}
    result = dict(changed=False, secret=dict(name=name, namespace=namespace, data_keys=[]))

    data = None
    if params['state'] == 'present':
        if params['secret_id']:
            raw = read_secrets_manager(module, params['secret_id'])
        else:
            raw = params['key']
        hide(module, to_text(raw, errors='surrogate_then_replace') if raw else None)
        try:
            found = normalize_private_key(raw, json_field=params['json_field'])
        except DeployKeyError as refusal:
            module.fail_json(msg=refusal.message, reason=refusal.reason)
        hide(module, found.key, base64.b64encode(found.key.encode('ascii')).decode('ascii'),
             *found.key.splitlines()[1:-1])

        known_hosts, entries = None, 0
        if params['known_hosts'] and params['known_hosts'].strip():
            try:
                known_hosts, entries = validate_known_hosts(params['known_hosts'])
            except DeployKeyError as refusal:
                module.fail_json(msg=refusal.message, reason=refusal.reason)
        else:
            module.warn(NO_KNOWN_HOSTS_WARNING)
        data = secret_data(found.key, known_hosts)
        result.update(found.info(), known_hosts_entries=entries)

    core, api_client = kubernetes_api(module)
    try:
        existing = core.read_namespaced_secret(name, namespace)
    except ApiException as e:
        if e.status != 404:
            api_error(module, 'read', secret_ref, e)
        existing = None
    else:
        existing = api_client.sanitize_for_serialization(existing)

    try:
        plan = plan_secret(existing, name, namespace, data, labels, state=params['state'])
    except SecretConflict as e:
        module.fail_json(msg=to_text(e), **result)

    action = plan['action']
    if action and not module.check_mode:
        try:
            if action == 'create':
                core.create_namespaced_secret(namespace, plan['body'])
            elif action == 'replace':
                core.replace_namespaced_secret(name, namespace, plan['body'])
            else:
                core.delete_namespaced_secret(name, namespace)
        except ApiException as e:
            if e.status == 409:
                module.fail_json(msg='Secret {0} was changed by someone else while this task ran; '
                                     'run it again.'.format(secret_ref), **result)
            api_error(module, action, secret_ref, e)

    final = plan['body'] if params['state'] == 'present' else None
    result['changed'] = bool(action)
    result['secret']['data_keys'] = sorted((final or {}).get('data') or {})
    if module._diff:
        result['diff'] = plan['diff']
    module.exit_json(**result)


if __name__ == '__main__':
    main()
