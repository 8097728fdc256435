"""EKS control plane and managed node group behaviour that moto 5.2 leaves out or gets wrong.

Gaps (all checked against the EKS API reference and the botocore model moto serves):

* ``UpdateClusterVersion``, ``DescribeUpdate``, ``ListUpdates``, ``UpdateNodegroupVersion`` and
  ``AssociateEncryptionConfig`` have no route (HTTP 404). Upstream, a version update must go
  exactly one minor version up (``InvalidParameterException`` otherwise), a node group can not be
  newer than its control plane, and encryption can be associated only once.
* ``UpdateClusterConfig`` answers with the cluster instead of an ``update`` object, replaces the
  whole ``resourcesVpcConfig``/``logging`` with what was sent, accepts several kinds of change in
  one call and accepts calls that change nothing. Upstream merges the change, accepts one kind of
  change per call ("Only one type of update can be allowed") and rejects no-op updates, which is
  what makes a non-idempotent client visible.
* ``CreateCluster`` returns ``resourcesVpcConfig`` exactly as sent. Upstream fills in ``vpcId``,
  ``clusterSecurityGroupId`` (a security group EKS creates in the VPC, tagged
  ``kubernetes.io/cluster/<name>: owned`` and ``aws:eks:cluster-name: <name>``, and deletes with
  the cluster), the endpoint access
  defaults (public on, private off, ``0.0.0.0/0``), checks that the subnets exist in at least two
  zones, and returns ``accessConfig.authenticationMode``.
* Node groups: ``version`` defaults to 1.19 instead of the cluster's version, ``remoteAccess``
  appears although none was asked for, and ``updateConfig`` is missing (upstream default
  ``maxUnavailable: 1``; community.aws.eks_nodegroup fails with ``KeyError: 'updateConfig'`` on a
  re-run because of it). Scaling limits are not validated.
* ``TagResource``/``UntagResource``/``ListTagsForResource`` only know cluster ARNs, not node
  groups (nor add-ons, see eks_addons.py).

Every update completes at once (status ``Successful``), like every other moto resource.
"""

import uuid

SUPPORTED_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]


def _minor(version):
    major, minor = str(version).split(".")[:2]
    return int(major), int(minor)


def apply():
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.ec2.models import ec2_backends
    from moto.eks import models, responses, urls
    from moto.eks.exceptions import (
        InvalidParameterException,
        InvalidRequestException,
        ResourceNotFoundException,
    )

    def not_found(message):
        return ResourceNotFoundException(clusterName=None, nodegroupName=None, fargateProfileName=None,
                                         addonName=None, message=message)

    def invalid(message):
        return InvalidParameterException(clusterName=None, nodegroupName=None, fargateProfileName=None,
                                         addonName=None, message=message)

    def new_update(cluster, kind, params, nodegroup=None, addon=None):
        update = {
            "id": str(uuid.uuid4()),
            "status": "Successful",
            "type": kind,
            "params": [{"type": k, "value": str(v)} for k, v in params],
            "createdAt": utcnow(),
            "errors": [],
        }
        store = cluster.__dict__.setdefault("_mlops_updates", [])
        store.append({"update": update, "nodegroup": nodegroup, "addon": addon})
        return update

    def get_cluster(backend, name):
        try:
            return backend.clusters[name]
        except KeyError:
            raise not_found(models.CLUSTER_NOT_FOUND_MSG.format(clusterName=name))

    # ---- logging helpers: EKS keeps one set of enabled types and reports enabled/disabled groups
    def enabled_types(logging):
        enabled = set()
        for entry in (logging or {}).get("clusterLogging", []):
            for kind in entry.get("types", []):
                if entry.get("enabled"):
                    enabled.add(kind)
                else:
                    enabled.discard(kind)
        return enabled

    def logging_document(enabled):
        groups = []
        on = [t for t in SUPPORTED_LOG_TYPES if t in enabled]
        off = [t for t in SUPPORTED_LOG_TYPES if t not in enabled]
        if on:
            groups.append({"types": on, "enabled": True})
        if off:
            groups.append({"types": off, "enabled": False})
        return {"clusterLogging": groups}

    # ---- CreateCluster / DeleteCluster
    original_create_cluster = models.EKSBackend.create_cluster
    original_delete_cluster = models.EKSBackend.delete_cluster

    def create_cluster(self, name, role_arn, resources_vpc_config, *args, **kwargs):
        vpc_config = dict(resources_vpc_config or {})
        ec2 = ec2_backends[self.account_id][self.region_name]
        subnet_ids = vpc_config.get("subnetIds") or []
        subnets = []
        for subnet_id in subnet_ids:
            try:
                subnets.append(ec2.get_subnet(subnet_id))
            except Exception:
                raise invalid("The subnet ID '%s' does not exist" % subnet_id)
        if len({s.availability_zone for s in subnets}) < 2:
            raise invalid("Subnets specified must be in at least two different AZs")
        if len({s.vpc_id for s in subnets}) != 1:
            raise invalid("Subnets must all belong to the same VPC")
        logging = kwargs.get("logging")
        for entry in (logging or {}).get("clusterLogging", []):
            for kind in entry.get("types", []):
                if kind not in SUPPORTED_LOG_TYPES:
                    raise invalid("Unsupported log type %s" % kind)
        if name in self.clusters:
            return original_create_cluster(self, name, role_arn, resources_vpc_config, *args, **kwargs)
        vpc_id = subnets[0].vpc_id
        suffix = uuid.uuid4().hex[:10]
        sg = ec2.create_security_group(
            name="eks-cluster-sg-%s-%s" % (name, suffix),
            description="EKS created security group applied to ENI that is attached to EKS Control Plane "
                        "master nodes, as well as any managed workloads.",
            vpc_id=vpc_id,
            tags={"Name": "eks-cluster-sg-%s-%s" % (name, suffix), "kubernetes.io/cluster/%s" % name: "owned",
                  "aws:eks:cluster-name": name},
        )
        vpc_config.setdefault("securityGroupIds", [])
        vpc_config.setdefault("endpointPublicAccess", True)
        vpc_config.setdefault("endpointPrivateAccess", False)
        vpc_config.setdefault("publicAccessCidrs", ["0.0.0.0/0"])
        vpc_config["clusterSecurityGroupId"] = sg.id
        vpc_config["vpcId"] = vpc_id
        access_config = kwargs.pop("access_config", None) or {}
        cluster = original_create_cluster(self, name, role_arn, vpc_config, *args, **kwargs)
        cluster.logging = logging_document(enabled_types(logging))
        cluster.access_config = {
            "authenticationMode": access_config.get("authenticationMode", "CONFIG_MAP"),
        }
        cluster.upgrade_policy = {"supportType": "EXTENDED"}
        cluster.platformVersion = "eks.1"
        return cluster

    def delete_cluster(self, name):
        cluster = original_delete_cluster(self, name)
        sg_id = (cluster.resources_vpc_config or {}).get("clusterSecurityGroupId")
        if sg_id:
            ec2 = ec2_backends[self.account_id][self.region_name]
            try:
                ec2.delete_security_group(group_id=sg_id)
            except Exception:  # pragma: no cover - left for the VPC deletion to report
                pass
        cluster.status = "DELETING"
        return cluster

    models.EKSBackend.create_cluster = create_cluster
    models.EKSBackend.delete_cluster = delete_cluster

    def response_create_cluster(self):
        name = self._get_param("name")
        cluster = self.eks_backend.create_cluster(
            name=name,
            version=self._get_param("version"),
            role_arn=self._get_param("roleArn"),
            resources_vpc_config=self._get_param("resourcesVpcConfig"),
            kubernetes_network_config=self._get_param("kubernetesNetworkConfig"),
            logging=self._get_param("logging"),
            client_request_token=self._get_param("clientRequestToken"),
            tags=self._get_param("tags"),
            encryption_config=self._get_param("encryptionConfig"),
            remote_network_config=self._get_param("remoteNetworkConfig"),
            access_config=self._get_param("accessConfig"),
        )
        return ActionResult({"cluster": cluster})

    responses.EKSResponse.create_cluster = response_create_cluster

    # ---- UpdateClusterConfig: merge, one kind per call, no no-ops, answer with an update
    def update_cluster_config(self):
        backend = self.eks_backend
        name = self._get_param("name")
        cluster = get_cluster(backend, name)
        changes = {key: self._get_param(key) for key in
                   ("resourcesVpcConfig", "logging", "accessConfig", "kubernetesNetworkConfig",
                    "upgradePolicy", "remoteNetworkConfig")}
        changes = {k: v for k, v in changes.items() if v}
        if len(changes) != 1:
            raise invalid("Only one type of update can be allowed.")
        key, value = next(iter(changes.items()))
        params = []
        if key == "resourcesVpcConfig":
            current = dict(cluster.resources_vpc_config)
            merged = dict(current)
            merged.update(value)
            if merged == current:
                raise invalid("Cluster is already at the desired configuration with endpointPrivateAccess: %s, "
                              "endpointPublicAccess: %s, publicAccessCidrs: %s" % (
                                  current.get("endpointPrivateAccess"), current.get("endpointPublicAccess"),
                                  current.get("publicAccessCidrs")))
            if not merged.get("endpointPublicAccess") and not merged.get("endpointPrivateAccess"):
                raise invalid("Either public or private endpoint access must be enabled")
            cluster.resources_vpc_config = merged
            kind = "EndpointAccessUpdate" if ("subnetIds" not in value and "securityGroupIds" not in value) \
                else "VpcConfigUpdate"
            params = sorted(value.items())
        elif key == "logging":
            for entry in value.get("clusterLogging", []):
                for log_type in entry.get("types", []):
                    if log_type not in SUPPORTED_LOG_TYPES:
                        raise invalid("Unsupported log type %s" % log_type)
            before = enabled_types(cluster.logging)
            after = set(before)
            for entry in value.get("clusterLogging", []):
                for log_type in entry.get("types", []):
                    (after.add if entry.get("enabled") else after.discard)(log_type)
            if after == before:
                raise invalid("No changes needed for the logging config provided")
            cluster.logging = logging_document(after)
            kind = "LoggingUpdate"
            params = [("ClusterLogging", value)]
        elif key == "accessConfig":
            mode = value.get("authenticationMode")
            current = cluster.__dict__.get("access_config", {}).get("authenticationMode", "CONFIG_MAP")
            order = ["CONFIG_MAP", "API_AND_CONFIG_MAP", "API"]
            if mode == current:
                raise invalid("Unsupported authentication mode update from %s to %s" % (current, mode))
            if mode not in order or order.index(mode) < order.index(current):
                raise invalid("Unsupported authentication mode update from %s to %s" % (current, mode))
            cluster.access_config = {"authenticationMode": mode}
            kind = "AccessConfigUpdate"
            params = [("AuthenticationMode", mode)]
        else:
            setattr(cluster, {"kubernetesNetworkConfig": "kubernetes_network_config",
                              "upgradePolicy": "upgrade_policy",
                              "remoteNetworkConfig": "remote_network_config"}[key], value)
            kind = "ConfigUpdate"
            params = [(key, value)]
        return ActionResult({"update": new_update(cluster, kind, params)})

    responses.EKSResponse.update_cluster_config = update_cluster_config

    # ---- UpdateClusterVersion: exactly one minor up
    def update_cluster_version(self):
        name = self._get_param("name")
        version = self._get_param("version")
        cluster = get_cluster(self.eks_backend, name)
        try:
            current, wanted = _minor(cluster.version), _minor(version)
        except (TypeError, ValueError):
            raise invalid("Unsupported Kubernetes version %s" % version)
        if wanted == current:
            raise invalid("Cluster is already at the desired version %s" % version)
        if wanted[0] != current[0] or wanted[1] != current[1] + 1:
            raise invalid("Unsupported Kubernetes minor version update from %s to %s" % (cluster.version, version))
        cluster.version = "%d.%d" % wanted
        cluster.platformVersion = "eks.1"
        update = new_update(cluster, "VersionUpdate", [("Version", cluster.version), ("PlatformVersion", "eks.1")])
        return ActionResult({"update": update})

    # ---- AssociateEncryptionConfig: once only
    def associate_encryption_config(self):
        name = self._get_param("name")
        config = self._get_param("encryptionConfig")
        cluster = get_cluster(self.eks_backend, name)
        if cluster.encryption_config:
            raise InvalidRequestException(message="Encryption is already enabled on the cluster")
        cluster.encryption_config = config
        update = new_update(cluster, "AssociateEncryptionConfig", [("EncryptionConfig", config)])
        return ActionResult({"update": update})

    # ---- DescribeUpdate / ListUpdates
    def _updates(cluster, nodegroup, addon):
        return [u for u in cluster.__dict__.get("_mlops_updates", [])
                if u["nodegroup"] == nodegroup and u["addon"] == addon]

    def describe_update(self):
        cluster = get_cluster(self.eks_backend, self._get_param("name"))
        update_id = self._get_param("updateId")
        for entry in _updates(cluster, self._get_param("nodegroupName"), self._get_param("addonName")):
            if entry["update"]["id"] == update_id:
                return ActionResult({"update": entry["update"]})
        raise not_found("No update found for ID: %s" % update_id)

    def list_updates(self):
        cluster = get_cluster(self.eks_backend, self._get_param("name"))
        entries = _updates(cluster, self._get_param("nodegroupName"), self._get_param("addonName"))
        ids = [e["update"]["id"] for e in entries]
        return ActionResult({"updateIds": ids})

    # ---- node groups
    original_nodegroup_init = models.Nodegroup.__init__

    def nodegroup_init(self, *args, **kwargs):
        original_nodegroup_init(self, *args, **kwargs)
        if not kwargs.get("remote_access"):
            self.remote_access = None
        self.update_config = kwargs.get("update_config") or {"maxUnavailable": 1}

    models.Nodegroup.__init__ = nodegroup_init

    def check_scaling(scaling):
        if not scaling:
            return
        low, high = scaling.get("minSize"), scaling.get("maxSize")
        desired = scaling.get("desiredSize")
        if high is not None and high < 1:
            raise invalid("Maximum size must be greater than or equal to 1")
        if low is not None and low < 0:
            raise invalid("Minimum size must be greater than or equal to 0")
        if low is not None and high is not None and low > high:
            raise invalid("Minimum capacity %s can't be greater than maximum capacity %s" % (low, high))
        if desired is not None and ((low is not None and desired < low) or (high is not None and desired > high)):
            raise invalid("Desired capacity %s can't be outside the minimum and maximum capacity" % desired)

    original_create_nodegroup = models.EKSBackend.create_nodegroup

    def create_nodegroup(self, cluster_name, node_role, nodegroup_name, subnets, *args, **kwargs):
        cluster = get_cluster(self, cluster_name)
        check_scaling(kwargs.get("scaling_config"))
        version = kwargs.get("version") or cluster.version
        if _minor(version) > _minor(cluster.version):
            raise invalid("Requested Nodegroup version %s is newer than the cluster version %s" % (
                version, cluster.version))
        kwargs["version"] = version
        kwargs["release_version"] = kwargs.get("release_version") or "%s.0-20261101" % version
        return original_create_nodegroup(self, cluster_name, node_role, nodegroup_name, subnets, *args, **kwargs)

    models.EKSBackend.create_nodegroup = create_nodegroup

    original_update_nodegroup_config = models.EKSBackend.update_nodegroup_config

    def update_nodegroup_config(self, cluster_name, nodegroup_name, *args, **kwargs):
        cluster = get_cluster(self, cluster_name)
        nodegroup = cluster.nodegroups.get(nodegroup_name)
        scaling = kwargs.get("scaling_config")
        if nodegroup is not None and scaling:
            merged = dict(nodegroup.scaling_config)
            merged.update(scaling)
            check_scaling(merged)
            nodegroup.scaling_config = merged
            kwargs["scaling_config"] = None
        update = original_update_nodegroup_config(self, cluster_name, nodegroup_name, *args, **kwargs)
        if scaling:
            update["params"].append({"type": "ScalingConfig", "value": str(scaling)})
        store = cluster.__dict__.setdefault("_mlops_updates", [])
        store.append({"update": update, "nodegroup": nodegroup_name, "addon": None})
        return update

    models.EKSBackend.update_nodegroup_config = update_nodegroup_config

    def update_nodegroup_version(self):
        cluster = get_cluster(self.eks_backend, self._get_param("name"))
        name = self._get_param("nodegroupName")
        nodegroup = self.eks_backend.describe_nodegroup(cluster.name, name)
        version = self._get_param("version") or cluster.version
        release = self._get_param("releaseVersion")
        if _minor(version) > _minor(cluster.version):
            raise invalid("Requested Nodegroup version %s is newer than the cluster version %s" % (
                version, cluster.version))
        if _minor(version) < _minor(nodegroup.version):
            raise invalid("Requested Nodegroup version %s is older than the current version %s" % (
                version, nodegroup.version))
        new_release = release or "%s.0-20261101" % version
        if version == nodegroup.version and new_release == nodegroup.release_version:
            raise invalid("Nodegroup %s is already at version %s with release %s" % (name, version, new_release))
        nodegroup.version = version
        nodegroup.release_version = new_release
        nodegroup.modified_at = utcnow()
        update = new_update(cluster, "VersionUpdate", [("Version", version), ("ReleaseVersion", new_release)],
                            nodegroup=name)
        return ActionResult({"update": update})

    # ---- tags on node groups (and add-ons, which eks_addons.py keeps on the cluster object)
    def find_taggable(backend, arn):
        for cluster in backend.clusters.values():
            if cluster.arn == arn:
                return cluster
            for nodegroup in cluster.nodegroups.values():
                if nodegroup.arn == arn:
                    return nodegroup
            for addon in cluster.__dict__.get("_mlops_addons", {}).values():
                if addon["addonArn"] == arn:
                    return addon
        raise not_found("Resource was not found: %s" % arn)

    def tags_of(resource):
        if isinstance(resource, dict):
            return resource.setdefault("tags", {})
        if resource.tags is None:
            resource.tags = {}
        return resource.tags

    def tag_resource(self, resource_arn, tags):
        tags_of(find_taggable(self, resource_arn)).update(tags or {})

    def untag_resource(self, resource_arn, tag_keys):
        if not isinstance(tag_keys, list):
            tag_keys = [tag_keys]
        current = tags_of(find_taggable(self, resource_arn))
        for key in tag_keys:
            current.pop(key, None)

    def list_tags_for_resource(self, resource_arn):
        return tags_of(find_taggable(self, resource_arn))

    models.EKSBackend.tag_resource = tag_resource
    models.EKSBackend.untag_resource = untag_resource
    models.EKSBackend.list_tags_for_resource = list_tags_for_resource

    responses.EKSResponse.update_cluster_version = update_cluster_version
    responses.EKSResponse.associate_encryption_config = associate_encryption_config
    responses.EKSResponse.describe_update = describe_update
    responses.EKSResponse.list_updates = list_updates
    responses.EKSResponse.update_nodegroup_version = update_nodegroup_version

    base = "{0}/clusters/(?P<name>[^/]+)"
    urls.url_paths.update({
        base + "/updates$": urls.response.dispatch,
        base + "/updates/(?P<updateId>[^/]+)$": urls.response.dispatch,
        base + "/encryption-config/associate$": urls.response.dispatch,
        base + "/node-groups/(?P<nodegroupName>[^/]+)/update-version$": urls.response.dispatch,
    })
