"""The mlflow_helm role's refusals and its check mode on an empty account.

molecule/mlflow_helm proves converge, idempotence, check mode on a converged stack, verify and
cleanup. These tests cover what a scenario does not: every bad input is refused with a message
naming the variable before any API call, a missing database Secret stops the role before it
creates anything, and ``--check`` on an account where nothing exists yet (and with no image
given, so the role plans a content-addressed build of images/mlflow with ecr_image against a
local registry standing in for ECR) reports the changes and creates nothing.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")

GOOD = {
    "mlflow_helm_cluster_name": "role-test",
    "mlflow_helm_region": "eu-west-1",
    "mlflow_helm_oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC",
    "mlflow_helm_backend_store_secret": {"name": "mlflow-backend-store", "key": "uri"},
    "mlflow_helm_image": {"repository": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops/mlflow",
                          "tag": "ctx-0123456789abcdef01234567", "digest": ""},
}

# Each case: the variables that differ from GOOD, and what the refusal must name.
BAD_INPUTS = {
    "no OIDC provider": ({"mlflow_helm_oidc_provider_arn": ""}, "mlflow_helm_oidc_provider_arn"),
    "bad database Secret name": ({"mlflow_helm_backend_store_secret": {"name": "MLflow_DB", "key": ""}},
                                 "mlflow_helm_backend_store_secret"),
    "namespace default": ({"mlflow_helm_namespace": "default"}, "mlflow_helm_namespace"),
    "ingress without host": ({"mlflow_helm_ingress": {"enabled": True}}, "mlflow_helm_ingress.host"),
    "image without tag": ({"mlflow_helm_image": {"repository": "registry.example.com/mlflow", "tag": "", "digest": ""}},
                          "mlflow_helm_image"),
    "bad digest": ({"mlflow_helm_image": {"repository": "r.example.com/mlflow", "tag": "", "digest": "sha256:12"}},
                   "mlflow_helm_image"),
    "no image and no build": ({"mlflow_helm_image": {"repository": "", "tag": "", "digest": ""},
                               "mlflow_helm_build_image": False}, "mlflow_helm_build_image"),
    "zero replicas": ({"mlflow_helm_replicas": 0}, "mlflow_helm_replicas"),
    "bad bucket name": ({"mlflow_helm_bucket_name": "Not_A_Bucket"}, "mlflow_helm_bucket_name"),
    "bad KMS key": ({"mlflow_helm_kms_key_arn": "alias/mine"}, "mlflow_helm_kms_key_arn"),
    "no region": ({"mlflow_helm_region": ""}, "mlflow_helm_region"),
}


def _playbook(tmp_path, body):
    path = tmp_path / "playbook.yml"
    path.write_text(textwrap.dedent(body))
    return str(path)


def test_bad_inputs_are_refused_before_any_api_call(tmp_path, ansible_env, run_cmd):
    """One playbook, one block per case; AWS and Kubernetes point at a closed port, so a
    case that got past validation would fail with a connection error instead."""
    tasks = []
    for name in sorted(BAD_INPUTS):
        override = BAD_INPUTS[name][0]
        tasks.append({
            "name": "case " + name,
            "block": [
                {"name": "Run the role", "ansible.builtin.include_role": {"name": "mlops.eks_platform.mlflow_helm"},
                 "vars": dict(GOOD, **override)},
                {"name": "Record that the role did not refuse",
                 "ansible.builtin.set_fact": {"refusals": "{{ refusals | combine({%r: 'NOT REFUSED'}) }}" % name}},
            ],
            "rescue": [
                {"name": "Record the refusal",
                 "ansible.builtin.set_fact": {"refusals": "{{ refusals | combine({%r: ansible_failed_task.name ~ ': ' "
                                                          "~ ansible_failed_result.msg}) }}" % name}},
            ],
        })
    tasks.append({"name": "Write the refusals", "ansible.builtin.copy": {
        "content": "{{ refusals | to_json }}", "dest": str(tmp_path / "refusals.json"), "mode": "0600"}})
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "connection": "local", "gather_facts": False,
                                         "vars": {"refusals": {}}, "tasks": tasks}], sort_keys=False))
    env = dict(ansible_env, AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x",
               AWS_REGION="", AWS_DEFAULT_REGION="", KUBECONFIG=str(tmp_path / "no-kubeconfig"))
    run_cmd([ANSIBLE_PLAYBOOK, "-i", "localhost,", "-e", "ansible_python_interpreter=" + sys.executable,
             str(playbook)], env)
    refusals = json.loads((tmp_path / "refusals.json").read_text())
    assert sorted(refusals) == sorted(BAD_INPUTS)
    for name, (dummy, variable) in BAD_INPUTS.items():
        message = refusals[name]
        assert message.startswith("Check "), "%s: refused outside validation: %s" % (name, message)
        assert variable in message, "%s: %s" % (name, message)


def _role_playbook(tmp_path, extra, check=False):
    playbook = _playbook(tmp_path, """\
        - hosts: localhost
          connection: local
          gather_facts: false
          roles:
            - role: mlops.eks_platform.mlflow_helm
        """)
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(json.dumps(dict(GOOD, **extra)))
    argv = [ANSIBLE_PLAYBOOK, "-i", "localhost,", "-e", "ansible_python_interpreter=" + sys.executable,
            "-e", "@" + str(vars_file), playbook]
    return argv + (["--check"] if check else [])


def _nothing_created(aws, cluster, namespace):
    assert aws.client("s3").list_buckets()["Buckets"] == []
    assert aws.client("iam").list_roles()["Roles"] == []
    assert aws.client("kms").list_aliases()["Aliases"] == [] or all(
        a["AliasName"].startswith("alias/aws/") for a in aws.client("kms").list_aliases()["Aliases"])
    assert cluster.helm("list", "-n", namespace, "-q").stdout.strip() == ""


@pytest.mark.aws
@pytest.mark.k8s
def test_missing_secret_stops_the_role_before_any_change(tmp_path, aws, kube_cluster, run_cmd):
    namespace = "mlflow-role-" + uuid.uuid4().hex[:8]
    env = dict(aws.env, KUBECONFIG=kube_cluster.kubeconfig)
    proc = run_cmd(_role_playbook(tmp_path, {"mlflow_helm_namespace": namespace}), env, check=False)
    assert proc.returncode != 0
    assert "mlflow-backend-store" in proc.stdout and "does not exist" in proc.stdout, proc.stdout[-3000:]
    _nothing_created(aws, kube_cluster, namespace)


@pytest.fixture
def registry(tmp_path):
    """Debian's docker-registry on 127.0.0.1 without authentication: the stand-in for ECR."""
    if shutil.which("docker-registry") is None:
        pytest.fail("docker-registry is missing: install the Debian package docker-registry (make setup)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = tmp_path / "registry.yml"
    config.write_text(yaml.safe_dump({
        "version": 0.1, "log": {"level": "warn"}, "http": {"addr": "127.0.0.1:%d" % port},
        "storage": {"filesystem": {"rootdirectory": str(tmp_path / "registry")}}}))
    with open(tmp_path / "registry.log", "wb") as log:
        proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.time() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail("docker-registry did not start:\n" + (tmp_path / "registry.log").read_text())
                time.sleep(0.2)
        yield "127.0.0.1:%d" % port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.aws
@pytest.mark.k8s
def test_check_mode_on_an_empty_account_changes_nothing(tmp_path, aws, kube_cluster, registry, run_cmd):
    """Nothing exists yet and no image is given: the role plans the build of images/mlflow
    (ecr_image, content tag), the key, the bucket, the IAM role, the namespace labels and the
    release, and publishes mlflow_helm_info with the planned image, without changing anything."""
    namespace = "mlflow-role-" + uuid.uuid4().hex[:8]
    kube_cluster.kubectl("create", "namespace", namespace)
    try:
        kube_cluster.kubectl("-n", namespace, "create", "secret", "generic", "mlflow-backend-store",
                             "--from-literal=uri=postgresql://mlflow:pw@db.example.internal:5432/mlflow")
        info_path = tmp_path / "info.json"
        playbook = tmp_path / "check.yml"
        playbook.write_text(yaml.safe_dump([{
            "hosts": "localhost", "connection": "local", "gather_facts": False,
            "roles": [{"role": "mlops.eks_platform.mlflow_helm"}],
            "post_tasks": [{"name": "Keep mlflow_helm_info", "check_mode": False, "ansible.builtin.copy": {
                "content": "{{ mlflow_helm_info | to_json }}", "dest": str(info_path), "mode": "0600"}}],
        }]))
        extra = dict(GOOD, mlflow_helm_namespace=namespace,
                     mlflow_helm_image={"repository": "", "tag": "", "digest": ""},
                     mlflow_helm_image_build={"registry": registry, "insecure_registry": True, "registry_auth": "none",
                                              "builder": "buildah", "isolation": "chroot"})
        vars_file = tmp_path / "vars.json"
        vars_file.write_text(json.dumps(extra))
        env = dict(aws.env, KUBECONFIG=kube_cluster.kubeconfig)
        proc = run_cmd([ANSIBLE_PLAYBOOK, "-i", "localhost,", "-e", "ansible_python_interpreter=" + sys.executable,
                        "-e", "@" + str(vars_file), "--check", str(playbook)], env, check=False)
        assert proc.returncode == 0, proc.stdout[-6000:]
        recap = [line for line in proc.stdout.splitlines() if line.startswith("localhost")][-1]
        assert "failed=0" in recap and "changed=0" not in recap, recap
        info = json.loads(info_path.read_text())
        assert re.match(r"^%s/role-test/mlflow:ctx-[0-9a-f]{24}$" % re.escape(registry), info["image"]), info
        assert info["bucket"] == "role-test-mlflow-artifacts-123456789012"
        assert info["role_arn"] == "arn:aws:iam::123456789012:role/role-test-mlflow"
        assert info["tracking_uri"] == "http://mlflow.%s.svc:5000" % namespace
        _nothing_created(aws, kube_cluster, namespace)
        assert aws.client("ecr").describe_repositories()["repositories"] == []
        labels = json.loads(kube_cluster.kubectl("get", "namespace", namespace, "-o", "json").stdout)["metadata"].get(
            "labels", {})
        assert "pod-security.kubernetes.io/enforce" not in labels
    finally:
        kube_cluster.kubectl("delete", "namespace", namespace, "--wait=false")
