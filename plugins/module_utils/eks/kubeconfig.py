# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""EKS bearer tokens and kubeconfig entries.

An EKS token is what ``aws eks get-token`` prints: the text ``k8s-aws-v1.`` followed by the
unpadded URL-safe base64 of a pre-signed STS ``GetCallerIdentity`` URL whose signature covers the
header ``x-k8s-aws-id: <cluster name>``. The cluster's authenticator replays that request to STS to
learn who the caller is. EKS accepts a token for 15 minutes after it was signed.
"""

from __future__ import annotations

import base64
import copy
import datetime
from urllib.parse import parse_qs
from urllib.parse import urlparse

CLUSTER_ID_HEADER = "x-k8s-aws-id"
TOKEN_PREFIX = "k8s-aws-v1."
PRESIGN_SECONDS = 60
TOKEN_LIFETIME = datetime.timedelta(minutes=15)
EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"


class TokenError(ValueError):
    pass


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def presigned_caller_identity_url(sts_client, cluster_name):
    """Pre-sign GetCallerIdentity with the cluster name in the signed x-k8s-aws-id header."""
    events = sts_client.meta.events

    def take_cluster_name(params, context, **kwargs):
        # The name travels as a pseudo-parameter; move it out before botocore validates params.
        if CLUSTER_ID_HEADER in params:
            context[CLUSTER_ID_HEADER] = params.pop(CLUSTER_ID_HEADER)

    def add_header(request, **kwargs):
        if CLUSTER_ID_HEADER in request.context:
            request.headers[CLUSTER_ID_HEADER] = request.context[CLUSTER_ID_HEADER]

    events.register("provide-client-params.sts.GetCallerIdentity", take_cluster_name, unique_id="mlops-k8s-aws-id-param")
    events.register("before-sign.sts.GetCallerIdentity", add_header, unique_id="mlops-k8s-aws-id-header")
    return sts_client.generate_presigned_url("get_caller_identity", Params={CLUSTER_ID_HEADER: cluster_name},
                                             ExpiresIn=PRESIGN_SECONDS, HttpMethod="GET")


def token_from_url(url):
    return TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode("utf-8")).decode("ascii").rstrip("=")


def url_from_token(token):
    if not token or not token.startswith(TOKEN_PREFIX):
        raise TokenError("not an EKS token")
    body = token[len(TOKEN_PREFIX):]
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise TokenError("EKS token does not decode: %s" % exc)


def token_details(token):
    """{'url', 'signed_at' (aware datetime), 'expires_at', 'signed_headers'} of a token."""
    url = url_from_token(token)
    query = parse_qs(urlparse(url).query)
    try:
        signed_at = datetime.datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc)
    except (KeyError, IndexError, ValueError):
        raise TokenError("EKS token has no X-Amz-Date")
    return {
        "url": url,
        "action": (query.get("Action") or [""])[0],
        "signed_at": signed_at,
        "expires_at": signed_at + TOKEN_LIFETIME,
        "signed_headers": (query.get("X-Amz-SignedHeaders") or [""])[0].split(";"),
    }


def generate_token(sts_client, cluster_name):
    """(token, expires_at) for the cluster, signed with the STS client's credentials."""
    token = token_from_url(presigned_caller_identity_url(sts_client, cluster_name))
    return token, token_details(token)["expires_at"]


def token_still_valid(token, min_validity_seconds, now=None):
    try:
        details = token_details(token)
    except TokenError:
        return False
    if CLUSTER_ID_HEADER not in details["signed_headers"]:
        return False
    now = now or _utcnow()
    return details["signed_at"] <= now and (details["expires_at"] - now).total_seconds() >= min_validity_seconds


def exec_user(cluster_name, region, command="aws", role_arn=None, profile=None):
    args = ["--region", region, "eks", "get-token", "--cluster-name", cluster_name, "--output", "json"]
    if role_arn:
        args += ["--role-arn", role_arn]
    user = {"exec": {"apiVersion": EXEC_API_VERSION, "command": command, "args": args,
                     "interactiveMode": "IfAvailable", "provideClusterInfo": False}}
    if profile:
        user["exec"]["env"] = [{"name": "AWS_PROFILE", "value": profile}]
    return user


def empty_config():
    return {"apiVersion": "v1", "kind": "Config", "preferences": {}, "clusters": [], "users": [], "contexts": [],
            "current-context": ""}


def _upsert(entries, name, key, value):
    entries = [e for e in (entries or []) if e.get("name") != name]
    entries.append({"name": name, key: value})
    return sorted(entries, key=lambda e: e.get("name", ""))


def merge_entries(config, alias, server, ca_data, user, namespace=None, set_current=True):
    """A copy of config with the cluster, user and context named alias replaced by these."""
    result = copy.deepcopy(config) if config else empty_config()
    for key, value in empty_config().items():
        if result.get(key) is None:
            result[key] = copy.deepcopy(value)
    result["clusters"] = _upsert(result["clusters"], alias, "cluster",
                                 {"server": server, "certificate-authority-data": ca_data})
    result["users"] = _upsert(result["users"], alias, "user", user)
    context = {"cluster": alias, "user": alias}
    if namespace:
        context["namespace"] = namespace
    result["contexts"] = _upsert(result["contexts"], alias, "context", context)
    if set_current or not result.get("current-context"):
        result["current-context"] = alias
    return result


def remove_entries(config, alias):
    if not config:
        return config
    result = copy.deepcopy(config)
    for key in ("clusters", "users", "contexts"):
        result[key] = [e for e in (result.get(key) or []) if e.get("name") != alias]
    if result.get("current-context") == alias:
        result["current-context"] = ""
    return result


def existing_token(config, alias):
    for entry in (config or {}).get("users") or []:
        if entry.get("name") == alias:
            return (entry.get("user") or {}).get("token")
    return None


def existing_server(config, alias):
    for entry in (config or {}).get("clusters") or []:
        if entry.get("name") == alias:
            return (entry.get("cluster") or {}).get("server")
    return None


def redact(config):
    """A copy without tokens, for diffs and results."""
    result = copy.deepcopy(config or {})
    for entry in result.get("users") or []:
        user = entry.get("user") or {}
        if "token" in user:
            user["token"] = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    return result
