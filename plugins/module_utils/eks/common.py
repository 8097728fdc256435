# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What every part of mlops.eks_platform's EKS code shares: its error, the retried error codes,
result conversion and Kubernetes versions.

Everything in this package works on a boto3 EKS client that takes ``aws_retry=True`` (a client from
``AnsibleAWSModule.client(..., retry_decorator=retry.retry_decorator(RETRY_CODES))``) and plain
dictionaries, so that it can be unit-tested with botocore's Stubber and no Ansible module. Failures
are raised as :class:`EksError`; the modules turn them into ``fail_json`` with :func:`run`.
"""

from __future__ import annotations

import re

try:
    import botocore
except ImportError:  # pragma: no cover - the modules report the missing library
    botocore = None

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict


_VERSION = re.compile(r"^(\d+)\.(\d+)$")


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
