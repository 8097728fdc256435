"""EKS add-on API for moto 5.2, which has no add-on routes at all (every call is HTTP 404).

Restores, with upstream request/response shapes and error codes: ``CreateAddon``,
``DescribeAddon``, ``ListAddons``, ``UpdateAddon``, ``DeleteAddon`` and
``DescribeAddonVersions``; add-on ARNs work with ``TagResource``/``UntagResource``/
``ListTagsForResource`` (see eks_cluster_api.py) and add-on updates with ``DescribeUpdate``.

Upstream behaviour kept on purpose, because it is what a client has to get right:

* an add-on version must be one the catalogue lists as compatible with the cluster's Kubernetes
  version (``InvalidParameterException`` otherwise) and can not go down;
* ``CreateAddon`` for an existing add-on is ``ResourceInUseException``; ``DescribeAddon`` for a
  missing one is ``ResourceNotFoundException``;
* ``DescribeAddonVersions`` marks exactly one ``defaultVersion`` per Kubernetes version;
* deleting the cluster deletes its add-ons.

The catalogue below is emulator data in the shape EKS returns, not a copy of AWS's list: kube-proxy
follows the Kubernetes minor version, coredns changes its default at 1.33, the others have one
default across versions. Add-ons come up ACTIVE at once, like every moto resource.
"""

import uuid

KUBERNETES_VERSIONS = ["1.29", "1.30", "1.31", "1.32", "1.33", "1.34", "1.35"]


def _catalogue():
    """{addon: [(version, {cluster_version: is_default}), ...]} newest first."""
    versions = {}

    def add(addon, version, compatible, default_for):
        versions.setdefault(addon, []).append(
            (version, {k: (k in default_for) for k in compatible}))

    add("vpc-cni", "v1.20.4-eksbuild.1", KUBERNETES_VERSIONS, KUBERNETES_VERSIONS)
    add("vpc-cni", "v1.19.6-eksbuild.7", KUBERNETES_VERSIONS[:5], [])
    add("coredns", "v1.12.2-eksbuild.4", ["1.33", "1.34", "1.35"], ["1.33", "1.34", "1.35"])
    add("coredns", "v1.11.4-eksbuild.14", KUBERNETES_VERSIONS[:5], ["1.29", "1.30", "1.31", "1.32"])
    for minor in reversed(KUBERNETES_VERSIONS):
        add("kube-proxy", "v%s.3-eksbuild.2" % minor, [minor], [minor])
        add("kube-proxy", "v%s.0-eksbuild.1" % minor, [minor], [])
    add("aws-ebs-csi-driver", "v1.48.0-eksbuild.2", KUBERNETES_VERSIONS, KUBERNETES_VERSIONS)
    add("aws-ebs-csi-driver", "v1.45.0-eksbuild.2", KUBERNETES_VERSIONS[:6], [])
    add("aws-efs-csi-driver", "v2.1.10-eksbuild.1", KUBERNETES_VERSIONS, KUBERNETES_VERSIONS)
    add("aws-efs-csi-driver", "v2.1.8-eksbuild.1", KUBERNETES_VERSIONS[:6], [])
    return versions


CATALOGUE = _catalogue()
NEEDS_IAM = {"vpc-cni", "aws-ebs-csi-driver", "aws-efs-csi-driver"}
ADDON_TYPES = {"vpc-cni": "networking", "coredns": "networking", "kube-proxy": "networking",
               "aws-ebs-csi-driver": "storage", "aws-efs-csi-driver": "storage"}


def _version_key(version):
    core, build = version.lstrip("v").partition("-eksbuild.")[::2]
    return tuple(int(p) for p in core.split(".")) + (int(build or 0),)


def apply():
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.eks import models, responses, urls
    from moto.eks.exceptions import (
        InvalidParameterException,
        ResourceInUseException,
        ResourceNotFoundException,
    )
    from moto.utilities.utils import get_partition

    def invalid(message, addon=None):
        return InvalidParameterException(clusterName=None, nodegroupName=None, fargateProfileName=None,
                                         addonName=addon, message=message)

    def get_cluster(backend, name):
        try:
            return backend.clusters[name]
        except KeyError:
            raise ResourceNotFoundException(clusterName=name, nodegroupName=None, fargateProfileName=None,
                                            addonName=None,
                                            message=models.CLUSTER_NOT_FOUND_MSG.format(clusterName=name))

    def addons_of(cluster):
        return cluster.__dict__.setdefault("_mlops_addons", {})

    def get_addon(cluster, name):
        addon = addons_of(cluster).get(name)
        if addon is None:
            raise ResourceNotFoundException(clusterName=cluster.name, nodegroupName=None, fargateProfileName=None,
                                            addonName=name,
                                            message="No addon: %s found in cluster: %s" % (name, cluster.name))
        return addon

    def compatible_versions(name, cluster_version):
        return [(v, compat[cluster_version]) for v, compat in CATALOGUE.get(name, []) if cluster_version in compat]

    def resolve_version(cluster, name, version):
        choices = compatible_versions(name, cluster.version)
        if name not in CATALOGUE:
            raise invalid("Addon %s specified is not supported" % name, name)
        if not choices:
            raise invalid("Addon %s is not supported on Kubernetes %s" % (name, cluster.version), name)
        if not version:
            return next(v for v, default in choices if default)
        if version not in [choice[0] for choice in choices]:
            raise invalid("Addon version specified is not supported", name)
        return version

    def new_update(cluster, addon_name, params):
        update = {"id": str(uuid.uuid4()), "status": "Successful", "type": "AddonUpdate",
                  "params": [{"type": k, "value": str(v)} for k, v in params], "createdAt": utcnow(),
                  "errors": []}
        cluster.__dict__.setdefault("_mlops_updates", []).append(
            {"update": update, "nodegroup": None, "addon": addon_name})
        return update

    def create_addon(self):
        backend = self.eks_backend
        cluster = get_cluster(backend, self._get_param("name"))
        name = self._get_param("addonName")
        if name in addons_of(cluster):
            raise ResourceInUseException(clusterName=cluster.name, nodegroupName=None, addonName=name,
                                         message="Addon already exists.")
        version = resolve_version(cluster, name, self._get_param("addonVersion"))
        now = utcnow()
        addon = {
            "addonName": name,
            "clusterName": cluster.name,
            "status": "ACTIVE",
            "addonVersion": version,
            "health": {"issues": []},
            "addonArn": "arn:%s:eks:%s:%s:addon/%s/%s/%s" % (
                get_partition(backend.region_name), backend.region_name, backend.account_id, cluster.name, name,
                uuid.uuid4()),
            "createdAt": now,
            "modifiedAt": now,
            "tags": dict(self._get_param("tags") or {}),
            "publisher": "eks",
            "owner": "aws",
        }
        role = self._get_param("serviceAccountRoleArn")
        if role:
            addon["serviceAccountRoleArn"] = role
        values = self._get_param("configurationValues")
        if values:
            addon["configurationValues"] = values
        addons_of(cluster)[name] = addon
        return ActionResult({"addon": addon})

    def describe_addon(self):
        cluster = get_cluster(self.eks_backend, self._get_param("name"))
        return ActionResult({"addon": get_addon(cluster, self._get_param("addonName"))})

    def list_addons(self):
        cluster = get_cluster(self.eks_backend, self._get_param("name"))
        return ActionResult({"addons": sorted(addons_of(cluster))})

    def update_addon(self):
        cluster = get_cluster(self.eks_backend, self._get_param("name"))
        name = self._get_param("addonName")
        addon = get_addon(cluster, name)
        params = []
        version = self._get_param("addonVersion")
        if version:
            version = resolve_version(cluster, name, version)
            if _version_key(version) < _version_key(addon["addonVersion"]):
                raise invalid("Updating addon %s from %s to %s is not supported: downgrades are not allowed" % (
                    name, addon["addonVersion"], version), name)
            addon["addonVersion"] = version
            params.append(("AddonVersion", version))
        role = self._get_param("serviceAccountRoleArn")
        if role is not None:
            if role:
                addon["serviceAccountRoleArn"] = role
            else:
                addon.pop("serviceAccountRoleArn", None)
            params.append(("ServiceAccountRoleArn", role))
        values = self._get_param("configurationValues")
        if values is not None:
            if values:
                addon["configurationValues"] = values
            else:
                addon.pop("configurationValues", None)
            params.append(("ConfigurationValues", values))
        resolve = self._get_param("resolveConflicts")
        if resolve:
            params.append(("ResolveConflicts", resolve))
        addon["modifiedAt"] = utcnow()
        return ActionResult({"update": new_update(cluster, name, params)})

    def delete_addon(self):
        cluster = get_cluster(self.eks_backend, self._get_param("name"))
        name = self._get_param("addonName")
        addon = get_addon(cluster, name)
        del addons_of(cluster)[name]
        deleted = dict(addon)
        deleted["status"] = "DELETING"
        return ActionResult({"addon": deleted})

    def describe_addon_versions(self):
        wanted_version = self._get_param("kubernetesVersion")
        wanted_name = self._get_param("addonName")
        types = self._get_param("types") or []
        result = []
        for name in sorted(CATALOGUE):
            if wanted_name and name != wanted_name:
                continue
            if types and ADDON_TYPES[name] not in types:
                continue
            versions = []
            for version, compat in CATALOGUE[name]:
                if wanted_version and wanted_version not in compat:
                    continue
                versions.append({
                    "addonVersion": version,
                    "architecture": ["amd64", "arm64"],
                    "compatibilities": [{"clusterVersion": k, "platformVersions": ["*"], "defaultVersion": d}
                                        for k, d in sorted(compat.items())
                                        if not wanted_version or k == wanted_version],
                    "requiresConfiguration": False,
                    "requiresIamPermissions": name in NEEDS_IAM,
                })
            if versions:
                result.append({"addonName": name, "type": ADDON_TYPES[name], "addonVersions": versions,
                               "publisher": "eks", "owner": "aws"})
        return ActionResult({"addons": result})

    responses.EKSResponse.create_addon = create_addon
    responses.EKSResponse.describe_addon = describe_addon
    responses.EKSResponse.list_addons = list_addons
    responses.EKSResponse.update_addon = update_addon
    responses.EKSResponse.delete_addon = delete_addon
    responses.EKSResponse.describe_addon_versions = describe_addon_versions

    base = "{0}/clusters/(?P<name>[^/]+)/addons"
    urls.url_paths.update({
        base + "$": urls.response.dispatch,
        base + "/(?P<addonName>[^/]+)$": urls.response.dispatch,
        base + "/(?P<addonName>[^/]+)/update$": urls.response.dispatch,
        "{0}/addons/supported-versions$": urls.response.dispatch,
    })
