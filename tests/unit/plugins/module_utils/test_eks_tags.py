# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""EKS and IAM OIDC tags are compared by amazon.aws's compare_aws_tags; what is added, changed,
kept and purged is what the collection's own comparison decided before (kept below as the oracle)."""

from __future__ import annotations

import itertools

import pytest

from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.tagging import sync_tags
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.tagging import tag_changes

ARN = "arn:aws:eks:eu-west-1:123456789012:cluster/mlops"


def hand_compared(current, desired, purge):
    """The comparison module_utils/eks.py made by hand before it used compare_aws_tags."""
    current = current or {}
    if desired is None:
        return {}, []
    to_set = {k: str(v) for k, v in desired.items() if current.get(k) != str(v)}
    to_remove = sorted(k for k in current if k not in desired and not k.startswith("aws:")) if purge else []
    return to_set, to_remove


CURRENT = [None, {}, {"team": "ml"}, {"team": "ml", "old": "x", "aws:eks:cluster-name": "mlops"},
           {"count": "1", "flag": "True", "b": "2", "a": "1"}]
DESIRED = [None, {}, {"team": "ml"}, {"team": "ai"}, {"team": "ml", "env": "prod"}, {"count": 1, "flag": True},
           {"aws:eks:cluster-name": "mlops"}, {"a": "1", "b": "2"}]


@pytest.mark.parametrize("current,desired,purge", list(itertools.product(CURRENT, DESIRED, (True, False))))
def test_same_decisions_as_the_hand_comparison(current, desired, purge):
    assert tag_changes(current, desired, purge) == hand_compared(current, desired, purge)


def test_adds_and_changes_with_string_values():
    assert tag_changes({"team": "ml"}, {"team": "ai", "count": 3, "flag": False}, True) == (
        {"team": "ai", "count": "3", "flag": "False"}, [])


def test_purge_removes_unlisted_keys_sorted_but_never_aws_keys():
    current = {"z": "1", "team": "ml", "a": "2", "aws:eks:cluster-name": "mlops"}
    assert tag_changes(current, {"team": "ml"}, True) == ({}, ["a", "z"])


def test_without_purge_nothing_is_removed():
    assert tag_changes({"old": "x", "team": "ml"}, {"team": "ai"}, False) == ({"team": "ai"}, [])


def test_unmanaged_tags_change_nothing():
    assert tag_changes({"old": "x"}, None, True) == ({}, [])


def test_empty_tags_with_purge_remove_all_but_aws_keys():
    assert tag_changes({"old": "x", "aws:cloudformation:stack-name": "s"}, {}, True) == ({}, ["old"])


def test_sync_tags_untags_then_tags(stubbed):
    client, stub = stubbed
    stub.add_response("untag_resource", {}, {"resourceArn": ARN, "tagKeys": ["a", "old"]})
    stub.add_response("tag_resource", {}, {"resourceArn": ARN, "tags": {"env": "prod"}})
    assert sync_tags(client, ARN, {"team": "ml", "old": "x", "a": "1", "aws:eks:x": "y"},
                     {"team": "ml", "env": "prod"}, True, False)


def test_sync_tags_in_check_mode_calls_nothing(stubbed):
    client = stubbed[0]
    assert sync_tags(client, ARN, {"old": "x"}, {"env": "prod"}, True, True)
    assert not sync_tags(client, ARN, {"env": "prod"}, {"env": "prod"}, True, False)
