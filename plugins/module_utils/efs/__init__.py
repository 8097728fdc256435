# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Amazon EFS for mlops.eks_platform's modules: ``resources`` plans (pure), ``api`` calls AWS and waits."""
