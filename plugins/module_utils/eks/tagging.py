# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tags of EKS clusters, node groups and add-ons (TagResource/UntagResource work on all three);
:func:`tag_changes` also decides for the IAM OIDC provider."""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import aws_call


def tag_changes(current, desired, purge):
    """(to_set, to_remove) to move current tags to desired; desired None means tags are not managed.

    amazon.aws's ``compare_aws_tags`` decides (it never removes the ``aws:`` keys that belong to AWS);
    the values to set are strings and the keys to remove sorted, as the EKS and IAM APIs get them.
    """
    if desired is None:
        return {}, []
    to_set, to_remove = compare_aws_tags(current or {}, desired, purge_tags=purge)
    return {k: str(v) for k, v in to_set.items()}, sorted(to_remove)


def sync_tags(client, arn, current, desired, purge, check_mode):
    to_set, to_remove = tag_changes(current, desired, purge)
    if check_mode:
        return bool(to_set or to_remove)
    if to_remove:
        aws_call("untag %s" % arn, client.untag_resource, aws_retry=True, resourceArn=arn, tagKeys=to_remove)
    if to_set:
        aws_call("tag %s" % arn, client.tag_resource, aws_retry=True, resourceArn=arn, tags=to_set)
    return bool(to_set or to_remove)
