"""EFS: PutBackupPolicy and UpdateFileSystem.

Gaps in moto 5.2 that the collection's ``efs_file_system`` module (used by the ``efs_dags``
role) runs into:

* ``PutBackupPolicy`` is not implemented, so automatic backups can only be chosen when a file
  system is created and never switched on or off afterwards. ``DescribeBackupPolicy`` answers
  ``PolicyNotFound`` for a file system created without backups; after ``PutBackupPolicy`` AWS
  answers with the status that was put (``ENABLED`` or ``DISABLED``).
* ``UpdateFileSystem`` (throughput mode and provisioned throughput) is not implemented.

The patch adds both operations on moto's own models, with AWS's validation of the inputs
(``BadRequest`` for an unknown status or throughput mode, ``provisioned`` needing a
throughput) and AWS's responses (the backup policy; the file system description, HTTP 202).
"""

import json


def apply():
    from moto.efs import models, responses
    from moto.efs.exceptions import BadRequest, FileSystemNotFound

    file_system_cls = models.FileSystem
    original_backup_policy = file_system_cls.backup_policy

    def backup_policy(self):
        status = getattr(self, "_backup_status", None)
        if status:
            return {"Status": status}
        return original_backup_policy.fget(self)

    def _file_system(backend, file_system_id):
        if file_system_id not in backend.file_systems_by_id:
            raise FileSystemNotFound(file_system_id)
        return backend.file_systems_by_id[file_system_id]

    def put_backup_policy(self, file_system_id, status):
        if status not in ("ENABLED", "DISABLED"):
            raise BadRequest("BackupPolicy.Status must be ENABLED or DISABLED")
        file_system = _file_system(self, file_system_id)
        file_system._backup = status == "ENABLED"
        file_system._backup_status = status
        return {"Status": status}

    def update_file_system(self, file_system_id, throughput_mode, provisioned_throughput_in_mibps):
        file_system = _file_system(self, file_system_id)
        mode = throughput_mode if throughput_mode is not None else file_system.throughput_mode
        if mode not in ("bursting", "provisioned", "elastic"):
            raise BadRequest("ThroughputMode must be bursting, provisioned or elastic")
        if mode == "provisioned":
            throughput = provisioned_throughput_in_mibps or file_system.provisioned_throughput_in_mibps
            if not throughput:
                raise BadRequest("ProvisionedThroughputInMibps is required for throughput mode provisioned")
        elif provisioned_throughput_in_mibps is not None:
            raise BadRequest("ProvisionedThroughputInMibps can only be set for throughput mode provisioned")
        else:
            throughput = None
        # Validated first, so a refused request leaves the file system as it was.
        file_system.throughput_mode = mode
        file_system.provisioned_throughput_in_mibps = throughput
        return file_system

    def response_put_backup_policy(self):
        file_system_id = self._get_param("FileSystemId")
        status = (self._get_param("BackupPolicy") or {}).get("Status")
        policy = self.efs_backend.put_backup_policy(file_system_id, status)
        return json.dumps({"BackupPolicy": policy}), {"Content-Type": "application/json"}

    def response_update_file_system(self):
        file_system = self.efs_backend.update_file_system(
            self._get_param("FileSystemId"),
            self._get_param("ThroughputMode"),
            self._get_param("ProvisionedThroughputInMibps"),
        )
        return json.dumps(file_system.info_json()), {"status": 202, "Content-Type": "application/json"}

    file_system_cls.backup_policy = property(backup_policy)
    models.EFSBackend.put_backup_policy = put_backup_policy
    models.EFSBackend.update_file_system = update_file_system
    responses.EFSResponse.put_backup_policy = response_put_backup_policy
    responses.EFSResponse.update_file_system = response_update_file_system
