"""RDS DB parameter groups: the not-found error and the engine's default parameters.

Gaps in moto 5.2 (both break ``amazon.aws.rds_instance_param_group``, which ``rds_metadata``
uses for its PostgreSQL parameter group):

* ``DescribeDBParameterGroups`` with the name of a group that does not exist answers with an
  empty list. AWS answers ``DBParameterGroupNotFound``; the module relies on that error to
  decide that it has to create the group, and fails with ``list index out of range`` instead.
* A new parameter group has no parameters at all. On AWS, ``DescribeDBParameters`` lists every
  parameter of the group's family (``Source: engine-default``, with ``DataType``,
  ``AllowedValues``, ``IsModifiable``, ``ApplyType``) and a modified one turns into
  ``Source: user``. The module looks a parameter up in that list before it changes it, so
  against moto every parameter is reported "not an available parameter" and never set.

The patch restores both behaviours. New groups of a ``postgresNN`` family start with the
engine defaults of the parameters below (values and metadata as AWS documents them for RDS
for PostgreSQL; the full catalogue has several hundred entries, this is the subset the
collection and its tests touch). Modifying a parameter records ``Source: user``.
"""

import copy
import re

# Name -> (default value or None, data type, allowed values, apply type, modifiable, description)
_POSTGRES_DEFAULTS = {
    "rds.force_ssl": ("1", "boolean", "0,1", "dynamic", True, "Force SSL connections."),
    "password_encryption": ("scram-sha-256", "string", "md5,scram-sha-256", "dynamic", True,
                            "Chooses the algorithm for encrypting passwords."),
    "log_min_duration_statement": (None, "integer", "-1-2147483647", "dynamic", True,
                                   "Sets the minimum execution time above which statements will be logged."),
    "log_connections": (None, "boolean", "0,1", "dynamic", True, "Logs each successful connection."),
    "log_disconnections": (None, "boolean", "0,1", "dynamic", True, "Logs end of a session, including duration."),
    "log_statement": (None, "string", "none,ddl,mod,all", "dynamic", True, "Sets the type of statements logged."),
    "idle_in_transaction_session_timeout": (None, "integer", "0-2147483647", "dynamic", True,
                                            "Sets the maximum allowed duration of any idling transaction."),
    "max_connections": ("LEAST({DBInstanceClassMemory/9531392},5000)", "integer", "6-8388607", "static", True,
                        "Sets the maximum number of concurrent connections."),
    "shared_preload_libraries": ("pg_stat_statements", "list", "auto_explain,pg_stat_statements,pgaudit",
                                 "static", True, "Lists shared libraries to preload into server."),
    "ssl": ("1", "boolean", "0,1", "static", False, "Enables SSL connections."),
}


def _default_parameters(family):
    if not family or not re.match(r"^postgres\d+$", family):
        return {}
    params = {}
    for name, (value, data_type, allowed, apply_type, modifiable, description) in _POSTGRES_DEFAULTS.items():
        param = {
            "ParameterName": name,
            "Description": description,
            "Source": "engine-default",
            "ApplyType": apply_type,
            "DataType": data_type,
            "AllowedValues": allowed,
            "IsModifiable": modifiable,
            "ApplyMethod": "pending-reboot",
        }
        if value is not None:
            param["ParameterValue"] = value
        params[name] = param
    return params


def apply():
    from moto.rds import models
    from moto.rds.exceptions import DBParameterGroupNotFoundError

    group_cls = models.DBParameterGroup
    original_init = group_cls.__init__
    original_update = group_cls.update_parameters
    original_describe = models.RDSBackend.describe_db_parameter_groups

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        for name, param in _default_parameters(self.family).items():
            self.parameters[name] = copy.deepcopy(param)

    def update_parameters(self, new_parameters):
        new_parameters = list(new_parameters)
        original_update(self, new_parameters)
        for new_parameter in new_parameters:
            self.parameters[new_parameter["ParameterName"]]["Source"] = "user"

    def describe_db_parameter_groups(self, db_parameter_group_kwargs):
        groups = original_describe(self, db_parameter_group_kwargs)
        name = db_parameter_group_kwargs.get("db_parameter_group_name")
        if name and not groups:
            raise DBParameterGroupNotFoundError(name)
        return groups

    group_cls.__init__ = __init__
    group_cls.update_parameters = update_parameters
    models.RDSBackend.describe_db_parameter_groups = describe_db_parameter_groups
