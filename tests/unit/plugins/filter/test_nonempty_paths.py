# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The nonempty_paths filter, which airflow_helm uses to refuse secrets inline in airflow_helm_extra_values."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mlops.eks_platform.plugins.filter.nonempty_paths import FilterModule

nonempty_paths = FilterModule().filters()['nonempty_paths']

PATHS = ['fernetKey', 'redis.password', 'data.metadataConnection', 'dags.gitSync.sshKey', 'webserver.defaultUser']


def test_set_paths_are_returned_in_the_order_given():
    values = {'dags': {'gitSync': {'sshKey': 'key'}}, 'fernetKey': 'c2VjcmV0', 'data': {'metadataConnection': {'user': 'a'}}}
    assert nonempty_paths(values, PATHS) == ['fernetKey', 'data.metadataConnection', 'dags.gitSync.sshKey']


@pytest.mark.parametrize('value', [None, '', [], {}], ids=['null', 'empty-string', 'empty-list', 'empty-dict'])
def test_empty_values_are_not_set(value):
    assert nonempty_paths({'fernetKey': value, 'redis': {'password': value}}, PATHS) == []


@pytest.mark.parametrize('value', [0, False, 'x', ['a'], {'k': ''}], ids=['zero', 'false', 'text', 'list', 'dict'])
def test_other_values_are_set(value):
    assert nonempty_paths({'redis': {'password': value}}, PATHS) == ['redis.password']


def test_a_path_through_a_non_dictionary_or_a_missing_key_is_not_set():
    values = {'redis': 'not-a-dict', 'dags': {'gitSync': ['sshKey']}, 'webserver': {}}
    assert nonempty_paths(values, PATHS) == []


def test_the_values_are_never_returned():
    assert 'c2VjcmV0' not in repr(nonempty_paths({'fernetKey': 'c2VjcmV0'}, PATHS))


def test_input_that_is_not_a_dictionary_is_an_error():
    with pytest.raises(AnsibleFilterError):
        nonempty_paths(['fernetKey'], PATHS)
