# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Static checks of the data-layer roles (rds_metadata, efs_dags) that linters do not make.

* defaults/main.yml and meta/argument_specs.yml describe the same variables, every default has a
  comment, and literal defaults agree between the two files;
* every public variable a role's tasks and templates use is one of its defaults (a typo would
  otherwise silently fall back to an undefined variable or another role's);
* the database Job's script is POSIX sh that shellcheck accepts (the Job runs it with the
  Alpine image's /bin/sh).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess

import pytest
import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLES = ["rds_metadata", "efs_dags"]
# Published facts and the state switch of the include in main.yml are not defaults.
NOT_DEFAULTS = {"rds_metadata_info", "efs_dags_info"}


def role_path(role, *parts):
    return os.path.join(REPO_ROOT, "roles", role, *parts)


def load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.mark.parametrize("role", ROLES)
def test_defaults_and_argument_specs_describe_the_same_variables(role):
    defaults = load(role_path(role, "defaults", "main.yml"))
    options = load(role_path(role, "meta", "argument_specs.yml"))["argument_specs"]["main"]["options"]
    assert sorted(defaults) == sorted(options)
    for name, spec in options.items():
        assert spec.get("description"), "%s has no description" % name
        value = defaults[name]
        if "default" in spec:
            assert not (isinstance(value, str) and "{{" in value), "%s: templated defaults are described, not given" % name
            assert spec["default"] == value, "%s: argument_specs says %r, defaults/main.yml %r" % (name, spec["default"], value)
        else:
            assert isinstance(value, str) and "{{" in value, "%s: a literal default belongs in argument_specs" % name


@pytest.mark.parametrize("role", ROLES)
def test_every_default_has_a_comment(role):
    with open(role_path(role, "defaults", "main.yml"), encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    uncommented = []
    for index, line in enumerate(lines):
        if re.match(r"^%s_[a-z0-9_]+:" % role, line):
            above = index - 1
            # A block of variables shares the comment above its first line.
            while above >= 0 and re.match(r"^%s_[a-z0-9_]+:" % role, lines[above]):
                above -= 1
            while above >= 0 and lines[above].startswith("  "):
                above -= 1
            if above < 0 or not lines[above].startswith("#"):
                uncommented.append(line.split(":")[0])
    assert uncommented == []


@pytest.mark.parametrize("role", ROLES)
def test_tasks_and_templates_only_use_defined_variables(role):
    defaults = set(load(role_path(role, "defaults", "main.yml")))
    used = set()
    for path in glob.glob(role_path(role, "tasks", "*.yml")) + glob.glob(role_path(role, "templates", "*")) \
            + glob.glob(role_path(role, "vars", "*.yml")):
        with open(path, encoding="utf-8") as handle:
            used |= set(re.findall(r"(?<![A-Za-z0-9_.])%s_[a-z0-9_]+" % role, handle.read()))
    assert sorted(used - defaults - NOT_DEFAULTS) == []


def test_the_job_script_is_posix_sh_that_shellcheck_accepts():
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing (Debian package shellcheck, installed by `make setup`)"
    script = role_path("rds_metadata", "files", "create_databases.sh")
    proc = subprocess.run([shellcheck, "--shell=sh", "--severity=style", script], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(script, encoding="utf-8") as handle:
        assert handle.readline() == "#!/bin/sh\n"
