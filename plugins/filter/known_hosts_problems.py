# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# (GPL because filter plugins run inside the ansible-core process.)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: known_hosts_problems
short_description: List what is wrong with known_hosts text for git-sync
version_added: 0.1.0
description:
  - Checks known_hosts text line by line with the rules the M(mlops.eks_platform.git_deploy_key)
    module applies to its O(mlops.eks_platform.git_deploy_key#module:known_hosts) option, and
    returns every problem found. An empty list means the module will accept the text.
  - Every non-empty line that is not a comment must be an entry OpenSSH loads. An entry has an
    optional C(@cert-authority) or C(@revoked) marker, host patterns or a hashed C(|1|salt|hash)
    host, a key type, and base64 key data whose embedded key type is that key type.
  - Text with no entries, or with a private key in it, is refused as a whole.
  - Problems name line numbers, never the content of a line, so a private key pasted into the
    wrong variable is not echoed back.
  - Use it in a role's validation to refuse known_hosts before any API call.
options:
  _input:
    description: The known_hosts text, for example the output of C(ssh-keyscan -t ed25519 github.com).
    type: raw
    required: true
seealso:
  - module: mlops.eks_platform.git_deploy_key
author:
  - mlops.eks_platform maintainers (@mlops)
"""

EXAMPLES = r"""
- name: Refuse known_hosts that git-sync could not use
  ansible.builtin.assert:
    that: git_known_hosts | mlops.eks_platform.known_hosts_problems | length == 0
    fail_msg: "git_known_hosts: {{ git_known_hosts | mlops.eks_platform.known_hosts_problems | join('; ') }}"
"""

RETURN = r"""
_value:
  description:
    - "One phrase per problem, in line order, for example C(line 2: the hashed host name is not in |1|salt|hash form).
      Problems of the whole text are C(it has no entries), C(it holds a private key), C(it is not a string)
      and C(it is not UTF-8 text)."
    - An empty list when the text is valid.
  type: list
  elements: str
"""

from ansible_collections.mlops.eks_platform.plugins.module_utils.known_hosts import (
    known_hosts_problems as _known_hosts_problems,
)


def known_hosts_problems(value):
    return _known_hosts_problems(value)


class FilterModule:
    def filters(self):
        return {'known_hosts_problems': known_hosts_problems}
