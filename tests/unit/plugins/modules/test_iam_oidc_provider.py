# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for iam_oidc_provider (plugins/module_utils/eks/oidc.py) against botocore's Stubber."""

from __future__ import annotations

import pytest

from ansible_collections.mlops.eks_platform.plugins.module_utils.eks import oidc as eks_oidc
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import EksError

HOST_PATH = "oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF"
URL = "https://" + HOST_PATH
ARN = "arn:aws:iam::123456789012:oidc-provider/" + HOST_PATH
THUMB = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


@pytest.fixture
def stubbed(stubbed_iam):
    return stubbed_iam


def params(**overrides):
    base = {"url": URL, "client_ids": ["sts.amazonaws.com"], "thumbprints": None, "tags": None, "purge_tags": True}
    base.update(overrides)
    return base


def existing(stub, client_ids=("sts.amazonaws.com",), thumbprints=(), tags=None):
    stub.add_response("list_open_id_connect_providers", {"OpenIDConnectProviderList": [
        {"Arn": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}, {"Arn": ARN}]}, {})
    stub.add_response("get_open_id_connect_provider", {
        "Url": HOST_PATH, "ClientIDList": list(client_ids), "ThumbprintList": list(thumbprints),
        "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]}, {"OpenIDConnectProviderArn": ARN})


@pytest.mark.parametrize("url", [URL, URL + "/", HOST_PATH, "HTTPS://" + HOST_PATH])
def test_host_path_is_the_url_without_scheme_and_slash(url):
    assert eks_oidc.provider_host_path(url) == HOST_PATH


@pytest.mark.parametrize("url, message", [("http://" + HOST_PATH, "must use https"), ("https://", "empty")])
def test_bad_urls(url, message):
    with pytest.raises(EksError, match=message):
        eks_oidc.provider_host_path(url)


def test_creates_the_provider_without_thumbprints_so_iam_fetches_them(stubbed):
    client, stub = stubbed
    stub.add_response("list_open_id_connect_providers", {"OpenIDConnectProviderList": []}, {})
    stub.add_response("create_open_id_connect_provider", {"OpenIDConnectProviderArn": ARN}, {
        "Url": URL, "ClientIDList": ["sts.amazonaws.com"], "Tags": [{"Key": "cluster", "Value": "mlops"}]})
    stub.add_response("get_open_id_connect_provider", {
        "Url": HOST_PATH, "ClientIDList": ["sts.amazonaws.com"], "ThumbprintList": [],
        "Tags": [{"Key": "cluster", "Value": "mlops"}]}, {"OpenIDConnectProviderArn": ARN})
    changed, provider, actions = eks_oidc.ensure_provider(client, params(tags={"cluster": "mlops"}), False)
    assert changed and actions == ["create"]
    assert provider == {"arn": ARN, "url": URL, "client_ids": ["sts.amazonaws.com"], "thumbprints": [],
                        "tags": {"cluster": "mlops"}}


def test_an_existing_provider_that_matches_is_left_alone(stubbed):
    client, stub = stubbed
    existing(stub, thumbprints=[THUMB.upper()], tags={"cluster": "mlops"})
    changed, provider, actions = eks_oidc.ensure_provider(
        client, params(url=URL + "/", thumbprints=[THUMB], tags={"cluster": "mlops"}), False)
    assert not changed and actions == [] and provider["arn"] == ARN


def test_audiences_thumbprints_and_tags_are_converged(stubbed):
    client, stub = stubbed
    existing(stub, client_ids=["sts.amazonaws.com", "legacy"], thumbprints=["a" * 40], tags={"old": "1", "aws:x": "y"})
    stub.add_response("add_client_id_to_open_id_connect_provider", {}, {"OpenIDConnectProviderArn": ARN, "ClientID": "argo"})
    stub.add_response("remove_client_id_from_open_id_connect_provider", {},
                      {"OpenIDConnectProviderArn": ARN, "ClientID": "legacy"})
    stub.add_response("update_open_id_connect_provider_thumbprint", {},
                      {"OpenIDConnectProviderArn": ARN, "ThumbprintList": [THUMB]})
    stub.add_response("untag_open_id_connect_provider", {}, {"OpenIDConnectProviderArn": ARN, "TagKeys": ["old"]})
    stub.add_response("tag_open_id_connect_provider", {},
                      {"OpenIDConnectProviderArn": ARN, "Tags": [{"Key": "cluster", "Value": "mlops"}]})
    stub.add_response("get_open_id_connect_provider", {
        "Url": HOST_PATH, "ClientIDList": ["sts.amazonaws.com", "argo"], "ThumbprintList": [THUMB],
        "Tags": [{"Key": "cluster", "Value": "mlops"}]}, {"OpenIDConnectProviderArn": ARN})
    changed, provider, actions = eks_oidc.ensure_provider(client, params(
        client_ids=["sts.amazonaws.com", "argo"], thumbprints=[THUMB.upper()], tags={"cluster": "mlops"}), False)
    assert changed and actions == ["client ids", "thumbprints", "tags"]
    assert provider["client_ids"] == ["sts.amazonaws.com", "argo"]


def test_check_mode_changes_nothing(stubbed):
    client, stub = stubbed
    existing(stub)
    changed, actions = eks_oidc.ensure_provider(client, params(client_ids=["other"]), True)[::2]
    assert changed and actions == ["client ids"]


def test_thumbprints_must_be_sha1_hex(stubbed):
    client = stubbed[0]
    with pytest.raises(EksError, match="40 hex digits"):
        eks_oidc.ensure_provider(client, params(thumbprints=["abc"]), False)


def test_delete(stubbed):
    client, stub = stubbed
    existing(stub)
    stub.add_response("delete_open_id_connect_provider", {}, {"OpenIDConnectProviderArn": ARN})
    changed, provider = eks_oidc.delete_provider(client, params(), False)
    assert changed and provider["arn"] == ARN


def test_delete_when_gone(stubbed):
    client, stub = stubbed
    stub.add_response("list_open_id_connect_providers", {"OpenIDConnectProviderList": []}, {})
    assert eks_oidc.delete_provider(client, params(), False) == (False, {})
