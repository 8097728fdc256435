"""RDS gp3 storage: baseline IOPS and throughput, and AWS's rules for setting them.

On AWS, a gp3 DB instance always reports ``Iops`` and ``StorageThroughput``. Below an
engine-specific size (400 GiB for PostgreSQL, MySQL and MariaDB, 200 GiB for Oracle) they are
the fixed baseline, 3000 IOPS and 125 MiB/s, and a request that names them fails with
``InvalidParameterCombination: You can't specify IOPS or storage throughput for engine postgres
and a storage size less than 400.`` At or above that size the baseline is 12000 IOPS and
500 MiB/s, and other values may be provisioned (not below the baseline).

moto 5.2 reports neither value unless the request named them, and accepts them at any size.
``amazon.aws.rds_instance`` then fails on its second run (it reads ``StorageThroughput`` of a
gp3 instance), and a role that passes the values for a small volume looks fine against moto
while AWS would refuse it. The patch restores AWS's behaviour for CreateDBInstance and
ModifyDBInstance.
"""

_THRESHOLDS = {"postgres": 400, "mysql": 400, "mariadb": 400}


def _threshold(engine):
    engine = engine or ""
    if engine in _THRESHOLDS:
        return _THRESHOLDS[engine]
    if engine.startswith("oracle"):
        return 200
    return None  # other engines keep moto's behaviour


def _check(engine, storage, iops, throughput):
    from moto.rds.exceptions import InvalidParameterCombination

    threshold = _threshold(engine)
    if threshold is None or storage is None:
        return
    if int(storage) < threshold:
        if iops or throughput:
            raise InvalidParameterCombination(
                "You can't specify IOPS or storage throughput for engine %s and a storage size less than %d."
                % (engine, threshold))
        return
    if iops is not None and int(iops) < 12000:
        raise InvalidParameterCombination("For engine %s with %s GiB of gp3 storage, IOPS must be at least 12000."
                                          % (engine, storage))
    if throughput is not None and int(throughput) < 500:
        raise InvalidParameterCombination(
            "For engine %s with %s GiB of gp3 storage, storage throughput must be at least 500." % (engine, storage))


def _apply_baseline(database, explicit_iops, explicit_throughput):
    threshold = _threshold(database.engine)
    if threshold is None or database.storage_type != "gp3":
        return
    if int(database.allocated_storage) < threshold:
        database.iops, database.storage_throughput = 3000, 125
        return
    if not explicit_iops and (database.iops or 0) < 12000:
        database.iops = 12000
    if not explicit_throughput and (database.storage_throughput or 0) < 500:
        database.storage_throughput = 500


def apply():
    from moto.rds import models

    original_create = models.RDSBackend.create_db_instance
    original_modify = models.RDSBackend.modify_db_instance

    def create_db_instance(self, db_kwargs):
        if db_kwargs.get("storage_type") == "gp3" and db_kwargs.get("db_cluster_identifier") is None:
            _check(db_kwargs.get("engine"), db_kwargs.get("allocated_storage"), db_kwargs.get("iops"),
                   db_kwargs.get("storage_throughput"))
        database = original_create(self, db_kwargs)
        _apply_baseline(database, db_kwargs.get("iops"), db_kwargs.get("storage_throughput"))
        return database

    def modify_db_instance(self, db_instance_identifier, db_kwargs):
        database = self.describe_db_instances(db_instance_identifier)[0]
        storage_type = db_kwargs.get("storage_type") or database.storage_type
        if storage_type == "gp3":
            _check(database.engine, db_kwargs.get("allocated_storage") or database.allocated_storage,
                   db_kwargs.get("iops"), db_kwargs.get("storage_throughput"))
        database = original_modify(self, db_instance_identifier, db_kwargs)
        _apply_baseline(database, db_kwargs.get("iops"), db_kwargs.get("storage_throughput"))
        return database

    models.RDSBackend.create_db_instance = create_db_instance
    models.RDSBackend.modify_db_instance = modify_db_instance
