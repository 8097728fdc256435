# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""IAM OpenID Connect providers (the trust anchor of IAM roles for service accounts, IRSA).

Works on a boto3 IAM client that takes ``aws_retry=True`` and raises
:class:`~ansible_collections.mlops.eks_platform.plugins.module_utils.eks.EksError`.
"""

from __future__ import annotations

try:
    import botocore
except ImportError:  # pragma: no cover - the module reports the missing library
    botocore = None

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import EksError
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.common import aws_call
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.tagging import tag_changes


def provider_host_path(url):
    """https://oidc.eks.eu-west-1.amazonaws.com/id/ABC/ -> oidc.eks.eu-west-1.amazonaws.com/id/ABC

    IAM stores and compares providers by host and path, without the scheme; it is also the prefix
    of the condition keys (``<host/path>:sub``, ``<host/path>:aud``) in IRSA trust policies.
    """
    text = (url or "").strip()
    if text.lower().startswith("https://"):
        text = text[8:]
    elif "://" in text:
        raise EksError("OIDC provider URL %r must use https." % url)
    text = text.rstrip("/")
    if not text:
        raise EksError("OIDC provider URL is empty.")
    return text


def find_provider_arn(client, url):
    wanted = provider_host_path(url)
    providers = aws_call("list OIDC providers", client.list_open_id_connect_providers, aws_retry=True)
    for entry in providers.get("OpenIDConnectProviderList", []):
        arn = entry["Arn"]
        if arn.split(":oidc-provider/", 1)[-1].rstrip("/") == wanted:
            return arn
    return None


def describe_provider(client, arn):
    try:
        found = client.get_open_id_connect_provider(aws_retry=True, OpenIDConnectProviderArn=arn)
    except is_boto3_error_code("NoSuchEntity"):
        return None
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:  # pylint: disable=duplicate-except
        raise EksError("Failed to read OIDC provider %s: %s" % (arn, exc), exception=exc)
    return {
        "arn": arn,
        "url": "https://" + provider_host_path(found.get("Url", "")),
        "client_ids": list(found.get("ClientIDList", [])),
        "thumbprints": [t.lower() for t in found.get("ThumbprintList", [])],
        "tags": {t["Key"]: t["Value"] for t in found.get("Tags", [])},
    }


def _tag_list(tags):
    return [{"Key": k, "Value": str(v)} for k, v in sorted((tags or {}).items())]


def ensure_provider(client, params, check_mode):
    """Returns (changed, provider, actions)."""
    url = "https://" + provider_host_path(params["url"])
    client_ids = list(dict.fromkeys(params.get("client_ids") or []))
    thumbprints = params.get("thumbprints")
    if thumbprints is not None:
        thumbprints = sorted({t.lower().replace(":", "") for t in thumbprints})
        bad = [t for t in thumbprints if len(t) != 40 or any(c not in "0123456789abcdef" for c in t)]
        if bad:
            raise EksError("Thumbprints must be SHA-1 fingerprints, 40 hex digits: %s" % ", ".join(bad))
    arn = find_provider_arn(client, url)
    provider = describe_provider(client, arn) if arn else None
    if provider is None:
        if check_mode:
            return True, {"url": url, "client_ids": client_ids, "thumbprints": thumbprints or [],
                          "tags": params.get("tags") or {}}, ["create"]
        request = {"Url": url, "ClientIDList": client_ids}
        if thumbprints:
            request["ThumbprintList"] = thumbprints
        if params.get("tags"):
            request["Tags"] = _tag_list(params["tags"])
        arn = aws_call("create OIDC provider %s" % url, client.create_open_id_connect_provider, aws_retry=True,
                       **request)["OpenIDConnectProviderArn"]
        return True, describe_provider(client, arn), ["create"]

    actions = []
    add = [c for c in client_ids if c not in provider["client_ids"]]
    remove = [c for c in provider["client_ids"] if c not in client_ids]
    if add or remove:
        actions.append("client ids")
    if thumbprints is not None and thumbprints and sorted(provider["thumbprints"]) != thumbprints:
        actions.append("thumbprints")
    to_set, to_remove = tag_changes(provider["tags"], params.get("tags"), params.get("purge_tags", True))
    if to_set or to_remove:
        actions.append("tags")
    if not actions or check_mode:
        return bool(actions), provider, actions
    for client_id in add:
        aws_call("add client id %s" % client_id, client.add_client_id_to_open_id_connect_provider, aws_retry=True,
                 OpenIDConnectProviderArn=arn, ClientID=client_id)
    for client_id in remove:
        aws_call("remove client id %s" % client_id, client.remove_client_id_from_open_id_connect_provider,
                 aws_retry=True, OpenIDConnectProviderArn=arn, ClientID=client_id)
    if "thumbprints" in actions:
        aws_call("update thumbprints", client.update_open_id_connect_provider_thumbprint, aws_retry=True,
                 OpenIDConnectProviderArn=arn, ThumbprintList=thumbprints)
    if to_remove:
        aws_call("untag OIDC provider", client.untag_open_id_connect_provider, aws_retry=True,
                 OpenIDConnectProviderArn=arn, TagKeys=to_remove)
    if to_set:
        aws_call("tag OIDC provider", client.tag_open_id_connect_provider, aws_retry=True,
                 OpenIDConnectProviderArn=arn, Tags=_tag_list(to_set))
    return True, describe_provider(client, arn), actions


def delete_provider(client, params, check_mode):
    """Returns (changed, provider-or-empty)."""
    arn = params.get("arn") or find_provider_arn(client, params["url"])
    provider = describe_provider(client, arn) if arn else None
    if provider is None:
        return False, {}
    if not check_mode:
        try:
            client.delete_open_id_connect_provider(aws_retry=True, OpenIDConnectProviderArn=arn)
        except is_boto3_error_code("NoSuchEntity"):
            return False, {}
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:  # pylint: disable=duplicate-except
            raise EksError("Failed to delete OIDC provider %s: %s" % (arn, exc), exception=exc)
    return True, provider
