# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A listing of everything in the emulated AWS account and in the cluster, for tests that must
show that a run changed nothing (bad input) or left nothing of the platform behind (teardown).

moto's resourcegroupstaggingapi does not cover IAM, EKS, RDS or ECR, so every service is listed
through its own API, with the tags of each resource. A resource is one tuple
``(service, kind, id, state, tags)`` with ``tags`` a sorted tuple of (key, value) pairs.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess

PLATFORM_TAG_KEYS = ("ManagedBy", "mlops.eks_platform/cluster")
PLATFORM_MANAGED_BY = "mlops.eks_platform"
# Kinds listed in the cluster. Events, leases, pods and endpoints change on their own (kubelets,
# controllers, kwok) and are left out; the objects a role creates or deletes are all here.
KUBE_KINDS = ("namespaces,secrets,configmaps,serviceaccounts,persistentvolumeclaims,persistentvolumes,"
              "storageclasses,deployments,statefulsets,daemonsets,jobs,services,ingresses,roles,rolebindings,"
              "clusterroles,clusterrolebindings,poddisruptionbudgets")
# The content of these kinds is compared too (resourceVersion); the others by identity (uid).
KUBE_CONTENT_KINDS = ("Secret", "ConfigMap", "Namespace")


def _tags(pairs, key="Key", value="Value"):
    if isinstance(pairs, dict):
        return tuple(sorted((str(k), str(v)) for k, v in pairs.items()))
    return tuple(sorted((str(p[key]), str(p[value])) for p in pairs or []))


def pages(client, operation, key, **kwargs):
    if client.can_paginate(operation):
        for page in client.get_paginator(operation).paginate(**kwargs):
            yield from page.get(key, [])
    else:
        yield from getattr(client, operation)(**kwargs).get(key, [])


def aws_resources(client):
    """Every resource of the services the platform uses. ``client(name)`` returns a boto3 client."""
    found = []

    def add(service, kind, ident, tags=(), state=""):
        found.append((service, kind, str(ident), str(state or ""), tuple(tags)))

    ec2 = client("ec2")
    for vpc in pages(ec2, "describe_vpcs", "Vpcs"):
        add("ec2", "vpc", vpc["VpcId"] + " " + vpc["CidrBlock"], _tags(vpc.get("Tags")), vpc.get("State"))
    for subnet in pages(ec2, "describe_subnets", "Subnets"):
        add("ec2", "subnet", "%s %s %s" % (subnet["SubnetId"], subnet["CidrBlock"], subnet["AvailabilityZone"]),
            _tags(subnet.get("Tags")))
    for group in pages(ec2, "describe_security_groups", "SecurityGroups"):
        rules = json.dumps([group.get("IpPermissions", []), group.get("IpPermissionsEgress", [])], sort_keys=True)
        add("ec2", "security-group", group["GroupId"] + " " + group["GroupName"], _tags(group.get("Tags")),
            hashlib.sha256(rules.encode()).hexdigest()[:12])
    for nat in pages(ec2, "describe_nat_gateways", "NatGateways"):
        add("ec2", "nat-gateway", nat["NatGatewayId"], _tags(nat.get("Tags")), nat.get("State"))
    for address in ec2.describe_addresses().get("Addresses", []):
        add("ec2", "elastic-ip", address.get("AllocationId") or address.get("PublicIp"), _tags(address.get("Tags")))
    for gateway in pages(ec2, "describe_internet_gateways", "InternetGateways"):
        add("ec2", "internet-gateway", gateway["InternetGatewayId"], _tags(gateway.get("Tags")),
            ",".join(sorted(a["VpcId"] for a in gateway.get("Attachments", []))))
    for table in pages(ec2, "describe_route_tables", "RouteTables"):
        add("ec2", "route-table", table["RouteTableId"], _tags(table.get("Tags")), len(table.get("Routes", [])))
    for template in pages(ec2, "describe_launch_templates", "LaunchTemplates"):
        add("ec2", "launch-template", template["LaunchTemplateName"], _tags(template.get("Tags")))

    eks = client("eks")
    for name in pages(eks, "list_clusters", "clusters"):
        cluster = eks.describe_cluster(name=name)["cluster"]
        add("eks", "cluster", name, _tags(cluster.get("tags") or {}), cluster.get("status"))
        for group in pages(eks, "list_nodegroups", "nodegroups", clusterName=name):
            nodegroup = eks.describe_nodegroup(clusterName=name, nodegroupName=group)["nodegroup"]
            add("eks", "nodegroup", name + "/" + group, _tags(nodegroup.get("tags") or {}), nodegroup.get("status"))
        try:
            addons = list(pages(eks, "list_addons", "addons", clusterName=name))
        except eks.exceptions.ClientError:  # older emulators have no add-on routes
            addons = []
        for addon in addons:
            add("eks", "addon", name + "/" + addon)

    rds = client("rds")
    for instance in pages(rds, "describe_db_instances", "DBInstances"):
        add("rds", "db-instance", instance["DBInstanceIdentifier"], _tags(instance.get("TagList")),
            instance.get("DBInstanceStatus"))
    for group in pages(rds, "describe_db_subnet_groups", "DBSubnetGroups"):
        tags = rds.list_tags_for_resource(ResourceName=group["DBSubnetGroupArn"]).get("TagList", [])
        add("rds", "db-subnet-group", group["DBSubnetGroupName"], _tags(tags))
    for group in pages(rds, "describe_db_parameter_groups", "DBParameterGroups"):
        if group["DBParameterGroupName"].startswith("default."):
            continue
        tags = rds.list_tags_for_resource(ResourceName=group["DBParameterGroupArn"]).get("TagList", [])
        add("rds", "db-parameter-group", group["DBParameterGroupName"], _tags(tags))

    efs = client("efs")
    for system in pages(efs, "describe_file_systems", "FileSystems"):
        add("efs", "file-system", system["FileSystemId"], _tags(system.get("Tags")), system.get("LifeCycleState"))
        for target in pages(efs, "describe_mount_targets", "MountTargets", FileSystemId=system["FileSystemId"]):
            add("efs", "mount-target", target["MountTargetId"], (), target.get("LifeCycleState"))
    for point in pages(efs, "describe_access_points", "AccessPoints"):
        add("efs", "access-point", point["AccessPointId"], _tags(point.get("Tags")), point.get("LifeCycleState"))

    iam = client("iam")
    for role in pages(iam, "list_roles", "Roles"):
        tags = iam.list_role_tags(RoleName=role["RoleName"]).get("Tags", [])
        attached = sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role["RoleName"])
                          ["AttachedPolicies"])
        inline = sorted(iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"])
        add("iam", "role", role["Path"] + role["RoleName"], _tags(tags), ",".join(attached + inline))
    for policy in pages(iam, "list_policies", "Policies", Scope="Local"):
        tags = iam.list_policy_tags(PolicyArn=policy["Arn"]).get("Tags", [])
        add("iam", "policy", policy["Arn"], _tags(tags), policy.get("DefaultVersionId"))
    for provider in iam.list_open_id_connect_providers().get("OpenIDConnectProviderList", []):
        tags = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"]).get("Tags", [])
        add("iam", "oidc-provider", provider["Arn"], _tags(tags))
    for profile in pages(iam, "list_instance_profiles", "InstanceProfiles"):
        add("iam", "instance-profile", profile["InstanceProfileName"], _tags(profile.get("Tags")))

    kms = client("kms")
    for key in pages(kms, "list_keys", "Keys"):
        meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        tags = kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags", [])
        add("kms", "key", key["KeyId"], _tags(tags, "TagKey", "TagValue"), meta.get("KeyState"))
    for alias in pages(kms, "list_aliases", "Aliases"):
        if not alias["AliasName"].startswith("alias/aws/"):
            add("kms", "alias", alias["AliasName"], (), alias.get("TargetKeyId"))

    secrets = client("secretsmanager")
    for secret in pages(secrets, "list_secrets", "SecretList", IncludePlannedDeletion=True):
        state = "PendingDeletion" if secret.get("DeletedDate") else "Active"
        add("secretsmanager", "secret", secret["Name"], _tags(secret.get("Tags")), state)

    s3 = client("s3")
    for bucket in s3.list_buckets().get("Buckets", []):
        try:
            tags = s3.get_bucket_tagging(Bucket=bucket["Name"]).get("TagSet", [])
        except s3.exceptions.ClientError:  # NoSuchTagSet
            tags = []
        add("s3", "bucket", bucket["Name"], _tags(tags))

    ecr = client("ecr")
    for repository in pages(ecr, "describe_repositories", "repositories"):
        tags = ecr.list_tags_for_resource(resourceArn=repository["repositoryArn"]).get("tags", [])
        add("ecr", "repository", repository["repositoryName"], _tags(tags))

    logs = client("logs")
    for group in pages(logs, "describe_log_groups", "logGroups"):
        tags = logs.list_tags_log_group(logGroupName=group["logGroupName"]).get("tags", {})
        add("logs", "log-group", group["logGroupName"], _tags(tags), group.get("retentionInDays"))
    return sorted(found)


def is_platform_resource(resource):
    """Tagged by the platform, and not already on its way out (KMS keys and secrets are deleted
    after a waiting period, which is what deleting them means)."""
    service, kind, _ident, state, tags = resource
    tags = dict(tags)
    if tags.get("ManagedBy") != PLATFORM_MANAGED_BY and "mlops.eks_platform/cluster" not in tags:
        return False
    if service == "kms" and kind == "key" and state in ("PendingDeletion", "PendingReplicaDeletion"):
        return False
    if service == "secretsmanager" and state == "PendingDeletion":
        return False
    return True


def kube_objects(kubectl, kubeconfig, helm=None, env=None):
    """Identity (and for Secrets/ConfigMaps/Namespaces the content version) of the cluster's
    objects, and the Helm releases."""
    env = dict(env or os.environ, KUBECONFIG=kubeconfig)
    proc = subprocess.run([kubectl, "get", KUBE_KINDS, "--all-namespaces", "-o", "json"], env=env, check=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    objects = []
    for item in json.loads(proc.stdout)["items"]:
        meta = item["metadata"]
        version = meta.get("resourceVersion") if item["kind"] in KUBE_CONTENT_KINDS else ""
        objects.append(("k8s", item["kind"], "%s/%s" % (meta.get("namespace", ""), meta["name"]),
                        "%s %s" % (meta["uid"], version), ()))
    if helm:
        proc = subprocess.run([helm, "list", "--all-namespaces", "--all", "-o", "json"], env=env, check=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
        for release in json.loads(proc.stdout or "[]"):
            objects.append(("helm", "release", "%s/%s" % (release["namespace"], release["name"]),
                            "%s %s" % (release["revision"], release["status"]), ()))
    return sorted(objects)


def summary(resources):
    """Counts per service/kind, for the figures a test prints."""
    counts = {}
    for service, kind, _ident, _state, _tags in resources:
        counts["%s/%s" % (service, kind)] = counts.get("%s/%s" % (service, kind), 0) + 1
    return counts


def difference(before, after):
    """What appeared and what disappeared (or changed) between two listings."""
    before, after = set(before), set(after)
    return {"added": sorted(after - before), "removed": sorted(before - after)}
