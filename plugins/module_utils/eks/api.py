# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The EKS reads: describe a cluster, node group or add-on (None when it does not exist) and list
what a cluster holds. Calls go through the client's ``AWSRetry.jittered_backoff`` (``aws_retry=True``)."""

from __future__ import annotations

try:
    import botocore
except ImportError:  # pragma: no cover - the modules report the missing library
    botocore = None

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import EksError
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import aws_call


def get_cluster(client, name):
    try:
        return client.describe_cluster(aws_retry=True, name=name)["cluster"]
    except is_boto3_error_code("ResourceNotFoundException"):
        return None
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:  # pylint: disable=duplicate-except
        raise EksError("Failed to describe cluster %s: %s" % (name, exc), exception=exc)


def get_nodegroup(client, cluster_name, name):
    try:
        return client.describe_nodegroup(aws_retry=True, clusterName=cluster_name, nodegroupName=name)["nodegroup"]
    except is_boto3_error_code("ResourceNotFoundException"):
        return None
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:  # pylint: disable=duplicate-except
        raise EksError("Failed to describe node group %s: %s" % (name, exc), exception=exc)


def get_addon(client, cluster_name, name):
    try:
        return client.describe_addon(aws_retry=True, clusterName=cluster_name, addonName=name)["addon"]
    except is_boto3_error_code("ResourceNotFoundException"):
        return None
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:  # pylint: disable=duplicate-except
        raise EksError("Failed to describe add-on %s: %s" % (name, exc), exception=exc)


def _list_all(client, method, key, **kwargs):
    names = []
    while True:
        page = aws_call("list %s" % key, getattr(client, method), aws_retry=True, **kwargs)
        names.extend(page.get(key, []))
        if not page.get("nextToken"):
            return names
        kwargs["nextToken"] = page["nextToken"]


def describe_cluster_inventory(client, name):
    """(cluster or None, node group names, add-on names)."""
    cluster = get_cluster(client, name)
    if cluster is None:
        return None, [], []
    return (cluster, sorted(_list_all(client, "list_nodegroups", "nodegroups", clusterName=name)),
            sorted(_list_all(client, "list_addons", "addons", clusterName=name)))
