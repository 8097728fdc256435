# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The retry policy every AWS client of mlops.eks_platform's modules uses.

``AWSRetry.jittered_backoff`` retries ``Throttling`` (the query APIs: IAM, RDS, STS), the EC2 codes
and 5xx ``InternalFailure``/``ServiceUnavailable``, but not ``ThrottlingException``, which is how
the JSON and REST-JSON APIs (EKS, EFS, ECR, KMS, Secrets Manager) say "slow down". Without it a
throttled call fails the task once botocore's own few attempts are spent.
"""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

THROTTLING_CODES = ("ThrottlingException",)


def retry_decorator(extra_codes=(), **backoff):
    """``AWSRetry.jittered_backoff(**backoff)`` that also retries the JSON APIs' throttling and ``extra_codes``."""
    return AWSRetry.jittered_backoff(catch_extra_error_codes=list(THROTTLING_CODES) + list(extra_codes), **backoff)
