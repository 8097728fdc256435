"""EFS: a file system with access points cannot be deleted.

AWS documents that the access points and the mount targets of a file system must be deleted
before ``DeleteFileSystem`` succeeds. moto 5.2 checks the mount targets only: it deletes a file
system that still has access points and leaves those access points behind, orphaned, so a
clean-up that forgets them looks complete against the emulator. The patch restores AWS's
refusal (``FileSystemInUse``) while access points remain.
"""


def apply():
    from moto.efs import models
    from moto.efs.exceptions import FileSystemInUse

    original_delete = models.EFSBackend.delete_file_system

    def delete_file_system(self, file_system_id):
        remaining = [ap.access_point_id for ap in self.access_points.values() if ap.file_system_id == file_system_id]
        if file_system_id in self.file_systems_by_id and remaining:
            raise FileSystemInUse("Must delete all access points before deleting file system (%s)." % ", ".join(remaining))
        return original_delete(self, file_system_id)

    models.EFSBackend.delete_file_system = delete_file_system
