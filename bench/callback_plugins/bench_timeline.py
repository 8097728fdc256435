# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Timeline of a playbook run for the deploy benchmark (bench/deploy.py); not part of the collection.

Enabled by bench/deploy.py only (ANSIBLE_CALLBACK_PLUGINS=bench/callback_plugins,
ANSIBLE_CALLBACKS_ENABLED=bench_timeline). With MLOPS_BENCH_TIMELINE=<path> it appends one JSON
line per task start and per task result on the controller, with ``time.time()`` stamps (the
clock moto's request log uses, see tests/tools/moto_patches/request_log.py), the task's role and
play, and whether it changed something. It changes nothing in the run.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: bench_timeline
type: aggregate
short_description: Task start and end times with their roles, for bench/deploy.py
description:
  - Appends one JSON line per task start and task result to the file named by E(MLOPS_BENCH_TIMELINE).
requirements:
  - enabled in ANSIBLE_CALLBACKS_ENABLED
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


def _role_of(task):
    role = getattr(task, "_role", None)
    if role is None:
        return None
    try:
        return role.get_name(include_role_fqcn=False)
    except TypeError:  # older signature
        return role.get_name()


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timeline"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._path = os.environ.get("MLOPS_BENCH_TIMELINE")
        self._play = None

    def _write(self, **entry):
        if not self._path:
            return
        entry["t"] = round(time.time(), 4)
        with open(self._path, "a") as handle:
            handle.write(json.dumps(entry, sort_keys=True) + "\n")

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name()
        self._write(event="play_start", play=self._play)

    def _task_start(self, task, handler=False):
        self._write(event="task_start", uuid=task._uuid, task=task.get_name(), role=_role_of(task),  # pylint: disable=protected-access
                    play=self._play, action=task.action, handler=handler)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_start(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._task_start(task, handler=True)

    def _task_end(self, result, status):
        task = result._task  # pylint: disable=protected-access
        outcome = result._result if isinstance(result._result, dict) else {}  # pylint: disable=protected-access
        self._write(event="task_end", uuid=task._uuid, task=task.get_name(), role=_role_of(task),  # pylint: disable=protected-access
                    status=status, changed=bool(outcome.get("changed")) and status == "ok")

    def v2_runner_on_ok(self, result):
        self._task_end(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._task_end(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result):
        self._task_end(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._task_end(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        self._write(event="stats", summary={host: stats.summarize(host) for host in sorted(stats.processed)})
