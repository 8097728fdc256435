# -*- coding: utf-8 -*-
# Copyright: Contributors to the mlops.eks_platform collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: change_summary
type: aggregate
short_description: Lists what a run created or changed, by role, after the play recap
description:
  - At the end of a playbook run, prints which tasks reported C(changed) (in check mode, which
    would change), grouped by role, with a count per role. C(site.yml) ends with it, so a
    deploy says in one place what it did; a second run that changes nothing says so.
  - Only task names, role names and loop labels are printed, never task arguments or results,
    so nothing a task was given (passwords, keys) can appear here.
  - Enable it with C(callbacks_enabled = mlops.eks_platform.change_summary) in C(ansible.cfg)
    (the collection's own C(ansible.cfg) does).
author:
  - mlops.eks_platform maintainers (@mlops)
options:
  max_tasks:
    description: At most this many changed tasks are listed per role; the count is always complete.
    type: int
    default: 25
    env:
      - name: MLOPS_CHANGE_SUMMARY_MAX_TASKS
    ini:
      - section: callback_change_summary
        key: max_tasks
"""

from collections import OrderedDict

from ansible import context
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "mlops.eks_platform.change_summary"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self._changes = OrderedDict()
        self._check_mode = False

    def v2_playbook_on_start(self, playbook):
        self._check_mode = bool(context.CLIARGS.get("check", False))

    def v2_runner_on_ok(self, result):
        if not result._result.get("changed", False):
            return
        task = result._task
        role = task._role.get_name(include_role_fqcn=False) if task._role else "(playbook)"
        name = task.get_name().strip()
        if " : " in name:  # "<role> : <task>", the role being the key already
            name = name.split(" : ", 1)[1]
        labels = []
        if not result._result.get("_ansible_no_log") and not task.no_log:
            labels = [self._label(item) for item in result._result.get("results", [])
                      if isinstance(item, dict) and item.get("changed") and "censored" not in item]
        entry = "%s (%s)" % (name, ", ".join(labels)) if labels else name
        host = result._host.get_name()
        self._changes.setdefault(role, []).append(entry if host == "localhost" else "%s [%s]" % (entry, host))

    @staticmethod
    def _label(item):
        # Only the label a loop shows anyway (loop_control.label); an item itself may be a value
        # nobody should read here.
        label = item.get("_ansible_item_label")
        return label if isinstance(label, str) else "item"

    def v2_playbook_on_stats(self, stats):
        max_tasks = self.get_option("max_tasks")
        verb = "would change" if self._check_mode else "changed"
        total = sum(len(entries) for entries in self._changes.values())
        self._display.banner("CHANGE SUMMARY")
        if not total:
            self._display.display("Nothing %s: the platform already matched the inventory." % (
                "would change" if self._check_mode else "changed"))
            return
        self._display.display("%d task(s) %s:" % (total, verb))
        for role, entries in self._changes.items():
            self._display.display("  %s: %d" % (role, len(entries)))
            for entry in entries[:max_tasks]:
                self._display.display("    - %s" % entry)
            if len(entries) > max_tasks:
                self._display.display("    ... and %d more" % (len(entries) - max_tasks))
