# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for EKS tokens and kubeconfig entries (plugins/module_utils/eks/kubeconfig.py).

Pre-signing is local (no request is sent), so a real boto3 STS client with made-up credentials
shows exactly what a token holds. tests/integration replays a token against the emulated STS.
"""

from __future__ import annotations

import datetime
from urllib.parse import parse_qs
from urllib.parse import urlparse

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.mlops.eks_platform.plugins.module_utils.eks import kubeconfig as kc


@pytest.fixture
def sts(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    return boto3.client("sts", region_name="eu-west-1", aws_access_key_id="AKIAUNITTEST",
                        aws_secret_access_key="unit-test")


def test_token_is_a_presigned_regional_get_caller_identity_bound_to_the_cluster(sts):
    token, expires_at = kc.generate_token(sts, "mlops")
    assert token.startswith("k8s-aws-v1.") and "=" not in token
    url = kc.url_from_token(token)
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    assert parsed.scheme == "https" and parsed.netloc == "sts.eu-west-1.amazonaws.com"
    assert query["Action"] == ["GetCallerIdentity"] and query["Version"] == ["2011-06-15"]
    assert query["X-Amz-Expires"] == ["60"]
    assert query["X-Amz-SignedHeaders"][0].split(";") == ["host", "x-k8s-aws-id"]
    assert query["X-Amz-Credential"][0].startswith("AKIAUNITTEST/")
    details = kc.token_details(token)
    assert expires_at == details["signed_at"] + datetime.timedelta(minutes=15)


def test_the_signature_depends_on_the_cluster_name(sts):
    first = parse_qs(urlparse(kc.url_from_token(kc.generate_token(sts, "a")[0])).query)
    second = parse_qs(urlparse(kc.url_from_token(kc.generate_token(sts, "b")[0])).query)
    if first["X-Amz-Date"] == second["X-Amz-Date"]:
        assert first["X-Amz-Signature"] != second["X-Amz-Signature"]


def test_a_token_is_kept_while_it_has_enough_validity_left(sts):
    token = kc.generate_token(sts, "mlops")[0]
    signed = kc.token_details(token)["signed_at"]
    assert kc.token_still_valid(token, 600, now=signed + datetime.timedelta(minutes=4))
    assert not kc.token_still_valid(token, 600, now=signed + datetime.timedelta(minutes=6))
    assert not kc.token_still_valid(token, 600, now=signed - datetime.timedelta(minutes=1))
    assert not kc.token_still_valid("not-a-token", 0)
    assert not kc.token_still_valid(kc.token_from_url("https://sts.amazonaws.com/?Action=GetCallerIdentity"), 0)


@given(st.text(min_size=1, max_size=300))
def test_token_encoding_round_trips(url):
    assert kc.url_from_token(kc.token_from_url(url)) == url


def test_merge_keeps_other_clusters_and_replaces_ours():
    other = {"apiVersion": "v1", "kind": "Config", "current-context": "kind",
             "clusters": [{"name": "kind", "cluster": {"server": "https://127.0.0.1:6443"}}],
             "users": [{"name": "kind", "user": {"token": "abc"}}],
             "contexts": [{"name": "kind", "context": {"cluster": "kind", "user": "kind"}}]}
    first = kc.merge_entries(other, "mlops", "https://one", "Q0E=", {"token": "t1"})
    second = kc.merge_entries(first, "mlops", "https://two", "Q0E=", {"token": "t2"}, namespace="ml",
                              set_current=False)
    assert [c["name"] for c in second["clusters"]] == ["kind", "mlops"]
    assert second["clusters"][1]["cluster"] == {"server": "https://two", "certificate-authority-data": "Q0E="}
    assert second["users"][1] == {"name": "mlops", "user": {"token": "t2"}}
    assert second["contexts"][1]["context"] == {"cluster": "mlops", "user": "mlops", "namespace": "ml"}
    assert first["current-context"] == "mlops" and second["current-context"] == "mlops"
    assert other["current-context"] == "kind", "the input must not be modified"
    assert kc.existing_token(second, "mlops") == "t2" and kc.existing_server(second, "mlops") == "https://two"


def test_remove_leaves_the_rest():
    config = kc.merge_entries(kc.merge_entries(None, "kind", "https://k", "", {"token": "k"}), "mlops", "https://m", "",
                              {"token": "m"})
    removed = kc.remove_entries(config, "mlops")
    assert [c["name"] for c in removed["clusters"]] == ["kind"] and removed["current-context"] == ""


def test_exec_user_runs_aws_eks_get_token():
    user = kc.exec_user("mlops", "eu-west-1", role_arn="arn:aws:iam::123456789012:role/admin", profile="ops")
    assert user["exec"]["command"] == "aws"
    assert user["exec"]["args"] == ["--region", "eu-west-1", "eks", "get-token", "--cluster-name", "mlops",
                                    "--output", "json", "--role-arn", "arn:aws:iam::123456789012:role/admin"]
    assert user["exec"]["env"] == [{"name": "AWS_PROFILE", "value": "ops"}]
    assert user["exec"]["apiVersion"] == "client.authentication.k8s.io/v1beta1"


def test_redact_hides_tokens_only():
    config = kc.merge_entries(None, "mlops", "https://m", "Q0E=", {"token": "secret"})
    redacted = kc.redact(config)
    assert "secret" not in repr(redacted) and redacted["clusters"] == config["clusters"]
    assert kc.existing_token(config, "mlops") == "secret"
