# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A second run of site.yml changes nothing: the platform's headline promise, on the whole playbook.

The shared site.yml run of the test session (the fixture site_run, tests/integration/conftest.py
and site_capture.py) deploys the whole platform on a fresh sandbox, then runs site.yml again at
once with the same inputs (what a second `make demo` run does). Checked here:

* the rerun reports changed=0, nothing failed, and it ran the platform's tasks (not a run that
  stopped early);
* the rerun's AWS requests are all reads (Describe, Get, List, Head): the emulator's request log
  shows that nothing was written to the account, whatever the modules report.

The molecule scenarios check the same per role (their idempotence step); this is the check on the
composition, with the stage entry points and the facts passed between the roles. How long the
rerun takes is measured by `make bench` (bench/deploy.py), not here.
"""

from __future__ import annotations

import collections
import re

import pytest

from figures import write_figures

pytestmark = [pytest.mark.aws, pytest.mark.k8s]

READ_ACTION = re.compile(r"^(Describe|Get|List|Head)[A-Z]")
# A rerun of the whole platform reports some 300 tasks ok; far fewer means it stopped early.
MIN_OK_TASKS = 200


def counter(recap, name):
    match = re.search(r"\b%s=(\d+)" % name, recap)
    assert match, "no %s= in the recap %r" % (name, recap)
    return int(match.group(1))


def test_rerun_changes_nothing(site_run, request):
    rerun = site_run["rerun"]
    assert rerun["returncode"] == 0, "the rerun exited %d:\n%s" % (rerun["returncode"], rerun["output_tail"])
    assert counter(rerun["recap"], "changed") == 0, rerun["recap"]
    assert counter(rerun["recap"], "failed") == 0, rerun["recap"]
    assert counter(rerun["recap"], "ok") >= MIN_OK_TASKS, rerun["recap"]
    write_figures(request, [
        "site.yml -vvv: first run %.0f s (with OVERLAP_DELAYS), rerun %.0f s with %d AWS requests; rerun %s"
        % (site_run["playbook_seconds"], rerun["seconds"], len(rerun["requests"]),
           rerun["recap"].split(":", 1)[1].strip()),
    ])


def test_rerun_only_reads_aws(site_run):
    requests = site_run["rerun"]["requests"]
    assert requests, "the emulator logged no request during the rerun"
    writes = collections.Counter("%s:%s" % (entry.get("service"), entry.get("action")) for entry in requests
                                 if not READ_ACTION.match(entry.get("action") or ""))
    assert not writes, "the rerun wrote to the account: %s" % dict(writes)
