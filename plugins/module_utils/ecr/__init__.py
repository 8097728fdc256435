# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Amazon ECR images for the ecr_image module.

- ``image``: the repository and image plan and the ECR calls (EcrImage)
- ``context``: the digest of a build context, as the builders see it
- ``builder``: the image builders (docker, podman, buildah) run as programs
- ``registry``: the registry's HTTP API (manifests) without a builder
"""
