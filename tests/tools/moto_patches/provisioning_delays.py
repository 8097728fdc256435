"""Provisioning time: EKS clusters and node groups, RDS instances and EFS file systems take a while.

Gap: moto 5.2 creates every resource in its final state. ``CreateCluster`` answers with a
cluster that is already ``ACTIVE``, ``CreateDBInstance`` with an instance that is ``available``
(endpoint included) and ``CreateFileSystem`` with a file system that is ``available``, so no
waiter of the collection (``eks_control_plane``/``eks_managed_nodegroup`` ``wait``,
``efs_file_system``, the ``rds_metadata`` wait loop, ``amazon.aws.rds_instance`` ``wait``) is ever
exercised, and a deploy in the sandbox says nothing about how the long AWS waits overlap.
Upstream, the control plane stays ``CREATING`` for about 10 minutes, a managed node group
``CREATING`` for 3-5, an RDS instance ``creating`` for 5-10 (without an ``Endpoint`` until it
is ``available``) and a file system ``creating`` for about a minute.

This patch restores those states, for a configured number of seconds, only when the moto
server is started with ``MLOPS_MOTO_DELAYS`` set (unset or empty: no delay, moto's behaviour)::

    MLOPS_MOTO_DELAYS="eks_cluster=60,eks_nodegroup=30,rds_instance=45,efs_file_system=5"

Keys (seconds, floats allowed): ``eks_cluster``, ``eks_nodegroup``, ``rds_instance``,
``efs_file_system``, ``efs_mount_target``; ``<key>_delete`` makes deletions last too (default 0:
gone at once, moto's behaviour). An unknown key stops the server (a typo must not silently
mean "no delay").

While a resource is younger than its delay:

* EKS cluster: ``status`` ``CREATING``, no ``endpoint`` and no ``certificateAuthority`` yet;
  ``CreateNodegroup`` on it fails as upstream (``InvalidRequestException`` "Cluster '<name>' is
  not in ACTIVE status", moto's own check, which now matters).
* EKS node group: ``status`` ``CREATING``; ``UpdateNodegroupConfig``/``UpdateNodegroupVersion``
  fail as upstream (``ResourceInUseException`` "Nodegroup cannot be updated as it is currently
  not in Active State").
* RDS instance: ``DBInstanceStatus`` ``creating`` and no ``Endpoint``; ``ModifyDBInstance``
  fails as upstream (``InvalidDBInstanceState`` "Database instance is not in available state.").
* EFS file system: ``LifeCycleState`` ``creating``; ``CreateMountTarget`` and
  ``CreateAccessPoint`` fail as upstream (``IncorrectFileSystemLifeCycleState``, HTTP 409).
* EFS mount target: ``LifeCycleState`` ``creating``.

Deletions with a ``<key>_delete`` delay leave the resource listed as ``DELETING``/``deleting``
for that long (a cluster with a node group still being deleted can not be deleted, as
upstream) before it disappears. Everything else (tags, describe calls, other updates) behaves as
before. The clock starts when the create (or delete) call returns.
"""

import heapq
import itertools
import os
import threading
import time

ENV = "MLOPS_MOTO_DELAYS"
KINDS = ("eks_cluster", "eks_nodegroup", "rds_instance", "efs_file_system", "efs_mount_target")


def parse(text):
    """'eks_cluster=60,rds_instance=4.5' -> {'eks_cluster': 60.0, 'rds_instance': 4.5}; ValueError on errors."""
    delays = {}
    for part in (text or "").replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        key = key.strip()
        valid = set(KINDS) | {k + "_delete" for k in KINDS}
        if not sep or key not in valid:
            raise ValueError("%s: unknown entry %r (known keys: %s, each optionally with _delete)"
                             % (ENV, part, ", ".join(KINDS)))
        seconds = float(value)
        if seconds < 0:
            raise ValueError("%s: %s must not be negative" % (ENV, key))
        delays[key] = seconds
    return delays


class Clock:
    """Creation/deletion deadlines of the emulated resources (monotonic seconds)."""

    def __init__(self, delays, now=time.monotonic):
        self.delays = delays
        self.now = now
        self._pending = []  # heap of (gone_at, seq, remove)
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def delay(self, kind):
        return self.delays.get(kind, 0.0)

    def start(self, obj, kind):
        """Mark OBJ as created now: it reports its creating state for delay(kind) seconds."""
        seconds = self.delay(kind)
        if seconds > 0:
            obj.__dict__["_mlops_ready_at"] = self.now() + seconds

    def creating(self, obj):
        ready_at = obj.__dict__.get("_mlops_ready_at")
        return ready_at is not None and self.now() < ready_at

    def deleting(self, obj):
        return "_mlops_gone_at" in obj.__dict__

    def schedule_removal(self, obj, kind, remove):
        """Keep a deleted OBJ visible for delay(kind + '_delete') seconds, then call remove()."""
        seconds = self.delay(kind + "_delete")
        if seconds <= 0:
            return False
        gone_at = self.now() + seconds
        obj.__dict__["_mlops_gone_at"] = gone_at
        with self._lock:
            heapq.heappush(self._pending, (gone_at, next(self._seq), remove))
        return True

    def sweep(self):
        """Remove the deleted resources whose deletion time is over."""
        due = []
        with self._lock:
            now = self.now()
            while self._pending and self._pending[0][0] <= now:
                due.append(heapq.heappop(self._pending)[2])
        for remove in due:
            remove()


def _stateful(cls, name, shown):
    """Replace attribute NAME of CLS by a property: the stored value, or shown(obj, value) when that is not None.

    The stored value lives in obj.__dict__['_mlops_<name>'], so moto's own assignments (in
    __init__ and elsewhere) keep working.
    """
    key = "_mlops_" + name
    fallback = cls.__dict__.get(name)

    def getter(self):
        value = self.__dict__.get(key, fallback)
        override = shown(self, value)
        return value if override is None else override

    def setter(self, value):
        self.__dict__[key] = value

    setattr(cls, name, property(getter, setter))


def _wrap_hidden(cls, name, clock):
    """A plain attribute that reads as None while OBJ is creating (absent from responses)."""
    key = "_mlops_" + name

    def getter(self):
        if clock.creating(self):
            return None
        return self.__dict__.get(key)

    def setter(self, value):
        self.__dict__[key] = value

    setattr(cls, name, property(getter, setter))


def _apply_eks(clock):
    from moto.eks import models
    from moto.eks.exceptions import ResourceInUseException

    def status(obj, value):  # clusters and node groups alike
        if clock.deleting(obj):
            return "DELETING"
        if value == "ACTIVE" and clock.creating(obj):
            return "CREATING"
        return None

    _stateful(models.Cluster, "status", status)
    _stateful(models.Nodegroup, "status", status)
    _wrap_hidden(models.Cluster, "endpoint", clock)
    _wrap_hidden(models.Cluster, "certificate_authority", clock)

    original_create_cluster = models.EKSBackend.create_cluster
    original_create_nodegroup = models.EKSBackend.create_nodegroup
    original_delete_cluster = models.EKSBackend.delete_cluster
    original_delete_nodegroup = models.EKSBackend.delete_nodegroup
    original_update_nodegroup_config = models.EKSBackend.update_nodegroup_config

    def create_cluster(self, *args, **kwargs):
        cluster = original_create_cluster(self, *args, **kwargs)
        clock.start(cluster, "eks_cluster")
        return cluster

    def create_nodegroup(self, *args, **kwargs):
        nodegroup = original_create_nodegroup(self, *args, **kwargs)
        clock.start(nodegroup, "eks_nodegroup")
        return nodegroup

    def delete_cluster(self, name):
        existing = self.clusters.get(name)
        if existing is not None and clock.deleting(existing):
            return existing
        cluster = original_delete_cluster(self, name)
        clusters = self.clusters

        def remove():
            if clusters.get(name) is cluster:
                del clusters[name]
                self.cluster_count -= 1

        if clock.schedule_removal(cluster, "eks_cluster", remove):
            cluster.__dict__.pop("_mlops_ready_at", None)
            clusters[name] = cluster
            self.cluster_count += 1
        return cluster

    def delete_nodegroup(self, cluster_name, nodegroup_name):
        cluster = self.clusters.get(cluster_name)
        existing = cluster.nodegroups.get(nodegroup_name) if cluster is not None else None
        if existing is not None and clock.deleting(existing):
            return existing
        nodegroup = original_delete_nodegroup(self, cluster_name, nodegroup_name)

        def remove():
            if cluster.nodegroups.get(nodegroup_name) is nodegroup:
                del cluster.nodegroups[nodegroup_name]
                cluster.nodegroup_count -= 1

        if clock.schedule_removal(nodegroup, "eks_nodegroup", remove):
            nodegroup.__dict__.pop("_mlops_ready_at", None)
            cluster.nodegroups[nodegroup_name] = nodegroup
            cluster.nodegroup_count += 1
        return nodegroup

    def refuse_busy_nodegroup(backend, cluster_name, nodegroup_name):
        cluster = backend.clusters.get(cluster_name)
        nodegroup = cluster.nodegroups.get(nodegroup_name) if cluster is not None else None
        if nodegroup is not None and nodegroup.status != "ACTIVE":
            raise ResourceInUseException(
                clusterName=cluster_name, nodegroupName=nodegroup_name, addonName=None,
                message="Nodegroup cannot be updated as it is currently not in Active State")

    def update_nodegroup_config(self, cluster_name, nodegroup_name, *args, **kwargs):
        refuse_busy_nodegroup(self, cluster_name, nodegroup_name)
        return original_update_nodegroup_config(self, cluster_name, nodegroup_name, *args, **kwargs)

    models.EKSBackend.create_cluster = create_cluster
    models.EKSBackend.create_nodegroup = create_nodegroup
    models.EKSBackend.delete_cluster = delete_cluster
    models.EKSBackend.delete_nodegroup = delete_nodegroup
    models.EKSBackend.update_nodegroup_config = update_nodegroup_config

    from moto.eks import responses
    original_update_version = getattr(responses.EKSResponse, "update_nodegroup_version", None)
    if original_update_version is not None:  # added by eks_cluster_api.py
        def update_nodegroup_version(self):
            refuse_busy_nodegroup(self.eks_backend, self._get_param("name"), self._get_param("nodegroupName"))
            return original_update_version(self)
        responses.EKSResponse.update_nodegroup_version = update_nodegroup_version


def _apply_rds(clock):
    from moto.rds import models
    from moto.rds.exceptions import RDSClientError

    def instance_status(obj, value):
        if value == "available" and clock.creating(obj):
            return "creating"
        return None

    original_endpoint = models.DBInstance.endpoint

    def endpoint(self):
        if clock.creating(self):
            return None
        return original_endpoint.fget(self)

    _stateful(models.DBInstance, "status", instance_status)
    models.DBInstance.endpoint = property(endpoint)

    original_create = models.RDSBackend.create_db_instance
    original_modify = models.RDSBackend.modify_db_instance
    original_delete = models.RDSBackend.delete_db_instance

    def create_db_instance(self, *args, **kwargs):
        database = original_create(self, *args, **kwargs)
        clock.start(database, "rds_instance")
        return database

    def modify_db_instance(self, db_instance_identifier, *args, **kwargs):
        database = self.databases.get(db_instance_identifier)
        if database is not None and database.status in ("creating", "deleting"):
            raise RDSClientError("InvalidDBInstanceState", "Database instance is not in available state.")
        return original_modify(self, db_instance_identifier, *args, **kwargs)

    def delete_db_instance(self, db_instance_identifier, *args, **kwargs):
        existing = self.databases.get(db_instance_identifier)
        if existing is not None and clock.deleting(existing):
            return existing
        database = original_delete(self, db_instance_identifier, *args, **kwargs)
        databases = self.databases

        def remove():
            if databases.get(db_instance_identifier) is database:
                del databases[db_instance_identifier]

        if clock.schedule_removal(database, "rds_instance", remove):
            database.__dict__.pop("_mlops_ready_at", None)
            databases[db_instance_identifier] = database
        return database

    models.RDSBackend.create_db_instance = create_db_instance
    models.RDSBackend.modify_db_instance = modify_db_instance
    models.RDSBackend.delete_db_instance = delete_db_instance


def _apply_efs(clock):
    from moto.efs import models
    from moto.efs.exceptions import EFSError

    class IncorrectFileSystemLifeCycleState(EFSError):
        code = 409

        def __init__(self, file_system_id, state):
            super().__init__("IncorrectFileSystemLifeCycleState",
                             "File system '%s' is in life cycle state '%s'; it must be 'available'."
                             % (file_system_id, state))

    def state_of(obj):
        if clock.deleting(obj):
            return "deleting"
        if obj.life_cycle_state == "available" and clock.creating(obj):
            return "creating"
        return obj.life_cycle_state

    for cls in (models.FileSystem, models.MountTarget):
        original_info = cls.info_json

        def info_json(self, _original=original_info):
            info = _original(self)
            info["LifeCycleState"] = state_of(self)
            return info

        cls.info_json = info_json

    original_create_fs = models.EFSBackend.create_file_system
    original_create_mt = models.EFSBackend.create_mount_target
    original_create_ap = models.EFSBackend.create_access_point
    original_delete_fs = models.EFSBackend.delete_file_system
    original_delete_mt = models.EFSBackend.delete_mount_target

    def require_available(backend, file_system_id):
        fs = backend.file_systems_by_id.get(file_system_id)
        if fs is not None and state_of(fs) != "available":
            raise IncorrectFileSystemLifeCycleState(file_system_id, state_of(fs))

    def create_file_system(self, *args, **kwargs):
        fs = original_create_fs(self, *args, **kwargs)
        clock.start(fs, "efs_file_system")
        return fs

    def create_mount_target(self, file_system_id, *args, **kwargs):
        require_available(self, file_system_id)
        target = original_create_mt(self, file_system_id, *args, **kwargs)
        clock.start(target, "efs_mount_target")
        return target

    def create_access_point(self, client_token, tags, file_system_id, *args, **kwargs):
        require_available(self, file_system_id)
        return original_create_ap(self, client_token, tags, file_system_id, *args, **kwargs)

    def delete_file_system(self, file_system_id):
        existing = self.file_systems_by_id.get(file_system_id)
        if existing is not None and clock.deleting(existing):
            return None
        result = original_delete_fs(self, file_system_id)
        by_id = self.file_systems_by_id

        def remove():
            if by_id.get(file_system_id) is existing:
                del by_id[file_system_id]

        if existing is not None and clock.schedule_removal(existing, "efs_file_system", remove):
            existing.__dict__.pop("_mlops_ready_at", None)
            by_id[file_system_id] = existing
        return result

    def delete_mount_target(self, mount_target_id):
        existing = self.mount_targets_by_id.get(mount_target_id)
        if existing is not None and clock.deleting(existing):
            return None
        if existing is None or clock.delay("efs_mount_target_delete") <= 0:
            return original_delete_mt(self, mount_target_id)
        backend = self

        def remove():
            if backend.mount_targets_by_id.get(mount_target_id) is existing:
                original_delete_mt(backend, mount_target_id)

        existing.__dict__.pop("_mlops_ready_at", None)
        clock.schedule_removal(existing, "efs_mount_target", remove)
        return None

    models.EFSBackend.create_file_system = create_file_system
    models.EFSBackend.create_mount_target = create_mount_target
    models.EFSBackend.create_access_point = create_access_point
    models.EFSBackend.delete_file_system = delete_file_system
    models.EFSBackend.delete_mount_target = delete_mount_target


def apply():
    delays = parse(os.environ.get(ENV, ""))
    if not any(delays.values()):
        return
    clock = Clock(delays)

    from moto.core.responses import BaseResponse

    original_call_action = BaseResponse.call_action

    def call_action(self):
        clock.sweep()
        return original_call_action(self)

    BaseResponse.call_action = call_action
    _apply_eks(clock)
    _apply_rds(clock)
    _apply_efs(clock)
