"""KMS calls that moto 5.2 only accepts with a bare key id.

Gap: ``ScheduleKeyDeletion``, ``CancelKeyDeletion``, ``EnableKey`` and ``DisableKey`` look the
key up by the literal ``KeyId`` parameter. Given a key ARN, which AWS accepts for all four
("KeyId: key ID or key ARN"), moto fails with an internal ``KeyError`` (HTTP 500).

``amazon.aws.kms_key`` passes the key ARN, so ``state: absent`` for a key fails against moto
although it works against AWS. The eks_cluster role removes the cluster's secrets-encryption key
that way. The patch resolves an ARN to the key id first, the way moto's other KMS calls already do.
"""


def apply():
    from moto.kms import models

    for name in ("schedule_key_deletion", "cancel_key_deletion", "enable_key", "disable_key"):
        original = getattr(models.KmsBackend, name)

        def wrapper(self, key_id, *args, __original=original, **kwargs):
            return __original(self, models.KmsBackend.get_key_id(key_id), *args, **kwargs)

        setattr(models.KmsBackend, name, wrapper)
