# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Logic behind the EKS modules of mlops.eks_platform (control plane, managed node groups, add-ons).

Everything here works on a boto3 EKS client that takes ``aws_retry=True`` (a client from
``AnsibleAWSModule.client(..., retry_decorator=retry.retry_decorator(...))``) and plain
dictionaries, so that it can be unit-tested with botocore's Stubber and no Ansible module. Failures
are raised as :class:`EksError`; the modules turn them into ``fail_json``.

EKS accepts one update of a cluster, node group or add-on at a time. Every update made here is
therefore waited for (``DescribeUpdate`` until ``Successful``) before the next one starts.
"""

from __future__ import annotations

import json
import re
import time

try:
    import botocore
except ImportError:  # pragma: no cover - the modules report the missing library
    botocore = None

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags
from ansible_collections.mlops.eks_platform.plugins.module_utils import waiter

LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
AUTHENTICATION_MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")
TAINT_EFFECTS = {
    "NoSchedule": "NO_SCHEDULE",
    "NoExecute": "NO_EXECUTE",
    "PreferNoSchedule": "PREFER_NO_SCHEDULE",
    "NO_SCHEDULE": "NO_SCHEDULE",
    "NO_EXECUTE": "NO_EXECUTE",
    "PREFER_NO_SCHEDULE": "PREFER_NO_SCHEDULE",
}
_VERSION = re.compile(r"^(\d+)\.(\d+)$")
_ADDON_VERSION = re.compile(r"^v?(\d+(?:\.\d+)*)(?:-eksbuild\.(\d+))?")
DEFAULT_DELAY = waiter.DEFAULT_DELAY

# Some EKS calls fail with ResourceInUseException while an earlier update still settles.
RETRY_CODES = ["ResourceInUseException", "ServerException", "ServiceUnavailableException"]


class EksError(Exception):
    """A failure to report with fail_json; ``exception`` is the botocore error when there is one."""

    def __init__(self, msg, exception=None, **extra):
        super().__init__(msg)
        self.msg = msg
        self.exception = exception
        self.extra = extra


def snake_result(resource):
    """camel_dict_to_snake_dict that leaves tag keys and Kubernetes label keys alone."""
    return camel_dict_to_snake_dict(resource or {}, ignore_list=["tags", "labels"])


def run(module, func, *args, **kwargs):
    """Call func, turning EksError into fail_json / fail_json_aws."""
    try:
        return func(*args, **kwargs)
    except EksError as exc:
        if exc.exception is not None:
            module.fail_json_aws(exc.exception, msg=exc.msg, **exc.extra)
        module.fail_json(msg=exc.msg, **exc.extra)


def aws_call(what, func, *args, **kwargs):
    """Call the API and turn botocore errors into EksError('Failed to <what>')."""
    try:
        return func(*args, **kwargs)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise EksError("Failed to %s: %s" % (what, exc), exception=exc)


# ---------------------------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------------------------
def minor_version(version):
    """'1.33' -> (1, 33); EksError for anything that is not MAJOR.MINOR."""
    match = _VERSION.match(str(version or "").strip())
    if not match:
        raise EksError("Kubernetes version %r is not of the form MAJOR.MINOR, for example 1.33" % (version,))
    return int(match.group(1)), int(match.group(2))


def upgrade_path(current, desired):
    """The minor versions an upgrade goes through, one at a time: ('1.31', '1.34') -> ['1.32', '1.33', '1.34']."""
    have, want = minor_version(current), minor_version(desired)
    if want < have:
        raise EksError("The cluster runs Kubernetes %s; it can not be downgraded to %s. EKS only upgrades." % (
            current, desired))
    if want[0] != have[0]:
        raise EksError("Upgrading across major versions (%s to %s) is not supported." % (current, desired))
    return ["%d.%d" % (have[0], minor) for minor in range(have[1] + 1, want[1] + 1)]


def addon_version_key(version):
    """Sort key for add-on versions such as v1.20.4-eksbuild.1."""
    match = _ADDON_VERSION.match(version or "")
    if not match:
        return (0,)
    return tuple(int(p) for p in match.group(1).split(".")) + (int(match.group(2) or 0),)


# ---------------------------------------------------------------------------------------------
# Waiting
# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# Tags (EKS TagResource/UntagResource work on clusters, node groups and add-ons alike)
# ---------------------------------------------------------------------------------------------
def tag_changes(current, desired, purge):
    """(to_set, to_remove) to move current tags to desired; desired None means tags are not managed.

    amazon.aws's ``compare_aws_tags`` decides (it never removes the ``aws:`` keys that belong to AWS);
    the values to set are strings and the keys to remove sorted, as the EKS and IAM APIs get them.
    """
    if desired is None:
        return {}, []
    to_set, to_remove = compare_aws_tags(current or {}, desired, purge_tags=purge)
    return {k: str(v) for k, v in to_set.items()}, sorted(to_remove)


def sync_tags(client, arn, current, desired, purge, check_mode):
    to_set, to_remove = tag_changes(current, desired, purge)
    if check_mode:
        return bool(to_set or to_remove)
    if to_remove:
        aws_call("untag %s" % arn, client.untag_resource, aws_retry=True, resourceArn=arn, tagKeys=to_remove)
    if to_set:
        aws_call("tag %s" % arn, client.tag_resource, aws_retry=True, resourceArn=arn, tags=to_set)
    return bool(to_set or to_remove)


# ---------------------------------------------------------------------------------------------
# Control plane
# ---------------------------------------------------------------------------------------------
def get_cluster(client, name):
    try:
        return client.describe_cluster(aws_retry=True, name=name)["cluster"]
    except is_boto3_error_code("ResourceNotFoundException"):
        return None
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:  # pylint: disable=duplicate-except
        raise EksError("Failed to describe cluster %s: %s" % (name, exc), exception=exc)


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


def wait_cluster(client, name, timeout, sleep=time.sleep, delay=DEFAULT_DELAY):
    def failed(cluster):
        return "cluster status %s" % cluster["status"] if cluster and cluster.get("status") == "FAILED" else None
    return wait_until(lambda: get_cluster(client, name), lambda c: c is not None and c.get("status") == "ACTIVE",
                      "cluster %s to become ACTIVE" % name, timeout, delay=delay, failed=failed, sleep=sleep)


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


# ---------------------------------------------------------------------------------------------
# Managed node groups
# ---------------------------------------------------------------------------------------------
def get_nodegroup(client, cluster_name, name):
    try:
        return client.describe_nodegroup(aws_retry=True, clusterName=cluster_name, nodegroupName=name)["nodegroup"]
    except is_boto3_error_code("ResourceNotFoundException"):
        return None
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:  # pylint: disable=duplicate-except
        raise EksError("Failed to describe node group %s: %s" % (name, exc), exception=exc)


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


# ---------------------------------------------------------------------------------------------
# Add-ons
# ---------------------------------------------------------------------------------------------
def get_addon(client, cluster_name, name):
    try:
        return client.describe_addon(aws_retry=True, clusterName=cluster_name, addonName=name)["addon"]
    except is_boto3_error_code("ResourceNotFoundException"):
        return None
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:  # pylint: disable=duplicate-except
        raise EksError("Failed to describe add-on %s: %s" % (name, exc), exception=exc)


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
