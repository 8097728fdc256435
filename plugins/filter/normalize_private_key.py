# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# (GPL because filter plugins run inside the ansible-core process.)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: normalize_private_key
short_description: Repair and verify an SSH private key for git-sync
version_added: 0.1.0
description:
  - Repairs the damage SSH private keys pick up in Secrets Manager, web forms, AWX surveys and YAML
    files, and returns the key exactly as OpenSSH expects it. The input can have a byte order mark,
    CRLF or CR line endings, a missing or repeated final newline, leading or trailing whitespace
    or indentation, literal C(\n) sequences, a body collapsed onto one line or with spaces in
    place of newlines, surrounding quotes, one extra layer of base64, or a JSON wrapper.
  - The body is re-wrapped at 70 columns for OpenSSH keys and 64 columns for PEM keys. PEM Ed25519
    keys are converted to OpenSSH form, which older OpenSSH versions need.
  - The result is parsed with the Python C(cryptography) library before it is returned.
  - Input that cannot be made into a usable key fails the task with a message that names the problem
    and what to do. This covers an empty value, a public key or C(authorized_keys) line, a PuTTY
    C(.ppk) file, a passphrase-protected key, a truncated key, a certificate and unknown armor.
    The message never contains the key.
  - Use C(no_log=true) on tasks that handle the key. This filter shares its implementation with the
    M(mlops.eks_platform.git_deploy_key) module, which also returns the fingerprint and writes the
    Kubernetes Secret.
options:
  _input:
    description:
      - The private key as pasted or stored, as a string or bytes.
      - A JSON object that holds the key, either as text or already parsed into a dictionary (for
        example by P(ansible.builtin.from_json#filter)), is read from its O(json_field) field.
    type: raw
    required: true
  json_field:
    description: When the input is a JSON object, the field that holds the private key.
    type: str
    default: gitSshKey
requirements:
  - cryptography
seealso:
  - module: mlops.eks_platform.git_deploy_key
author:
  - mlops.eks_platform maintainers (@mlops)
"""

EXAMPLES = r"""
- name: Repair a key pasted into a survey before using it
  ansible.builtin.set_fact:
    git_ssh_key: "{{ survey_git_ssh_key | mlops.eks_platform.normalize_private_key }}"
  no_log: true

- name: Take the key out of a JSON secret stored under another field name
  ansible.builtin.copy:
    content: "{{ lookup('amazon.aws.secretsmanager_secret', 'prod/git') | mlops.eks_platform.normalize_private_key(json_field='sshKey') }}"
    dest: /etc/git-sync/ssh
    mode: "0600"
  no_log: true
"""

RETURN = r"""
_value:
  description:
    - The private key in the layout OpenSSH expects. It has its armor lines, the body wrapped at
      70 (OpenSSH) or 64 (PEM) columns, LF line endings and exactly one final newline.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.mlops.eks_platform.plugins.module_utils.deploy_key_material import (
    DEFAULT_JSON_FIELD,
    DeployKeyError,
    normalize_private_key as _normalize,
)


def normalize_private_key(value, json_field=DEFAULT_JSON_FIELD):
    try:
        return _normalize(value, json_field=json_field).key
    except DeployKeyError as refusal:
        # Chaining is cut so that no frame of the parser travels with the
        # error; the message alone is safe to print.
        raise AnsibleFilterError(refusal.message) from None


class FilterModule:
    def filters(self):
        return {'normalize_private_key': normalize_private_key}
