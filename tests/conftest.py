"""Shared pytest fixtures: the emulated AWS account and the local Kubernetes control plane.

Both come from tests/tools/sandbox/, the same code behind `make sandbox-up`, but in a
state directory of their own (build/test-sandbox/) so a test run never touches the
sandbox a user has running for the demo.
"""

import os
import shutil
import subprocess
import sys
import types

import pytest

# From tests/tools, on sys.path through pytest.ini's pythonpath.
import sandbox as sandbox_tool
from checkout_env import checkout_env

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.dirname(sys.executable)
# Overridable so that two test runs on one machine do not share (and stop) one sandbox.
TEST_SANDBOX_DIR = os.environ.get("MLOPS_TEST_SANDBOX_DIR") or os.path.join(REPO_ROOT, "build", "test-sandbox")


@pytest.fixture(scope="session")
def ansible_env():
    """Environment for ansible-playbook/ansible-doc subprocesses: the venv, the collection link,
    and never a developer's real AWS or cluster identity."""
    return checkout_env()


@pytest.fixture(scope="session")
def repo_root():
    return REPO_ROOT


def run(argv, env, cwd=REPO_ROOT, check=True, timeout=900, input=None):
    """Run a command, returning CompletedProcess with text stdout+stderr combined."""
    proc = subprocess.run(argv, env=env, cwd=cwd, input=input, text=True, timeout=timeout,
                          check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if check and proc.returncode != 0:
        raise AssertionError("%s exited %d:\n%s" % (" ".join(argv), proc.returncode, proc.stdout[-6000:]))
    return proc


@pytest.fixture(scope="session")
def run_cmd():
    return run


@pytest.fixture(scope="session")
def _test_sandbox():
    os.makedirs(TEST_SANDBOX_DIR, exist_ok=True)
    box = sandbox_tool.Sandbox(TEST_SANDBOX_DIR)
    yield box
    box.down()


@pytest.fixture(scope="session")
def aws_sandbox(_test_sandbox):
    """A moto server on 127.0.0.1 for the whole session (started once, stopped at the end)."""
    try:
        _test_sandbox.moto.up()
    except sandbox_tool.SandboxError as exc:
        pytest.fail("emulated AWS did not start: %s" % exc)
    _test_sandbox.write_env()
    return _test_sandbox.moto


@pytest.fixture
def aws(aws_sandbox, ansible_env):
    """A fresh emulated AWS account for one test: state is wiped (/moto-api/reset) first.

    Yields an object with ``endpoint``, ``region``, ``env`` (for subprocesses) and
    ``client(service)`` (a boto3 client against the emulator).
    """
    import boto3

    aws_sandbox.reset()
    env = dict(ansible_env)
    env.update(aws_sandbox.env())

    def client(service):
        return boto3.client(service, endpoint_url=aws_sandbox.endpoint, region_name=sandbox_tool.AWS_REGION,
                            aws_access_key_id=sandbox_tool.AWS_ACCESS_KEY_ID,
                            aws_secret_access_key=sandbox_tool.AWS_SECRET_ACCESS_KEY)

    return types.SimpleNamespace(endpoint=aws_sandbox.endpoint, region=sandbox_tool.AWS_REGION, env=env, client=client)


@pytest.fixture(scope="session")
def kube_cluster(_test_sandbox, ansible_env):
    """The real local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok).

    Attributes: ``kubeconfig`` (path), ``env`` (subprocess environment with KUBECONFIG and the
    collection path), ``kubectl(*args)`` and ``helm(*args)`` runners, ``api()`` (a kubernetes
    python ApiClient).
    """
    cluster = _test_sandbox.cluster
    try:
        cluster.up()
        _test_sandbox.charts.up()
    except sandbox_tool.SandboxError as exc:
        pytest.fail("local Kubernetes control plane did not start: %s" % exc)
    _test_sandbox.write_env()
    env = dict(ansible_env)
    env.update(cluster.env())
    if _test_sandbox.charts.answers():
        env.update(_test_sandbox.charts.env())

    def kubectl(*args, check=True, input=None):
        return run([os.path.join(VENV_BIN, "kubectl")] + list(args), env, check=check, input=input)

    def helm(*args, check=True):
        return run([os.path.join(VENV_BIN, "helm")] + list(args), env, check=check)

    def api():
        from kubernetes import config
        return config.new_client_from_config(config_file=cluster.kubeconfig_path)

    return types.SimpleNamespace(kubeconfig=cluster.kubeconfig_path, env=env, kubectl=kubectl, helm=helm, api=api,
                                 server=cluster.state()["server"], chart_repo_url=env.get("MLOPS_CHART_REPO_URL", ""))


@pytest.fixture(scope="session")
def local_stack(aws_sandbox, kube_cluster):
    """Emulated AWS and the control plane together: what molecule scenarios and site.yml need."""
    env = dict(kube_cluster.env)
    env.update(aws_sandbox.env())
    return types.SimpleNamespace(env=env, aws=aws_sandbox, kube=kube_cluster)


def pytest_collection_modifyitems(config, items):
    # Tests that need a tool fail loudly when it is missing instead of skipping silently.
    missing = [tool for tool in ("ssh-keygen",) if shutil.which(tool) is None]
    if missing:
        raise pytest.UsageError("missing tools for the test suite: %s (run `make setup`)" % ", ".join(missing))
