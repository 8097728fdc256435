# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How the roles' task files are wired, checked statically.

* every entry point in meta/argument_specs.yml is the task file named after it, and nothing else
  in tasks/ is reached from outside the role except through them;
* a play reaches the task that does the work in at most three files: the play, an entry point,
  and the work file it includes (work files include no other task files), every include named
  literally so that grep follows it;
* the main entry point runs the same work files as the stage entry points (start, nodes,
  finish), in the same order of first use (but for the few MOVED on purpose), so the two ways of
  building cannot drift apart;
* every task file is used by some entry point (no forgotten file in the table of contents).
"""

from __future__ import annotations

import glob
import os

import pytest
import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLES = sorted(os.path.basename(os.path.dirname(path)) for path in glob.glob(os.path.join(REPO_ROOT, "roles", "*", "tasks")))
INCLUDES = ("ansible.builtin.include_tasks", "ansible.builtin.import_tasks", "include_tasks", "import_tasks")
ROLE_INCLUDES = ("ansible.builtin.include_role", "ansible.builtin.import_role", "include_role", "import_role")
# Files an entry point imports for its checks; they are not work of the build.
CHECKS = {"validate.yml"}
STAGES = ("start", "nodes", "finish")
# Work files whose place differs by design: eks_cluster's stages publish eks_cluster_info early for
# the roles site.yml runs in between, main once at the end; mlflow_helm's main checks the database
# Secret before its first change, while in site.yml that Secret only exists by the finish stage.
MOVED = {"eks_cluster": {"publish.yml"}, "mlflow_helm": {"backend_secret.yml"}}


def load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or []


def tasks_path(role, name):
    return os.path.join(REPO_ROOT, "roles", role, "tasks", name)


def walk(tasks):
    """Every task, blocks flattened, in file order."""
    for task in tasks:
        for key in ("block", "rescue", "always"):
            if key in task:
                yield from walk(task[key])
        yield task


def includes(role, name):
    """The task files a task file includes or imports, in order."""
    found = []
    for task in walk(load(tasks_path(role, name))):
        for key in INCLUDES:
            if key in task:
                target = task[key]
                found.append(target["file"] if isinstance(target, dict) else target)
    return found


def entry_points(role):
    specs = load(os.path.join(REPO_ROOT, "roles", role, "meta", "argument_specs.yml"))["argument_specs"]
    return sorted(specs)


@pytest.mark.parametrize("role", ROLES)
def test_every_entry_point_is_the_task_file_named_after_it(role):
    for entry in entry_points(role):
        assert os.path.isfile(tasks_path(role, entry + ".yml")), "%s: entry point %s has no tasks/%s.yml" % (role, entry, entry)


@pytest.mark.parametrize("role", ROLES)
def test_includes_are_literal_and_work_files_include_nothing(role):
    entries = {entry + ".yml" for entry in entry_points(role)}
    for path in sorted(glob.glob(tasks_path(role, "*.yml"))):
        name = os.path.basename(path)
        targets = includes(role, name)
        for target in targets:
            assert "{{" not in target, "%s/tasks/%s includes a computed file name: %s" % (role, name, target)
            assert os.path.isfile(tasks_path(role, target)), "%s/tasks/%s includes a missing file %s" % (role, name, target)
        if name not in entries:
            assert targets == [], "%s/tasks/%s is a work file but includes %s: a third hop" % (role, name, targets)


@pytest.mark.parametrize("role", ROLES)
def test_main_runs_the_work_of_the_stage_entry_points_in_the_same_order(role):
    stages = [stage for stage in STAGES if stage in entry_points(role)]
    if not stages:
        pytest.fail("%s has no stage entry points; this test expects every role to have them" % role)
    staged = []
    for stage in stages:
        staged += [target for target in includes(role, stage + ".yml") if target not in CHECKS]
    in_main = [target for target in includes(role, "main.yml") if target not in CHECKS | {"absent.yml"}]

    def first_use(names):
        return [name for index, name in enumerate(names) if name not in names[:index]]

    assert sorted(set(in_main)) == sorted(set(staged))
    moved = MOVED.get(role, set())
    assert [name for name in first_use(in_main) if name not in moved] == [name for name in first_use(staged) if name not in moved]


@pytest.mark.parametrize("role", ROLES)
def test_every_task_file_is_reached_from_an_entry_point(role):
    reached = set()
    for entry in entry_points(role):
        reached.add(entry + ".yml")
        reached.update(includes(role, entry + ".yml"))
    present = {os.path.basename(path) for path in glob.glob(tasks_path(role, "*.yml"))}
    assert sorted(present - reached) == []


def test_plays_use_only_entry_points():
    checked = 0
    for path in sorted(glob.glob(os.path.join(REPO_ROOT, "playbooks", "*.yml")) + [os.path.join(REPO_ROOT, "site.yml")]):
        for play in load(path):
            for role in play.get("roles", []) if isinstance(play, dict) else []:
                name = role if isinstance(role, str) else role.get("role", role.get("name"))
                assert name.startswith("mlops.eks_platform."), "%s: role %s" % (path, name)
                checked += 1
            for task in walk((play.get("tasks", []) + play.get("pre_tasks", []) + play.get("post_tasks", []))
                             if isinstance(play, dict) else []):
                for key in ROLE_INCLUDES:
                    if key not in task:
                        continue
                    role = task[key]["name"].split(".")[-1]
                    entry = task[key].get("tasks_from", "main")
                    assert "{{" not in entry, "%s: computed tasks_from %s" % (path, entry)
                    if role in ROLES:
                        assert entry.replace(".yml", "") in entry_points(role), "%s: %s is not an entry point of %s" % (path, entry, role)
                        checked += 1
    assert checked > 0
