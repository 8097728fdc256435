# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every target `make help` lists, run through make in a short form, so that a broken target
fails `make test` instead of waiting for someone to type it.

Targets that other tests already run through make, or that `make test` itself runs, are named
in RUN_ELSEWHERE with the file that runs them; test_every_listed_target_is_run fails when a
target is added to the Makefile without a place here or there.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import pytest

import sandbox as sandbox_tool

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(REPO_ROOT, "tests", "tools")

# target -> (file that runs it, what in that file shows it runs it)
RUN_ELSEWHERE = {
    "test": ("tests/tools/run-tests.sh", "tiers=(lint sanity pytest)"),
    "lint": ("tests/tools/run-tests.sh", "lint) run_tier lint lint"),
    "sanity": ("tests/tools/run-tests.sh", "sanity) run_tier sanity bash tests/tools/sanity.sh"),
    "setup": ("tests/integration/test_setup.py", "test_setup_is_idempotent_and_fast_when_done"),
    "sandbox-up": ("tests/integration/test_sandbox_cli.py", 'make("sandbox-up"'),
    "sandbox-down": ("tests/integration/test_sandbox_cli.py", 'make("sandbox-down"'),
    "sandbox-status": ("tests/integration/test_sandbox_cli.py", 'make("sandbox-status"'),
}
# Run by no test (none today: the demo runs here with a short playbook, and test_site_rerun.py
# runs site.yml's first run and rerun on the test sandbox).
NOT_RUN = {}
# Run here (the tests below).
RUN_HERE = {"help", "unit", "integration", "molecule", "collection", "clean", "cluster-up", "cluster-down",
            "demo", "demo-down", "images", "bench-images", "bench", "faults"}


def make(*args, env=None, timeout=600):
    """`make -s ARGS` in the checkout, output and errors together. On a timeout the whole process
    group gets SIGTERM first, so that a target's own cleanup (stopping its servers) still runs.
    stdin is /dev/null: ansible-playbook refuses to start on a non-blocking stdin it would inherit."""
    proc = subprocess.Popen(["make", "-s"] + list(args), cwd=REPO_ROOT, env=dict(os.environ, **(env or {})),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        output = proc.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            output = proc.communicate(timeout=120)[0]
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output = proc.communicate()[0]
        pytest.fail("make %s did not finish in %d s:\n%s" % (" ".join(args), timeout, output[-6000:]))
    return subprocess.CompletedProcess(proc.args, proc.returncode, output)


def alive(pid):
    """True while the process exists and is not a zombie (a container's init may not reap)."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def help_targets():
    result = make("help")
    assert result.returncode == 0, result.stdout
    return re.findall(r"^  make (\S+) +\S", result.stdout, re.M)


def test_help_lists_the_targets_with_their_purpose():
    with open(os.path.join(REPO_ROOT, "Makefile")) as handle:
        documented = re.findall(r"^([a-z-]+):.*## ", handle.read(), re.M)
    assert help_targets() == documented and "images" in documented


def test_every_listed_target_is_run():
    listed = set(help_targets())
    assert listed == RUN_HERE | set(RUN_ELSEWHERE) | set(NOT_RUN), (
        "every target `make help` lists needs a short form in make test (here) or a test that runs it "
        "(RUN_ELSEWHERE): %s" % sorted(listed ^ (RUN_HERE | set(RUN_ELSEWHERE) | set(NOT_RUN))))
    for target, (path, evidence) in RUN_ELSEWHERE.items():
        with open(os.path.join(REPO_ROOT, path)) as handle:
            assert evidence in handle.read(), "%s no longer runs `make %s`" % (path, target)


@pytest.mark.parametrize("tier", ["unit", "integration", "molecule"])
def test_tier_targets_select_their_tests(tier):
    """`make unit/integration/molecule`, collecting only: each runs pytest on its own selection."""
    result = make(tier, env={"PYTEST_ADDOPTS": "--collect-only -q"}, timeout=300)
    assert result.returncode == 0, result.stdout[-6000:]
    assert "=== %s ===" % tier in result.stdout
    collected = [line for line in result.stdout.splitlines() if "::" in line]
    assert collected, result.stdout[-3000:]
    if tier == "unit":
        assert all(line.startswith("tests/unit/") for line in collected)
    elif tier == "integration":
        assert all(line.startswith("tests/integration/") for line in collected)
        assert not [line for line in collected if "::test_molecule_scenario" in line]
    else:
        assert all("tests/integration/test_molecule.py::test_molecule_scenario[" in line for line in collected)


def test_faults_target_collects_both_files():
    """`make faults` in its short form: pytest collects test_faults.py and faults_full.py (its
    tests take about 25 minutes; test_faults.py itself runs in make test)."""
    result = make("faults", "FAULTS_ARGS=--collect-only -q", timeout=300)
    assert result.returncode == 0, result.stdout[-6000:]
    for test in ("faults_full.py::test_site_converges_under_faults", "faults_full.py::test_interrupted_site_converges",
                 "test_faults.py::"):
        assert "tests/integration/" + test in result.stdout, result.stdout[-3000:]


def test_collection_then_clean(tmp_path):
    dist = os.path.join(REPO_ROOT, "build", "dist")
    result = make("collection", timeout=300)
    assert result.returncode == 0, result.stdout
    tarballs = [name for name in os.listdir(dist) if re.match(r"mlops-eks_platform-.*\.tar\.gz$", name)]
    assert tarballs and "Created collection for mlops.eks_platform" in result.stdout
    # A sandbox directory of its own: clean stops the sandbox, and this one has nothing running.
    result = make("clean", "SANDBOX_DIR=%s" % tmp_path, timeout=300)
    assert result.returncode == 0, result.stdout
    assert not os.path.exists(dist)


@pytest.mark.k8s
def test_cluster_up_down_and_demo_down(tmp_path):
    state = "SANDBOX_DIR=%s" % tmp_path
    try:
        up = make("cluster-up", state, timeout=300)
        assert up.returncode == 0, up.stdout
        assert "control plane up at" in up.stdout and (tmp_path / "kubeconfig").exists()
        status = make("sandbox-status", state, timeout=120)
        assert "kube: up" in status.stdout and "aws: down" in status.stdout, status.stdout
        down = make("cluster-down", state, timeout=300)
        assert down.returncode == 0 and "control plane stopped (" in down.stdout, down.stdout
        assert "kube: down" in make("sandbox-status", state, timeout=120).stdout
        # demo-down stops what the demo starts, the whole sandbox; here only the control plane runs.
        assert make("cluster-up", state, timeout=300).returncode == 0
        demo_down = make("demo-down", state, timeout=300)
        assert demo_down.returncode == 0, demo_down.stdout
        assert "control plane stopped (" in demo_down.stdout and "moto server was not running" in demo_down.stdout
    finally:
        make("sandbox-down", state, timeout=300)


@pytest.mark.k8s
def test_demo_runs_its_playbook_twice_and_checks_the_rerun(tmp_path):
    """`make demo` in its short form: demo.sh starts the whole sandbox, runs the preflight playbook
    twice instead of site.yml (DEMO_PLAYBOOK), reads both recaps and prints its summary;
    demo-down stops the sandbox it started."""
    state = "SANDBOX_DIR=%s" % tmp_path
    try:
        demo = make("demo", state, env={"DEMO_PLAYBOOK": "playbooks/preflight.yml"}, timeout=600)
        assert demo.returncode == 0, demo.stdout[-6000:]
        assert "=== playbooks/preflight.yml on inventories/sandbox (second run) ===" in demo.stdout
        assert re.search(r"^second run: \d+s, ok=\d+ +changed=0 ", demo.stdout, re.M), demo.stdout[-3000:]
        assert "The second run changed nothing" in demo.stdout
        down = make("demo-down", state, timeout=300)
        assert down.returncode == 0, down.stdout
        assert "control plane stopped (" in down.stdout and "moto server stopped" in down.stdout, down.stdout
    finally:
        make("sandbox-down", state, timeout=300)


def lab_pids(output):
    match = re.search(r"started moto \(pid (\d+)\) and docker-registry \(pid (\d+)\)", output)
    assert match, output[-3000:]
    return [int(pid) for pid in match.groups()]


def test_bench_images_short(tmp_path):
    results = tmp_path / "images.json"
    lab = tmp_path / "lab"
    result = make("bench-images", "BENCH_IMAGES_ARGS=--size-mb 4 --repeat 1 --dir %s --results %s" % (lab, results),
                  timeout=600)
    assert result.returncode == 0, result.stdout[-6000:]
    figures = json.loads(results.read_text())
    assert figures["first_seconds"] > 0 and figures["unchanged_seconds"] > 0 and figures["digest"].startswith("sha256:")
    assert "the registry saw exactly one HEAD" in result.stdout
    assert not lab.exists() and not [pid for pid in lab_pids(result.stdout) if alive(pid)]


@pytest.mark.timeout(3600)
def test_images_builds_proves_and_cleans_up(tmp_path):
    """`make images` with the build storage kept in the tool cache (warm: its layers are reused):
    both images built, pushed, rebuilt with changed=0, served and run; then nothing it started
    is left running and the lab is gone."""
    lab = tmp_path / "lab"
    result = make("images", "IMAGES_ARGS=--keep-storage --dir %s" % lab, timeout=3000)
    assert result.returncode == 0, result.stdout[-8000:]
    for evidence in ("second run: changed=0", "mlflow server: /health OK", "is version 1", "all checks passed"):
        assert evidence in result.stdout, (evidence, result.stdout[-6000:])
    assert not lab.exists() and not [pid for pid in lab_pids(result.stdout) if alive(pid)]
    kept = re.search(r"kept the image storage (\S+)", result.stdout)
    assert kept and not os.path.realpath(kept.group(1)).startswith(os.path.realpath(REPO_ROOT) + os.sep)


def test_images_cleans_up_after_a_failed_step(tmp_path):
    """A step fails after the lab started (the Debian base cannot be fetched: no cached base, an
    unreachable mirror): the script fails, and still stops the emulator and the registry and
    removes the lab with its storage."""
    lab = tmp_path / "lab"
    env = dict(os.environ, MLOPS_TOOLS_CACHE=str(tmp_path / "cache"), DEBIAN_MIRROR="http://127.0.0.1:9/debian",
               PYTHONPATH=os.pathsep.join([TOOLS, os.path.join(REPO_ROOT, "build", "collections")]))
    result = subprocess.run([sys.executable, os.path.join(TOOLS, "build_images.py"), "--dir", str(lab)], env=env,
                            cwd=REPO_ROOT, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            timeout=600)
    assert result.returncode != 0 and "debootstrap failed" in result.stdout, result.stdout[-4000:]
    assert "all checks passed" not in result.stdout
    assert not lab.exists() and not [pid for pid in lab_pids(result.stdout) if alive(pid)]


BENCH_PLAYBOOK = r"""
- name: Two resources the emulator keeps creating for a while
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: An EFS file system (the module waits until it is available)
      mlops.eks_platform.efs_file_system:
        name: bench-short
        wait_timeout: 60

    - name: A VPC for the database
      amazon.aws.ec2_vpc_net:
        name: bench-short
        cidr_block: 10.70.0.0/16
      register: vpc

    - name: Two subnets in two zones, as RDS asks
      amazon.aws.ec2_vpc_subnet:
        vpc_id: "{{ vpc.vpc.id }}"
        cidr: "10.70.{{ index + 1 }}.0/24"
        az: "eu-west-1{{ zone }}"
      loop: [a, b]
      loop_control:
        loop_var: zone
        index_var: index
      register: subnets

    - name: The DB subnet group
      amazon.aws.rds_subnet_group:
        name: bench-short
        description: make bench short form
        subnets: "{{ subnets.results | map(attribute='subnet.id') | list }}"
        state: present

    - name: An RDS instance, waited for below
      amazon.aws.rds_instance:
        db_instance_identifier: bench-short
        engine: postgres
        db_instance_class: db.t4g.medium
        allocated_storage: 20
        db_subnet_group_name: bench-short
        master_username: admin_user
        master_user_password: "{{ 'x' * 16 }}"
        wait: false

    - name: Wait for the instance
      amazon.aws.rds_instance_info:
        db_instance_identifier: bench-short
      register: db_info
      until: db_info.instances[0].db_instance_status == 'available'
      retries: 60
      delay: 1
"""


@pytest.mark.k8s
def test_bench_short(tmp_path):
    """`make bench` on a two-task playbook: fresh sandbox with delays, first run, rerun, figures."""
    playbook = tmp_path / "bench-short.yml"
    playbook.write_text(BENCH_PLAYBOOK)
    results = tmp_path / "latest.json"
    state = tmp_path / "sandbox"
    args = "--skip-baseline --delays efs_file_system=2,rds_instance=4 --playbook %s --inventory localhost, " \
           "--dir %s --results %s" % (playbook, state, results)
    sandbox_cli = sandbox_tool.command("--dir", str(state))
    try:
        result = make("bench", "BENCH_ARGS=" + args, timeout=900)
        # The benchmark stops its sandbox itself (the `down` below is for a failed run).
        status = subprocess.run(sandbox_cli + ["status"], env=sandbox_tool.command_env(), check=False,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    finally:
        subprocess.run(sandbox_cli + ["down"], env=sandbox_tool.command_env(), check=False, capture_output=True,
                       timeout=300)
    assert result.returncode == 0, result.stdout[-6000:]
    assert "=== deploy benchmark" in result.stdout
    figures = json.loads(results.read_text())
    assert figures["resources_created"] == {"efs_file_system": 1, "rds_instance": 1}
    assert (figures["delay_chain"], figures["delay_chain_s"], figures["serial_sum_s"]) == ("rds_instance", 4.0, 6.0)
    assert figures["wall_s"] >= 4.0 and figures["rerun_changed"] == 0 and figures["rerun_api_requests"] > 0
    assert "aws: down" in status.stdout and "kube: down" in status.stdout, status.stdout
