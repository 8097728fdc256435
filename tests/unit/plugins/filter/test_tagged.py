# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The tagged filter: resources kept by a tag whose key holds dots and slashes."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.mlops.eks_platform.plugins.filter.tagged import FilterModule, tagged

KEY = "mlops.eks_platform/component"


def test_keeps_resources_whose_tag_dictionary_has_the_value_in_input_order():
    groups = [{"nodegroup_name": "b", "tags": {KEY: "gpu_nodes"}},
              {"nodegroup_name": "core", "tags": {KEY: "eks_cluster"}},
              {"nodegroup_name": "untagged"},
              {"nodegroup_name": "a", "tags": {KEY: "gpu_nodes", "Name": "x"}}]
    assert [group["nodegroup_name"] for group in tagged(groups, KEY, "gpu_nodes")] == ["b", "a"]


def test_reads_ec2_key_value_lists_and_another_tags_field():
    groups = [{"id": "sg-1", "Tags": [{"Key": KEY, "Value": "gpu_nodes"}]},
              {"id": "sg-2", "Tags": [{"Key": "Name", "Value": "gpu_nodes"}]}]
    assert [group["id"] for group in tagged(groups, KEY, "gpu_nodes", tags_field="Tags")] == ["sg-1"]


def test_a_dotted_key_is_not_read_as_a_path():
    nested = [{"tags": {"mlops": {"eks_platform/component": "gpu_nodes"}}}]
    assert tagged(nested, KEY, "gpu_nodes") == []


def test_refuses_what_is_not_a_list():
    with pytest.raises(AnsibleFilterError, match="expects a list"):
        tagged({"tags": {}}, KEY, "gpu_nodes")


def test_is_registered_under_its_name():
    assert FilterModule().filters()["tagged"] is tagged
