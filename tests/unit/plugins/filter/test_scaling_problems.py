# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The scaling_problems filter: eks_cluster's core node group sizes by the eks_managed_nodegroup rule."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mlops.eks_platform.plugins.filter.scaling_problems import FilterModule
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import EksError
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.nodegroup import check_scaling

scaling_problems = FilterModule().filters()['scaling_problems']


@pytest.mark.parametrize('sizes', [
    {'min_size': 0, 'max_size': 1},
    {'min_size': 2, 'max_size': 6, 'desired_size': 3},
    {'min_size': '2', 'max_size': '6', 'desired_size': '6'},
    {'min_size': 1, 'max_size': 1, 'desired_size': None},
], ids=['scale-to-zero', 'desired-inside', 'strings', 'desired-unset'])
def test_valid_sizes_have_no_problems(sizes):
    assert scaling_problems(sizes) == []


@pytest.mark.parametrize('sizes,problem', [
    ({'min_size': 8, 'max_size': 6, 'desired_size': 8}, 'Scaling: need 0 <= min_size <= max_size and max_size >= 1 (got min 8, max 6)'),
    ({'min_size': 0, 'max_size': 0}, 'Scaling: need 0 <= min_size <= max_size and max_size >= 1 (got min 0, max 0)'),
    ({'min_size': -1, 'max_size': 2}, 'Scaling: need 0 <= min_size <= max_size and max_size >= 1 (got min -1, max 2)'),
    ({'min_size': 1, 'max_size': 3, 'desired_size': 0}, 'desired_size 0 is outside min_size 1 and max_size 3'),
    ({'max_size': 3}, 'min_size and max_size are required'),
    ({'min_size': 'one', 'max_size': 3}, "min_size must be a whole number (got 'one')"),
], ids=['min-above-max', 'max-zero', 'min-negative', 'desired-below', 'min-missing', 'not-a-number'])
def test_bad_sizes_are_named(sizes, problem):
    assert scaling_problems(sizes) == [problem]


@pytest.mark.parametrize('sizes', [
    {'min_size': 8, 'max_size': 6, 'desired_size': 8},
    {'min_size': 1, 'max_size': 3, 'desired_size': 0},
    {'min_size': 0, 'max_size': 2, 'desired_size': 2},
])
def test_the_filter_agrees_with_the_module_rule(sizes):
    try:
        check_scaling(dict(sizes))
    except EksError as refusal:
        assert scaling_problems(sizes) == [refusal.msg.rstrip('.')]
    else:
        assert scaling_problems(sizes) == []


def test_input_that_is_not_a_dictionary_is_an_error():
    with pytest.raises(AnsibleFilterError):
        scaling_problems([0, 2])
