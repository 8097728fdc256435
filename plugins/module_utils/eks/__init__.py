# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Amazon EKS for mlops.eks_platform's modules, one concern per module (import from them, not from here).

- ``common``: EksError, the retried error codes, results, Kubernetes versions
- ``api``: the reads (describe and list)
- ``tagging``: tags of clusters, node groups and add-ons
- ``waiters``: updates, clusters, node groups and add-ons waited for with the collection's waiter
- ``cluster``, ``nodegroup``, ``addon``: each resource's plan and its create, update and delete
- ``oidc``: the IAM OIDC provider of a cluster's issuer (IRSA)
- ``kubeconfig``: EKS tokens and kubeconfig entries
"""
