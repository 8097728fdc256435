# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Waiting for EKS: an update (``DescribeUpdate`` until ``Successful``), a cluster, node group or
add-on to become ACTIVE or to be gone. Every wait goes through the collection's one waiter
(module_utils/waiter.py) with the module's poll interval.

EKS accepts one update of a cluster, node group or add-on at a time. Every update made by this
package is therefore waited for before the next one starts.
"""

from __future__ import annotations

import time

from ansible_collections.mlops.eks_platform.plugins.module_utils import waiter
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.api import get_addon
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.api import get_cluster
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.api import get_nodegroup
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import EksError
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import aws_call


DEFAULT_DELAY = waiter.DEFAULT_DELAY


def poll_interval(params):
    """Seconds between two polls of a wait: the module's wait_interval, else DEFAULT_DELAY."""
    return params.get("wait_interval") or DEFAULT_DELAY


def wait_until(fetch, done, what, timeout, delay=DEFAULT_DELAY, failed=None, sleep=time.sleep, clock=time.monotonic):
    """The collection's waiter (module_utils/waiter.py), failing with EksError. Checks first."""
    return waiter.wait_until(fetch, done, what, timeout, delay=delay, failed=failed, error=EksError, sleep=sleep,
                             clock=clock)


def wait_for_update(client, cluster_name, update, timeout, nodegroup=None, addon=None, sleep=time.sleep,
                    delay=DEFAULT_DELAY):
    """Wait until an EKS update (from Update* calls) is Successful."""
    kwargs = {"name": cluster_name, "updateId": update["id"]}
    if nodegroup:
        kwargs["nodegroupName"] = nodegroup
    if addon:
        kwargs["addonName"] = addon

    def fetch():
        return aws_call("describe update %s" % update["id"], client.describe_update, aws_retry=True, **kwargs)["update"]

    def failed(value):
        if value.get("status") in ("Failed", "Cancelled"):
            errors = "; ".join("%s: %s" % (e.get("errorCode"), e.get("errorMessage")) for e in value.get("errors", []))
            return "%s (%s)" % (value.get("status"), errors or "no details")
        return None

    return wait_until(fetch, lambda value: value.get("status") == "Successful",
                      "%s update %s of %s" % (update.get("type", "the"), update["id"], addon or nodegroup or cluster_name),
                      timeout, delay=delay, failed=failed, sleep=sleep)


def wait_cluster(client, name, timeout, sleep=time.sleep, delay=DEFAULT_DELAY):
    def failed(cluster):
        return "cluster status %s" % cluster["status"] if cluster and cluster.get("status") == "FAILED" else None
    return wait_until(lambda: get_cluster(client, name), lambda c: c is not None and c.get("status") == "ACTIVE",
                      "cluster %s to become ACTIVE" % name, timeout, delay=delay, failed=failed, sleep=sleep)


def wait_nodegroup(client, cluster_name, name, timeout, sleep=time.sleep, delay=DEFAULT_DELAY):
    def failed(group):
        if group and group.get("status") in ("CREATE_FAILED", "DEGRADED"):
            issues = "; ".join("%s: %s" % (i.get("code"), i.get("message"))
                               for i in (group.get("health") or {}).get("issues", []))
            return "node group status %s (%s)" % (group["status"], issues or "no details")
        return None
    return wait_until(lambda: get_nodegroup(client, cluster_name, name),
                      lambda g: g is not None and g.get("status") == "ACTIVE",
                      "node group %s to become ACTIVE" % name, timeout, delay=delay, failed=failed, sleep=sleep)


def wait_addon(client, cluster_name, name, timeout, sleep=time.sleep, delay=10):
    def failed(addon):
        if addon and addon.get("status") in ("CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED"):
            issues = "; ".join("%s: %s" % (i.get("code"), i.get("message"))
                               for i in (addon.get("health") or {}).get("issues", []))
            return "add-on status %s (%s)" % (addon["status"], issues or "no details")
        return None
    return wait_until(lambda: get_addon(client, cluster_name, name),
                      lambda a: a is not None and a.get("status") in ("ACTIVE", "DEGRADED"),
                      "add-on %s to become ACTIVE" % name, timeout, delay=delay, failed=failed, sleep=sleep)
