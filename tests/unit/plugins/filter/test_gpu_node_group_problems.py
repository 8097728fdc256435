# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The gpu_node_group_problems filter: gpu_nodes' node group rules, sizes by the module's rule.

The role's validation calls the filter before any API call; sizes, labels and taints go through
check_scaling of module_utils/eks/nodegroup.py, the rule eks_managed_nodegroup applies when it creates the group.
"""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mlops.eks_platform.plugins.filter.gpu_node_group_problems import FilterModule
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import EksError
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.nodegroup import create_nodegroup_request

problems_of = FilterModule().filters()['gpu_node_group_problems']

FAMILIES = {'g5': 'x86_64', 'g5g': 'arm64', 'g6': 'x86_64', 'p5': 'x86_64'}
AMI_TYPES = {'AL2023_x86_64_NVIDIA': 'x86_64', 'AL2023_ARM_64_NVIDIA': 'arm64'}


def group(**fields):
    return dict({'name': 'gpu', 'instance_types': ['g5.xlarge'], 'ami_type': 'AL2023_x86_64_NVIDIA',
                 'max_size': 2}, **fields)


def check(*groups):
    return problems_of(list(groups), families=FAMILIES, ami_types=AMI_TYPES)


def test_a_valid_group_has_no_problems():
    assert check(group(), group(name='arm', instance_types=['g5g.xlarge'], ami_type='AL2023_ARM_64_NVIDIA',
                                min_size=0, max_size=1, desired_size=1, disk_size=20)) == []


def test_sizes_given_as_strings_are_read_as_numbers():
    # Inventory values may arrive as strings; the argument spec accepts them as int.
    assert check(group(min_size='1', max_size='3', desired_size='2')) == []
    assert check(group(min_size='3', max_size='2')) == [
        "'gpu': Scaling: need 0 <= min_size <= max_size and max_size >= 1 (got min 3, max 2)"]


def test_a_size_that_is_not_a_number_is_named():
    assert check(group(max_size='two')) == ["'gpu': max_size must be a whole number (got 'two')"]


@pytest.mark.parametrize('fields,problem', [
    ({'min_size': 3, 'max_size': 2}, "'gpu': Scaling: need 0 <= min_size <= max_size and max_size >= 1 (got min 3, max 2)"),
    ({'max_size': 0}, "'gpu': Scaling: need 0 <= min_size <= max_size and max_size >= 1 (got min 0, max 0)"),
    ({'min_size': -1}, "'gpu': Scaling: need 0 <= min_size <= max_size and max_size >= 1 (got min -1, max 2)"),
    ({'desired_size': 4}, "'gpu': desired_size 4 is outside min_size 0 and max_size 2"),
], ids=['min-above-max', 'max-zero', 'min-negative', 'desired-outside'])
def test_sizes_are_refused_with_the_module_rule(fields, problem):
    assert check(group(**fields)) == [problem]
    # The module refuses the same group with the same words.
    request = dict(group(**fields), cluster_name='c', node_role='r', subnets=['subnet-1'])
    request.setdefault('min_size', 0)
    with pytest.raises(EksError) as refused:
        create_nodegroup_request(request)
    assert problem.split(': ', 1)[1] == refused.value.msg.rstrip('.')


def test_labels_and_taints_are_checked_with_the_module_rule():
    found = check(group(labels={'bad key!': 'x'}, taints=[{'key': 'team', 'value': 'a b', 'effect': 'NoSchedule'}]))
    assert len(found) == 1
    assert found[0].startswith("'gpu': Invalid Kubernetes labels or taints: ")
    assert "'bad key!'" in found[0] and "taint 'team'" in found[0]


@pytest.mark.parametrize('types,problem', [
    (['m6i.xlarge'], "'gpu': m6i.xlarge is not an NVIDIA GPU instance type (GPU families: g5, g5g, g6, p5)"),
    ([], "'gpu': instance_types is empty"),
    (['g5.xlarge', 'g5g.xlarge'], "'gpu': instance_types mix architectures (x86_64 and arm64)"),
], ids=['cpu-type', 'empty', 'mixed'])
def test_instance_types(types, problem):
    assert check(group(instance_types=types)) == [problem]


def test_ami_type_must_match_the_architecture():
    assert check(group(instance_types=['g5g.xlarge'])) == [
        "'gpu': ami_type AL2023_x86_64_NVIDIA is for x86_64 but g5g.xlarge are arm64 instances"]


def test_ami_type_outside_the_list_is_refused():
    assert check(group(ami_type='AL2023_x86_64_STANDARD')) == [
        "'gpu': ami_type AL2023_x86_64_STANDARD must be an NVIDIA AMI type (AL2023_x86_64_NVIDIA, AL2023_ARM_64_NVIDIA)"]


def test_extra_families_are_accepted():
    assert problems_of([group(instance_types=['g9.xlarge'])], families=dict(FAMILIES, g9='x86_64'),
                       ami_types=AMI_TYPES) == []


@pytest.mark.parametrize('name', ['', '-gpu', 'gpu nodes', 'g' * 64])
def test_bad_names_are_refused(name):
    found = check(group(name=name))
    assert found == ["'{0}': name must be 1-63 letters, digits, - or _".format(name or '#1')]


def test_duplicate_names_are_refused():
    assert check(group(), group()) == ['node group names must be unique (got gpu, gpu)']


def test_small_disks_are_refused():
    assert check(group(disk_size=19)) == ["'gpu': disk_size must be at least 20 GiB"]
    assert check(group(disk_size=20)) == []


def test_every_problem_of_every_group_is_listed():
    found = check(group(name='a', instance_types=['m6i.large'], min_size=5),
                  group(name='ok'),
                  group(name='b', disk_size=8))
    assert [problem.split(':')[0] for problem in found] == ["'a'", "'a'", "'b'"]


def test_a_group_that_is_not_a_dict_is_named_by_position():
    assert check(group(), 'gpu') == ['#2: a node group must be a dict']


def test_a_value_that_is_not_a_list_is_an_error():
    with pytest.raises(AnsibleFilterError):
        problems_of('gpu', families=FAMILIES, ami_types=AMI_TYPES)
