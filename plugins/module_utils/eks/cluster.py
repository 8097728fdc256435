# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The EKS control plane: the CreateCluster request, the updates (in the order EKS must get them)
that bring a cluster to the module's parameters, and creating, updating and deleting it."""

from __future__ import annotations

import time

from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.api import get_cluster
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import EksError
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import aws_call
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import minor_version
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import upgrade_path
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.tagging import sync_tags
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.waiters import poll_interval
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.waiters import wait_cluster
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.waiters import wait_for_update
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.waiters import wait_until


LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
AUTHENTICATION_MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")


def enabled_log_types(cluster):
    enabled = set()
    for entry in (cluster.get("logging") or {}).get("clusterLogging", []):
        for kind in entry.get("types", []):
            if entry.get("enabled"):
                enabled.add(kind)
            else:
                enabled.discard(kind)
    return enabled


def logging_payload(enabled):
    enabled = set(enabled)
    groups = []
    on = [t for t in LOG_TYPES if t in enabled]
    off = [t for t in LOG_TYPES if t not in enabled]
    if on:
        groups.append({"types": on, "enabled": True})
    if off:
        groups.append({"types": off, "enabled": False})
    return {"clusterLogging": groups}


def encryption_key(cluster):
    for entry in cluster.get("encryptionConfig") or []:
        if "secrets" in entry.get("resources", []):
            return (entry.get("provider") or {}).get("keyArn")
    return None


def _endpoint_wanted(params):
    wanted = {}
    if params.get("endpoint_public_access") is not None:
        wanted["endpointPublicAccess"] = params["endpoint_public_access"]
    if params.get("endpoint_private_access") is not None:
        wanted["endpointPrivateAccess"] = params["endpoint_private_access"]
    if params.get("public_access_cidrs") is not None and params.get("endpoint_public_access") is not False:
        wanted["publicAccessCidrs"] = sorted(params["public_access_cidrs"])
    return wanted


def create_cluster_request(params):
    """The CreateCluster request for the module parameters."""
    vpc = {"subnetIds": list(params["subnets"])}
    if params.get("security_groups"):
        vpc["securityGroupIds"] = list(params["security_groups"])
    vpc.update(_endpoint_wanted(params))
    request = {"name": params["name"], "roleArn": params["role_arn"], "resourcesVpcConfig": vpc}
    if params.get("version"):
        minor_version(params["version"])
        request["version"] = params["version"]
    if params.get("logging") is not None:
        request["logging"] = logging_payload(params["logging"])
    if params.get("service_ipv4_cidr"):
        request["kubernetesNetworkConfig"] = {"serviceIpv4Cidr": params["service_ipv4_cidr"]}
    if params.get("encryption_key_arn"):
        request["encryptionConfig"] = [{"resources": ["secrets"], "provider": {"keyArn": params["encryption_key_arn"]}}]
    if params.get("authentication_mode"):
        request["accessConfig"] = {"authenticationMode": params["authentication_mode"],
                                   "bootstrapClusterCreatorAdminPermissions": True}
    if params.get("tags"):
        request["tags"] = {k: str(v) for k, v in params["tags"].items()}
    return request


def plan_cluster_updates(cluster, params):
    """The updates (in the order EKS must get them) that bring an existing cluster to params.

    Returns a list of (description, method name, request) tuples. Version steps come first, one
    minor version each. Raises EksError for changes EKS can not make.
    """
    name = cluster["name"]
    plan = []
    if params.get("version"):
        for step in upgrade_path(cluster["version"], params["version"]):
            plan.append(("version %s" % step, "update_cluster_version", {"name": name, "version": step}))

    current_vpc = cluster.get("resourcesVpcConfig") or {}
    vpc_change = {}
    if params.get("subnets") is not None and sorted(params["subnets"]) != sorted(current_vpc.get("subnetIds") or []):
        vpc_change["subnetIds"] = list(params["subnets"])
    if params.get("security_groups") is not None and \
            sorted(params["security_groups"]) != sorted(current_vpc.get("securityGroupIds") or []):
        vpc_change["securityGroupIds"] = list(params["security_groups"])
    if vpc_change:
        plan.append(("subnets and security groups", "update_cluster_config",
                     {"name": name, "resourcesVpcConfig": vpc_change}))

    endpoint = {}
    for key, value in _endpoint_wanted(params).items():
        have = current_vpc.get(key)
        if key == "publicAccessCidrs":
            have = sorted(have or [])
        if have != value:
            endpoint[key] = value
    if endpoint:
        if "publicAccessCidrs" not in endpoint and params.get("public_access_cidrs") is not None \
                and params.get("endpoint_public_access") is not False:
            endpoint["publicAccessCidrs"] = sorted(params["public_access_cidrs"])
        plan.append(("endpoint access", "update_cluster_config", {"name": name, "resourcesVpcConfig": endpoint}))

    if params.get("logging") is not None and enabled_log_types(cluster) != set(params["logging"]):
        plan.append(("control plane logging", "update_cluster_config",
                     {"name": name, "logging": logging_payload(params["logging"])}))

    wanted_mode = params.get("authentication_mode")
    have_mode = (cluster.get("accessConfig") or {}).get("authenticationMode")
    if wanted_mode and have_mode and wanted_mode != have_mode:
        if AUTHENTICATION_MODES.index(wanted_mode) < AUTHENTICATION_MODES.index(have_mode):
            raise EksError("authentication_mode can only move CONFIG_MAP -> API_AND_CONFIG_MAP -> API; "
                           "the cluster uses %s, asked for %s." % (have_mode, wanted_mode))
        plan.append(("authentication mode %s" % wanted_mode, "update_cluster_config",
                     {"name": name, "accessConfig": {"authenticationMode": wanted_mode}}))

    have_key = encryption_key(cluster)
    wanted_key = params.get("encryption_key_arn")
    if wanted_key and have_key and have_key != wanted_key:
        raise EksError("Secrets of cluster %s are encrypted with %s; EKS can not change the key to %s." % (
            name, have_key, wanted_key))
    if wanted_key and not have_key:
        plan.append(("secrets encryption", "associate_encryption_config", {
            "clusterName": name,
            "encryptionConfig": [{"resources": ["secrets"], "provider": {"keyArn": wanted_key}}]}))

    wanted_cidr = params.get("service_ipv4_cidr")
    have_cidr = (cluster.get("kubernetesNetworkConfig") or {}).get("serviceIpv4Cidr")
    if wanted_cidr and have_cidr and wanted_cidr != have_cidr:
        raise EksError("service_ipv4_cidr is fixed when a cluster is created (%s); recreate the cluster to use %s." % (
            have_cidr, wanted_cidr))
    if params.get("role_arn") and cluster.get("roleArn") and params["role_arn"] != cluster["roleArn"]:
        raise EksError("The cluster role is fixed when a cluster is created (%s); recreate the cluster to use %s." % (
            cluster["roleArn"], params["role_arn"]))
    return plan


def ensure_cluster(client, params, check_mode, sleep=time.sleep):
    """Create or update the control plane. Returns (changed, cluster, actions)."""
    name = params["name"]
    timeout = params.get("wait_timeout", 2400)
    delay = poll_interval(params)
    cluster = get_cluster(client, name)
    if cluster is None:
        if check_mode:
            # What the cluster needs may itself only exist after a real run (role, subnets).
            return True, {}, ["create cluster %s" % name]
        for required in ("role_arn", "subnets"):
            if not params.get(required):
                raise EksError("%s is required to create cluster %s." % (required, name))
        request = create_cluster_request(params)
        cluster = aws_call("create cluster %s" % name, client.create_cluster, aws_retry=True, **request)["cluster"]
        if params.get("wait", True):
            cluster = wait_cluster(client, name, timeout, sleep=sleep, delay=delay)
        return True, cluster, ["create cluster %s" % name]

    if cluster.get("status") in ("CREATING", "UPDATING") and not check_mode:
        cluster = wait_cluster(client, name, timeout, sleep=sleep, delay=delay)
    elif cluster.get("status") not in ("ACTIVE", "CREATING", "UPDATING"):
        raise EksError("Cluster %s is %s; it can only be changed when ACTIVE." % (name, cluster.get("status")))

    plan = plan_cluster_updates(cluster, params)
    actions = [step[0] for step in plan]
    changed = bool(plan)
    if not check_mode:
        for description, method, request in plan:
            update = aws_call("update %s of cluster %s" % (description, name), getattr(client, method),
                              aws_retry=True, **request)["update"]
            wait_for_update(client, name, update, timeout, sleep=sleep, delay=delay)
            wait_cluster(client, name, timeout, sleep=sleep, delay=delay)
    tag_arn = cluster["arn"]
    if sync_tags(client, tag_arn, cluster.get("tags"), params.get("tags"), params.get("purge_tags", True), check_mode):
        changed = True
        actions.append("tags")
    if changed and not check_mode:
        cluster = get_cluster(client, name)
    return changed, cluster, actions


def delete_cluster(client, params, check_mode, sleep=time.sleep):
    """Delete the control plane (its node groups must be gone). Returns (changed, actions)."""
    name = params["name"]
    timeout = params.get("wait_timeout", 2400)
    cluster = get_cluster(client, name)
    if cluster is None:
        return False, []
    if cluster.get("status") != "DELETING":
        groups = aws_call("list node groups of %s" % name, client.list_nodegroups, aws_retry=True,
                          clusterName=name).get("nodegroups", [])
        if groups:
            raise EksError("Cluster %s still has node groups (%s); delete them first." % (name, ", ".join(groups)))
        if check_mode:
            return True, ["delete cluster %s" % name]
        aws_call("delete cluster %s" % name, client.delete_cluster, aws_retry=True, name=name)
    if params.get("wait", True) and not check_mode:
        wait_until(lambda: get_cluster(client, name), lambda c: c is None, "cluster %s to be deleted" % name, timeout,
                   delay=poll_interval(params), sleep=sleep)
    return cluster.get("status") != "DELETING", ["delete cluster %s" % name]
