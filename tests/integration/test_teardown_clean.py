# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/teardown.yml on the sandbox leaves nothing of the platform behind.

On a fresh emulated account, site.yml -i inventories/sandbox deploys the whole platform (the
deployment tests/integration/site_capture.py makes once per test session for the secrets scan and
the static checks; it tears it down after their captures, so the listings below come from it).
Then:

* teardown.yml without confirmation is refused and changes nothing (the listing of the account
  and of the cluster is the same before and after);
* teardown.yml -e teardown_confirm=sandbox leaves no resource tagged ManagedBy=mlops.eks_platform
  or mlops.eks_platform/cluster in the account (every service listed through its own API:
  moto's tagging API does not cover IAM, EKS, RDS or ECR), nothing at all that site.yml added
  (untagged resources such as Elastic IPs and mount targets included), no namespace that
  site.yml created and no Helm release.

What AWS itself keeps for a while after a delete does not count as left behind: KMS keys
pending deletion (and their aliases, which go with the key), secrets scheduled for deletion, NAT
gateways in state "deleted". tests/integration/test_teardown_guard.py covers the refusals on
the other inventories without a deployment.
"""

from __future__ import annotations

import pytest

import platform_state
from figures import write_figures
from role_constants import NAMESPACES

# Namespaces site.yml must create on the sandbox (the roles' defaults there).
EXPECTED_NAMESPACES = set(NAMESPACES.values())

pytestmark = [pytest.mark.aws, pytest.mark.k8s]


def _gone_in_aws_terms(resource, listing):
    """Deleted as far as AWS goes: pending deletion, or a NAT gateway shown as deleted, or an
    alias of a key pending deletion."""
    service, kind, ident, state, _tags = resource
    if service == "kms" and kind == "key":
        return state in ("PendingDeletion", "PendingReplicaDeletion")
    if service == "kms" and kind == "alias":
        pending = {r[2] for r in listing if r[0] == "kms" and r[1] == "key"
                   and r[3] in ("PendingDeletion", "PendingReplicaDeletion")}
        return state in pending
    if service == "secretsmanager":
        return state == "PendingDeletion"
    if service == "ec2" and kind == "nat-gateway":
        return state in ("deleting", "deleted")
    return False


def _namespaces(listing):
    return {r[2].strip("/") for r in listing if r[0] == "k8s" and r[1] == "Namespace"}


def test_teardown_leaves_nothing_of_the_platform(site_run, request):
    teardown = site_run["teardown"]
    fresh, deployed, refused, after = (teardown[key] for key in ("fresh", "deployed", "refused", "after"))
    site_seconds, teardown_seconds = site_run["playbook_seconds"], teardown["seconds"]

    tagged_deployed = [r for r in deployed if platform_state.is_platform_resource(r)]
    added_namespaces = _namespaces(deployed) - _namespaces(fresh)
    assert EXPECTED_NAMESPACES <= added_namespaces, added_namespaces
    assert {"eks/cluster", "rds/db-instance", "efs/file-system", "s3/bucket", "iam/role"} <= set(
        platform_state.summary(tagged_deployed)), platform_state.summary(tagged_deployed)

    # Without the confirmation: refused, nothing removed.
    assert teardown["refused_rc"] != 0
    assert "Refusing to tear down: pass -e teardown_confirm=sandbox" in teardown["refused_out"], teardown["refused_out"][-3000:]
    assert platform_state.difference(deployed, refused) == {"added": [], "removed": []}

    assert teardown["rc"] == 0, teardown["out"]

    tagged_left = [r for r in after if platform_state.is_platform_resource(r) and not _gone_in_aws_terms(r, after)]
    added = set(deployed) - set(fresh)
    left = [r for r in after if r in added and not _gone_in_aws_terms(r, after)]
    waiting = [r for r in after if r not in fresh and _gone_in_aws_terms(r, after)]
    namespaces_left = added_namespaces & _namespaces(after)
    releases_left = [r for r in after if r[0] == "helm"]

    aws_count = len([r for r in deployed if r[0] not in ("k8s", "helm")]) - len(
        [r for r in fresh if r[0] not in ("k8s", "helm")])
    kube_count = len([r for r in deployed if r[0] in ("k8s", "helm")]) - len(
        [r for r in fresh if r[0] in ("k8s", "helm")])
    write_figures(request, [
        "teardown: site.yml (%.0f s) added %d AWS resources (%d tagged by the platform) and %d cluster objects "
        "(namespaces %s); the unconfirmed teardown changed 0; teardown.yml (%.0f s) left %d tagged resources, "
        "%d added resources, %d platform namespaces, %d Helm releases (%d still waiting out an AWS deletion "
        "period: %s)" % (
            site_seconds, aws_count, len(tagged_deployed), kube_count, ", ".join(sorted(added_namespaces)),
            teardown_seconds, len(tagged_left), len(left), len(namespaces_left), len(releases_left), len(waiting),
            ", ".join("%s=%d" % item for item in sorted(platform_state.summary(waiting).items())) or "none"),
    ])
    assert not tagged_left, "tagged resources left: %s" % tagged_left
    assert not left, "resources site.yml added are still there: %s" % left
    assert not namespaces_left, "platform namespaces left: %s" % namespaces_left
    assert not releases_left, "Helm releases left: %s" % releases_left
