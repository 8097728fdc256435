"""The sandbox command behind `make sandbox-up/-down/-status`: the emulated AWS part alone, then
the whole sandbox (emulated AWS, the control plane, the offline chart mirror) through make."""

import os
import re
import subprocess
import urllib.request

import pytest
import yaml

import sandbox as sandbox_tool

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.aws


def sandbox(state_dir, *args):
    return subprocess.run(sandbox_tool.command(*args, "--only", "aws", "--dir", str(state_dir)),
                          env=sandbox_tool.command_env(), check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=120)


def moto_processes(state_dir):
    """moto_server processes whose PID the state dir recorded, found by scanning /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as handle:
                    cmdline = handle.read().decode(errors="replace")
            except OSError:
                continue
            if "moto_server" in cmdline:
                found.append(int(entry))
    return found


def test_up_twice_reuses_the_server_and_down_stops_it(tmp_path):
    before = set(moto_processes(tmp_path))
    first = sandbox(tmp_path, "up")
    assert first.returncode == 0, first.stdout
    pid = int((tmp_path / "moto.pid").read_text())
    port = int((tmp_path / "moto.port").read_text())
    env = (tmp_path / "env").read_text()
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:%d" % port in env
    assert "export AWS_REGION=" in env and "export AWS_ACCESS_KEY_ID=" in env

    second = sandbox(tmp_path, "up")
    assert second.returncode == 0
    assert "already running" in second.stdout
    assert int((tmp_path / "moto.pid").read_text()) == pid
    assert set(moto_processes(tmp_path)) - before == {pid}

    assert sandbox(tmp_path, "status").returncode == 0
    down = sandbox(tmp_path, "down")
    assert down.returncode == 0 and "stopped (pid %d)" % pid in down.stdout
    assert pid not in moto_processes(tmp_path)
    assert not (tmp_path / "env").exists()
    assert sandbox(tmp_path, "status").returncode == 1


def test_down_with_nothing_running_is_a_no_op(tmp_path):
    result = sandbox(tmp_path, "down")
    assert result.returncode == 0
    assert "not running" in result.stdout


def test_down_never_signals_a_process_it_did_not_start(tmp_path):
    # A stale PID file pointing at some other program (PID reuse) must not be killed.
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        (tmp_path / "moto.pid").write_text("%d\n" % bystander.pid)
        (tmp_path / "moto.port").write_text("1\n")
        assert sandbox(tmp_path, "status").returncode == 1
        assert sandbox(tmp_path, "down").returncode == 0
        assert bystander.poll() is None, "down killed a process it did not start"
    finally:
        bystander.kill()
        bystander.wait()


def test_make_sandbox_status_fails_when_nothing_answers(tmp_path):
    result = subprocess.run(["make", "-s", "sandbox-status", "SANDBOX_DIR=%s" % tmp_path], cwd=REPO_ROOT,
                            check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert result.returncode != 0
    assert "aws: down" in result.stdout and "kube: down" in result.stdout


def make(target, state_dir):
    return subprocess.run(["make", "-s", target, "SANDBOX_DIR=%s" % state_dir], cwd=REPO_ROOT, check=False,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)


@pytest.mark.k8s
def test_make_targets_start_once_and_stop_exactly_what_they_started(tmp_path):
    first = make("sandbox-up", tmp_path)
    try:
        assert first.returncode == 0, first.stdout
        env = (tmp_path / "env").read_text()
        assert "export AWS_ENDPOINT_URL=" in env and "export KUBECONFIG=%s" % (tmp_path / "kubeconfig") in env
        # The offline chart mirror beside the checkout, served as a chart repository on loopback.
        url = re.search(r"^export MLOPS_CHART_REPO_URL=(http://127\.0\.0\.1:\d+)$", env, re.M)
        assert url, env
        with urllib.request.urlopen(url.group(1) + "/index.yaml", timeout=10) as response:
            index = yaml.safe_load(response.read())
        assert "1.19.0" in [entry["version"] for entry in index["entries"]["airflow"]]
        state = (tmp_path / "cluster" / "state.json").read_text()
        second = make("sandbox-up", tmp_path)
        assert second.returncode == 0, second.stdout
        assert "moto server already running" in second.stdout and "control plane already running" in second.stdout
        assert "chart mirror already served on %s" % url.group(1) in second.stdout
        assert (tmp_path / "cluster" / "state.json").read_text() == state
        assert make("sandbox-status", tmp_path).returncode == 0
    finally:
        down = make("sandbox-down", tmp_path)
    assert down.returncode == 0, down.stdout
    assert "control plane stopped (kwok, kube-scheduler, kube-controller-manager, kube-apiserver, etcd)" in down.stdout
    assert "chart mirror stopped" in down.stdout
    assert make("sandbox-status", tmp_path).returncode != 0
    again = make("sandbox-down", tmp_path)
    assert again.returncode == 0 and "was not running" in again.stdout
