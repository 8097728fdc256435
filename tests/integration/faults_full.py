# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Faults on the whole site.yml: ``make faults`` (about 25 minutes on 2 cores, too slow for CI).

The file name does not start with ``test_`` on purpose: pytest collects it only when it is
named on the command line (``make faults`` does), so ``make test`` keeps the faster variants of
tests/integration/test_faults.py (the cluster layer killed once and converged under faults, the
fault switch, the atomic rollback) and leaves these out. Each test here runs site.yml two to
four times on a fresh account and a fresh control plane.

* ``test_site_converges_under_faults``: site.yml with botocore's retries off and faults on
  converges through the modules' AWSRetry (every faulted write retried as a new call), ends in
  the same state as a run without faults, and a run after it changes nothing; then site.yml
  with botocore's defaults and throttling on every service and protocol (``ThrottlingException``
  of the JSON APIs, S3's ``SlowDown`` included) converges through botocore's retries alone
  (``max_per_call=2``: no call is faulted on all of its 3 attempts).
* ``test_interrupted_site_converges``: site.yml interrupted three times (SIGINT as the data
  layer starts, SIGKILL after the RDS wait while the database's Kubernetes Secrets are written,
  SIGKILL of the whole process tree while helm installs Airflow), then run to the end: one of
  everything, and the same state as an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import signal

import pytest

from figures import write_figures
# fault_stack: the fault stack of test_faults.py, a module-scoped fixture (same directory: the
# two modules never hold it at once).
from test_faults import (AWSRETRY_SPEC, REPO_ROOT, KillPoint, fault_stack,  # noqa: F401  pylint: disable=unused-import
                         assert_converged, awsretry_figure, check_awsretry_layer, duplicates, platform_state,
                         run_playbook, state_difference, unretried)

SITE = os.path.join(REPO_ROOT, "playbooks", "site.yml")

pytestmark = [pytest.mark.aws, pytest.mark.k8s]

# The interruptions of test_interrupted_site_converges, in the order a deploy reaches them.
KILL_POINTS = [
    KillPoint("after the cluster layer (SIGINT as the data layer play starts)",
              pattern=r"^PLAY \[Data layer", sig=signal.SIGINT),
    KillPoint("mid data layer (SIGKILL after the RDS wait, while the database's Kubernetes Secrets are written)",
              pattern=r"^TASK \[.*rds_metadata : (Write the Secrets|Create the databases and users of)", delay=1.0,
              after=r"^PLAY \[Data layer"),
    KillPoint("during the Helm install of Airflow (SIGKILL while helm upgrade --install runs)", helm=True, delay=1.5),
]


def _fresh(stack):
    stack.faults("off")
    stack.reset_aws()
    stack.fresh_cluster()


@pytest.fixture(scope="module")
def reference(fault_stack):
    """The end state of one uninterrupted, fault-free site.yml."""
    _fresh(fault_stack)
    run = run_playbook(fault_stack, SITE)
    assert_converged(run)
    return {"state": platform_state(fault_stack), "seconds": run.seconds}


def _assert_same_state(reference_state, stack, what):
    diff = state_difference(reference_state, platform_state(stack))
    assert not diff["missing"] and not diff["extra"], "%s differs from an uninterrupted run:\n%s" % (
        what, json.dumps(diff, indent=1))


def test_site_converges_under_faults(fault_stack, reference, request):
    stack = fault_stack

    # 1. botocore's retries off: every fault reaches a module, AWSRetry must retry it.
    _fresh(stack)
    stack.faults(AWSRETRY_SPEC % 21)
    faulted = run_playbook(stack, SITE, extra_env={"AWS_MAX_ATTEMPTS": "1"})
    report = stack.faults()
    stack.faults("off")
    assert_converged(faulted)
    check_awsretry_layer(report, faulted)
    _assert_same_state(reference["state"], stack, "site.yml under faults")
    again = run_playbook(stack, SITE)
    assert_converged(again)
    assert again.recap["changed"] == 0, "the run after the faulted one changed something:\n" + again.output[-8000:]

    # 2. botocore's defaults and throttling of every kind: botocore's retries absorb it all.
    _fresh(stack)
    stack.faults("throttle=0.15,error5xx=0.05,max_per_call=2,seed=22")
    throttled = run_playbook(stack, SITE)
    sdk = stack.faults()
    stack.faults("off")
    assert_converged(throttled)
    assert sdk["injected"] > 0 and sdk["retried_by_sdk"] == sdk["injected"], json.dumps(dict(sdk, log=None))
    _assert_same_state(reference["state"], stack, "site.yml under throttling")

    codes = ", ".join("%s %d" % kv for kv in sorted(sdk["by_code"].items()))
    lines = ["faults site.yml: reference run %.0fs; with botocore's retries off it converged in %.0fs %s; the next "
             "run without faults changed=%d in %.0fs" % (reference["seconds"], faulted.seconds, awsretry_figure(report),
                                                         again.recap["changed"], again.seconds)]
    lines += ["  fault not retried (a read): %s" % line for line in unretried(report, faulted)]
    lines += ["faults site.yml: with botocore's defaults it converged in %.0fs through %d injected faults (%s) in %d "
              "requests, all %d retried by botocore" % (throttled.seconds, sdk["injected"], codes, sdk["requests"],
                                                        sdk["retried_by_sdk"])]
    write_figures(request, lines)


def test_interrupted_site_converges(fault_stack, reference, request):
    stack = fault_stack
    _fresh(stack)
    figures = []
    for point in KILL_POINTS:
        run = run_playbook(stack, SITE, kill=point)
        assert run.killed, "kill point %r never reached (rc %s):\n%s" % (point.name, run.rc, run.output[-6000:])
        figures.append("  %s: %s" % (point.name, run.killed))
    final = run_playbook(stack, SITE)
    if final.rc != 0 and "another operation (install/upgrade/rollback) is in progress" in final.output:
        releases = stack.tool("helm", "list", "--all-namespaces", "--all")
        pytest.fail("the killed helm left its release pending and the rerun cannot upgrade it: kubernetes.core.helm "
                    "lists only deployed and failed releases, so the role must recover a pending-install "
                    "(uninstall) or pending-upgrade/-rollback (rollback) release before its helm task\n%s\n%s\n%s"
                    % ("\n".join(figures), releases, final.output[-3000:]))
    assert final.rc == 0, "after the interruptions:\n%s\n%s" % ("\n".join(figures), final.output[-6000:])
    assert_converged(final)
    problems = duplicates(stack)
    assert not problems, "after the interrupted runs:\n" + "\n".join(problems)
    _assert_same_state(reference["state"], stack, "site.yml after three interruptions")
    write_figures(request, ["faults site.yml: interrupted %d times, the last run converged in %.0fs with changed=%d; "
                            "end state equal to the uninterrupted run (%d resources), no duplicates"
                            % (len(KILL_POINTS), final.seconds, final.recap["changed"], len(reference["state"]))]
                  + figures)
