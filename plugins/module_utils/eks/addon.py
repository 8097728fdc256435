# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""EKS add-ons: the version to run (``default``, ``latest`` or exact, never a downgrade), their
configuration values, and creating, updating and deleting them."""

from __future__ import annotations

import json
import re
import time

from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.api import get_addon
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.api import get_cluster
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import EksError
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import aws_call
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.tagging import sync_tags
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.waiters import wait_addon
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.waiters import wait_for_update
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.waiters import wait_until


_ADDON_VERSION = re.compile(r"^v?(\d+(?:\.\d+)*)(?:-eksbuild\.(\d+))?")


def addon_version_key(version):
    """Sort key for add-on versions such as v1.20.4-eksbuild.1."""
    match = _ADDON_VERSION.match(version or "")
    if not match:
        return (0,)
    return tuple(int(p) for p in match.group(1).split(".")) + (int(match.group(2) or 0),)


def addon_versions(client, name, kubernetes_version):
    """[(version, is_default)] of an add-on for a Kubernetes version, newest first."""
    pages = []
    kwargs = {"addonName": name, "kubernetesVersion": kubernetes_version}
    while True:
        page = aws_call("list versions of add-on %s" % name, client.describe_addon_versions, aws_retry=True, **kwargs)
        pages.extend(page.get("addons", []))
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    versions = []
    for addon in pages:
        if addon.get("addonName") != name:
            continue
        for entry in addon.get("addonVersions", []):
            compat = [c for c in entry.get("compatibilities", []) if c.get("clusterVersion") == kubernetes_version]
            if compat:
                versions.append((entry["addonVersion"], any(c.get("defaultVersion") for c in compat)))
    return sorted(versions, key=lambda v: addon_version_key(v[0]), reverse=True)


def choose_addon_version(name, wanted, versions, kubernetes_version, current=None):
    """The add-on version to run. wanted is 'default', 'latest' or an exact version.

    'default' keeps a current version that is still compatible and not older than the default
    (EKS add-ons can not be downgraded), so a version someone raised on purpose stays.
    """
    names = [entry[0] for entry in versions]
    if not versions:
        raise EksError("Add-on %s has no version compatible with Kubernetes %s." % (name, kubernetes_version))
    if wanted in (None, "", "default"):
        defaults = [v for v, is_default in versions if is_default]
        target = defaults[0] if defaults else names[0]
    elif wanted == "latest":
        target = names[0]
    else:
        if wanted not in names:
            raise EksError("Add-on %s version %s is not compatible with Kubernetes %s; compatible versions: %s." % (
                name, wanted, kubernetes_version, ", ".join(names)))
        return wanted
    if current and current in names and addon_version_key(current) >= addon_version_key(target):
        return current
    return target


def normalize_configuration(value):
    """Configuration values as canonical JSON text (EKS takes JSON or YAML text); None when unset."""
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    text = str(value).strip()
    if not text:
        return ""
    try:
        return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return text


def ensure_addon(client, params, check_mode, sleep=time.sleep):
    """Create or update an EKS add-on. Returns (changed, addon, actions, warnings)."""
    cluster_name, name = params["cluster_name"], params["name"]
    timeout = params.get("wait_timeout", 1200)
    cluster = get_cluster(client, cluster_name)
    if cluster is None:
        raise EksError("Cluster %s does not exist." % cluster_name)
    kubernetes_version = cluster["version"]
    addon = get_addon(client, cluster_name, name)
    versions = addon_versions(client, name, kubernetes_version)
    version = choose_addon_version(name, params.get("version"), versions, kubernetes_version,
                                   current=(addon or {}).get("addonVersion"))
    role = params.get("service_account_role_arn")
    configuration = normalize_configuration(params.get("configuration_values"))
    warnings = []
    if addon is None:
        request = {"clusterName": cluster_name, "addonName": name, "addonVersion": version,
                   "resolveConflicts": params.get("resolve_conflicts") or "OVERWRITE"}
        if role:
            request["serviceAccountRoleArn"] = role
        if configuration:
            request["configurationValues"] = configuration
        if params.get("tags"):
            request["tags"] = {k: str(v) for k, v in params["tags"].items()}
        if check_mode:
            return True, {"addonName": name, "addonVersion": version}, ["create add-on %s %s" % (name, version)], []
        addon = aws_call("create add-on %s" % name, client.create_addon, aws_retry=True, **request)["addon"]
        if params.get("wait", True):
            addon = wait_addon(client, cluster_name, name, timeout, sleep=sleep)
        if addon.get("status") == "DEGRADED":
            warnings.append("Add-on %s is DEGRADED: %s" % (name, (addon.get("health") or {}).get("issues")))
        return True, addon, ["create add-on %s %s" % (name, version)], warnings

    if addon.get("status") in ("CREATING", "UPDATING") and not check_mode:
        addon = wait_addon(client, cluster_name, name, timeout, sleep=sleep)
    update = {}
    actions = []
    if version != addon.get("addonVersion"):
        if addon_version_key(version) < addon_version_key(addon.get("addonVersion")):
            raise EksError("Add-on %s runs %s; EKS can not downgrade it to %s." % (
                name, addon.get("addonVersion"), version))
        update["addonVersion"] = version
        actions.append("version %s -> %s" % (addon.get("addonVersion"), version))
    if role is not None and role != (addon.get("serviceAccountRoleArn") or ""):
        update["serviceAccountRoleArn"] = role
        actions.append("service account role")
    if configuration is not None and configuration != normalize_configuration(addon.get("configurationValues") or ""):
        update["configurationValues"] = configuration
        actions.append("configuration values")
    changed = bool(update)
    if update and not check_mode:
        update.update({"clusterName": cluster_name, "addonName": name,
                       "resolveConflicts": params.get("resolve_conflicts") or "OVERWRITE"})
        result = aws_call("update add-on %s" % name, client.update_addon, aws_retry=True, **update)["update"]
        wait_for_update(client, cluster_name, result, timeout, addon=name, sleep=sleep, delay=10)
        if params.get("wait", True):
            wait_addon(client, cluster_name, name, timeout, sleep=sleep)
    if sync_tags(client, addon["addonArn"], addon.get("tags"), params.get("tags"), params.get("purge_tags", True),
                 check_mode):
        changed = True
        actions.append("tags")
    if changed and not check_mode:
        addon = get_addon(client, cluster_name, name)
    elif changed:
        addon = dict(addon, addonVersion=version)
    return changed, addon, actions, warnings


def delete_addon(client, params, check_mode, sleep=time.sleep):
    cluster_name, name = params["cluster_name"], params["name"]
    addon = get_addon(client, cluster_name, name)
    if addon is None:
        return False
    changed = addon.get("status") != "DELETING"
    if check_mode:
        return changed
    if changed:
        aws_call("delete add-on %s" % name, client.delete_addon, aws_retry=True, clusterName=cluster_name,
                 addonName=name, preserve=bool(params.get("preserve")))
    if params.get("wait", True):
        wait_until(lambda: get_addon(client, cluster_name, name), lambda a: a is None,
                   "add-on %s to be deleted" % name, params.get("wait_timeout", 1200), delay=10, sleep=sleep)
    return changed
