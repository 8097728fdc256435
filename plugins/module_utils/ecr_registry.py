# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Moved to module_utils/ecr/registry.py; kept for bench/images.py and tests/tools/build_images.py."""

from __future__ import annotations

from ansible_collections.mlops.eks_platform.plugins.module_utils.ecr.registry import Registry
from ansible_collections.mlops.eks_platform.plugins.module_utils.ecr.registry import RegistryError

__all__ = ["Registry", "RegistryError"]
