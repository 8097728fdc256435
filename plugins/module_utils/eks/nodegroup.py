# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""EKS managed node groups: scaling, Kubernetes labels and taints checked as EKS and Kubernetes
check them, the updates that bring a group to the module's parameters, and creating, updating and
deleting it."""

from __future__ import annotations

import re
import time

from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.api import get_cluster
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.api import get_nodegroup
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import EksError
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import aws_call
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import minor_version
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.tagging import sync_tags
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.waiters import poll_interval
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.waiters import wait_for_update
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.waiters import wait_nodegroup
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.waiters import wait_until


TAINT_EFFECTS = {
    "NoSchedule": "NO_SCHEDULE",
    "NoExecute": "NO_EXECUTE",
    "PreferNoSchedule": "PREFER_NO_SCHEDULE",
    "NO_SCHEDULE": "NO_SCHEDULE",
    "NO_EXECUTE": "NO_EXECUTE",
    "PREFER_NO_SCHEDULE": "PREFER_NO_SCHEDULE",
}


def normalize_taints(taints):
    """Taints in EKS API form, sorted: accepts NoSchedule as well as NO_SCHEDULE."""
    result = []
    for taint in taints or []:
        effect = TAINT_EFFECTS.get(taint.get("effect") or "")
        if effect is None:
            raise EksError("Taint %r: effect must be NoSchedule, NoExecute or PreferNoSchedule." % (taint,))
        entry = {"key": taint["key"], "effect": effect}
        if taint.get("value") not in (None, ""):
            entry["value"] = str(taint["value"])
        result.append(entry)
    return sorted(result, key=lambda t: (t["key"], t["effect"], t.get("value", "")))


_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def invalid_label_key(key):
    """Why key is not a Kubernetes label (or taint) key, or None. [prefix/]name, prefix a DNS subdomain."""
    prefix, name = str(key).rpartition("/")[::2]
    if not _LABEL_NAME.match(name):
        return "%r: the name part must be 1-63 letters, digits, '-', '_' or '.', starting and ending alphanumeric" % key
    if "/" in str(key) and (not prefix or len(prefix) > 253 or not _LABEL_PREFIX.match(prefix)):
        return "%r: the prefix must be a lower-case DNS subdomain (letters, digits, '-' and '.', no '_')" % key
    return None


def check_labels_and_taints(labels, taints):
    problems = []
    for key, value in (labels or {}).items():
        problems.append(invalid_label_key(key))
        if str(value) and not _LABEL_NAME.match(str(value)):
            problems.append("label %r: the value %r must be empty or 1-63 letters, digits, '-', '_' or '.'" % (key, value))
    for taint in taints or []:
        problems.append(invalid_label_key(taint.get("key", "")))
        value = taint.get("value")
        if value not in (None, "") and not _LABEL_NAME.match(str(value)):
            problems.append("taint %r: the value %r must be 1-63 letters, digits, '-', '_' or '.'" % (taint.get("key"), value))
    problems = [p for p in problems if p]
    if problems:
        raise EksError("Invalid Kubernetes labels or taints: %s" % "; ".join(problems))


def label_changes(current, desired):
    current = current or {}
    add = {k: str(v) for k, v in (desired or {}).items() if current.get(k) != str(v)}
    remove = sorted(k for k in current if k not in (desired or {}))
    return add, remove


def taint_changes(current, desired):
    current, desired = normalize_taints(current), normalize_taints(desired)
    add = [t for t in desired if t not in current]
    wanted_keys = {(t["key"], t["effect"]) for t in desired}
    remove = [t for t in current if (t["key"], t["effect"]) not in wanted_keys]
    return add, remove


def _update_config(params):
    config = params.get("update_config") or {}
    if config.get("max_unavailable_percentage"):
        return {"maxUnavailablePercentage": config["max_unavailable_percentage"]}
    if config.get("max_unavailable"):
        return {"maxUnavailable": config["max_unavailable"]}
    return None


def check_scaling(params):
    check_labels_and_taints(params.get("labels"), params.get("taints"))
    low, high, desired = params.get("min_size"), params.get("max_size"), params.get("desired_size")
    if low is None or high is None:
        raise EksError("min_size and max_size are required.")
    if low < 0 or high < 1 or low > high:
        raise EksError("Scaling: need 0 <= min_size <= max_size and max_size >= 1 (got min %s, max %s)." % (low, high))
    if desired is not None and not low <= desired <= high:
        raise EksError("desired_size %s is outside min_size %s and max_size %s." % (desired, low, high))


def create_nodegroup_request(params):
    check_scaling(params)
    desired = params.get("desired_size")
    request = {
        "clusterName": params["cluster_name"],
        "nodegroupName": params["name"],
        "nodeRole": params["node_role"],
        "subnets": list(params["subnets"]),
        "scalingConfig": {"minSize": params["min_size"], "maxSize": params["max_size"],
                          "desiredSize": params["min_size"] if desired is None else desired},
        "labels": {k: str(v) for k, v in (params.get("labels") or {}).items()},
        "taints": normalize_taints(params.get("taints")),
        "capacityType": params.get("capacity_type") or "ON_DEMAND",
    }
    for key, api in (("instance_types", "instanceTypes"), ("ami_type", "amiType"), ("disk_size", "diskSize"),
                     ("version", "version"), ("release_version", "releaseVersion")):
        if params.get(key):
            request[api] = list(params[key]) if key == "instance_types" else params[key]
    config = _update_config(params)
    if config:
        request["updateConfig"] = config
    if params.get("tags"):
        request["tags"] = {k: str(v) for k, v in params["tags"].items()}
    return request


def immutable_differences(nodegroup, params):
    differences = []

    def differ(key, api, have_norm=None):
        wanted = params.get(key)
        have = nodegroup.get(api)
        if wanted in (None, [], ""):
            return
        if have_norm:
            wanted, have = have_norm(wanted), have_norm(have or [])
        if wanted != have:
            differences.append("%s (is %s, asked for %s)" % (key, have, wanted))

    differ("node_role", "nodeRole")
    differ("subnets", "subnets", sorted)
    differ("instance_types", "instanceTypes", sorted)
    differ("ami_type", "amiType")
    differ("capacity_type", "capacityType")
    if not nodegroup.get("launchTemplate"):
        differ("disk_size", "diskSize", int)
    return differences


def plan_nodegroup_updates(nodegroup, params, cluster_version=None):
    """[(description, method, request)] for an existing node group; EksError for immutable changes."""
    differences = immutable_differences(nodegroup, params)
    if differences:
        raise EksError("Node group %s can not change %s in place; create a node group with a new name (or delete "
                       "this one first)." % (params["name"], "; ".join(differences)))
    check_scaling(params)
    base = {"clusterName": params["cluster_name"], "nodegroupName": params["name"]}
    config = {}
    scaling = nodegroup.get("scalingConfig") or {}
    low, high = params["min_size"], params["max_size"]
    if scaling.get("minSize") != low or scaling.get("maxSize") != high:
        current = scaling.get("desiredSize", low)
        config["scalingConfig"] = {"minSize": low, "maxSize": high, "desiredSize": min(max(current, low), high)}
    add, remove = label_changes(nodegroup.get("labels"), params["labels"]) if params.get("labels") is not None \
        else ({}, [])
    if add or remove:
        config["labels"] = {}
        if add:
            config["labels"]["addOrUpdateLabels"] = add
        if remove:
            config["labels"]["removeLabels"] = remove
    add_t, remove_t = taint_changes(nodegroup.get("taints"), params["taints"]) if params.get("taints") is not None \
        else ([], [])
    if add_t or remove_t:
        config["taints"] = {}
        if add_t:
            config["taints"]["addOrUpdateTaints"] = add_t
        if remove_t:
            config["taints"]["removeTaints"] = remove_t
    wanted_update = _update_config(params)
    if wanted_update and (nodegroup.get("updateConfig") or {}) != wanted_update:
        config["updateConfig"] = wanted_update
    plan = []
    if config:
        described = ", ".join(sorted({"scalingConfig": "scaling", "labels": "labels", "taints": "taints",
                                      "updateConfig": "update config"}[k] for k in config))
        request = dict(base)
        request.update(config)
        plan.append((described, "update_nodegroup_config", request))
    wanted_version = params.get("version") or None
    if wanted_version and cluster_version and minor_version(wanted_version) > minor_version(cluster_version):
        raise EksError("Node group version %s is newer than the control plane (%s)." % (wanted_version, cluster_version))
    version_request = {}
    if wanted_version and nodegroup.get("version") and \
            minor_version(wanted_version) != minor_version(nodegroup["version"]):
        if minor_version(wanted_version) < minor_version(nodegroup["version"]):
            raise EksError("Node group %s runs %s; it can not be downgraded to %s." % (
                params["name"], nodegroup["version"], wanted_version))
        version_request["version"] = wanted_version
    if params.get("release_version") and params["release_version"] != nodegroup.get("releaseVersion"):
        version_request["releaseVersion"] = params["release_version"]
    if version_request:
        request = dict(base)
        request.update(version_request)
        plan.append(("version %s" % (version_request.get("version") or version_request.get("releaseVersion")),
                     "update_nodegroup_version", request))
    return plan


def ensure_nodegroup(client, params, check_mode, sleep=time.sleep):
    """Create or update a managed node group. Returns (changed, nodegroup, actions)."""
    cluster_name, name = params["cluster_name"], params["name"]
    timeout = params.get("wait_timeout", 2400)
    delay = poll_interval(params)
    nodegroup = get_nodegroup(client, cluster_name, name)
    if nodegroup is None:
        check_scaling(params)
        if check_mode:
            return True, {}, ["create node group %s" % name]
        for required in ("node_role", "subnets"):
            if not params.get(required):
                raise EksError("%s is required to create node group %s." % (required, name))
        request = create_nodegroup_request(params)
        nodegroup = aws_call("create node group %s" % name, client.create_nodegroup, aws_retry=True,
                             **request)["nodegroup"]
        if params.get("wait", True):
            nodegroup = wait_nodegroup(client, cluster_name, name, timeout, sleep=sleep, delay=delay)
        return True, nodegroup, ["create node group %s" % name]

    if nodegroup.get("status") in ("CREATING", "UPDATING") and not check_mode:
        nodegroup = wait_nodegroup(client, cluster_name, name, timeout, sleep=sleep, delay=delay)
    cluster = get_cluster(client, cluster_name) or {}
    plan = plan_nodegroup_updates(nodegroup, params, cluster.get("version"))
    actions = [step[0] for step in plan]
    changed = bool(plan)
    if not check_mode:
        for description, method, request in plan:
            update = aws_call("update %s of node group %s" % (description, name), getattr(client, method),
                              aws_retry=True, **request)["update"]
            wait_for_update(client, cluster_name, update, timeout, nodegroup=name, sleep=sleep, delay=delay)
            wait_nodegroup(client, cluster_name, name, timeout, sleep=sleep, delay=delay)
    if sync_tags(client, nodegroup["nodegroupArn"], nodegroup.get("tags"), params.get("tags"),
                 params.get("purge_tags", True), check_mode):
        changed = True
        actions.append("tags")
    if changed and not check_mode:
        nodegroup = get_nodegroup(client, cluster_name, name)
    return changed, nodegroup, actions


def delete_nodegroup(client, params, check_mode, sleep=time.sleep):
    cluster_name, name = params["cluster_name"], params["name"]
    nodegroup = get_nodegroup(client, cluster_name, name)
    if nodegroup is None:
        return False
    changed = nodegroup.get("status") != "DELETING"
    if changed and check_mode:
        return True
    if changed:
        aws_call("delete node group %s" % name, client.delete_nodegroup, aws_retry=True, clusterName=cluster_name,
                 nodegroupName=name)
    if params.get("wait", True):
        wait_until(lambda: get_nodegroup(client, cluster_name, name), lambda g: g is None,
                   "node group %s to be deleted" % name, params.get("wait_timeout", 2400), delay=poll_interval(params),
                   sleep=sleep)
    return changed
