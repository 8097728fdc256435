# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The attributes every module of mlops.eks_platform declares.

A module lists ``mlops.eks_platform.attributes`` in ``extends_documentation_fragment`` and states
in its own ``attributes`` block how far it supports check mode and diff mode; read-only modules
list ``mlops.eks_platform.attributes.info_module`` as well.
"""

from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods

    # The descriptions (as ansible.builtin.action_common_attributes gives them) and the platform.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target,
      if not supported the action will be skipped.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
    details:
      - The module talks to the AWS APIs from the host it runs on, usually the controller with
        C(connection=local) or C(delegate_to=localhost).
"""

    # Modules that only read.
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
"""
