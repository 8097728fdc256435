"""airflow_helm on the local stack: no secret in the output at -vvv, the other DAG modes, the
Celery executor, and switching modes by configuration.

STAND-IN CHART. The official Apache Airflow chart cannot be had offline (the test machines reach
only package registries and none carries it; the apache-airflow sdist has no chart/), so the
role's Helm call installs tests/fixtures/airflow-standin-chart, copied here with the official
values.yaml and values.schema.json from ../shared/reference/airflow-chart-1.19.0/ added. Helm
therefore validates the values against the official schema, and --atomic/--wait really run on
the local control plane. Every Kubernetes object the role creates itself (namespace, Secrets,
ServiceAccounts) and every AWS resource (IAM roles, S3 bucket, Secrets Manager secrets) is
checked against the real API server and the emulated AWS.

The molecule scenario (molecule/airflow_helm) covers git-sync + KubernetesExecutor + logging +
ingress with idempotence, check mode and state absent; this file covers GitDagBundle + Celery
(run at -vvv), then the move to EFS DAGs + KubernetesExecutor with logging and PgBouncer off.
"""

import base64
import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REFERENCE_DIR = os.path.join(os.path.dirname(REPO_ROOT), "shared", "reference", "airflow-chart-1.19.0")
STANDIN_DIR = os.path.join(REPO_ROOT, "tests", "fixtures", "airflow-standin-chart")
VENV_BIN = os.path.dirname(sys.executable)

NAMESPACE = "it-airflow"
CLUSTER = "it-eks"
ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/ITAIRFLOW00000000000000000000000"
OIDC_ARN = "arn:aws:iam::123456789012:oidc-provider/" + ISSUER
DB_PASSWORD = "it-db-Pa55word-not-for-output"
KNOWN_HOSTS = "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
COMPONENTS = {"scheduler": "scheduler", "workers": "worker", "apiServer": "api-server", "triggerer": "triggerer",
              "dagProcessor": "dag-processor"}

PLAYBOOK = """
- name: airflow_helm on the local stack
  hosts: localhost
  gather_facts: false
  roles:
    - role: mlops.eks_platform.airflow_helm
  post_tasks:
    - name: Save airflow_helm_info
      ansible.builtin.copy:
        content: "{{ airflow_helm_info | to_json }}"
        dest: "{{ it_info_file }}"
        mode: "0600"
"""


def _standin_chart(dest):
    for name in ("values.yaml", "values.schema.json"):
        if not os.path.isfile(os.path.join(REFERENCE_DIR, name)):
            pytest.fail("The official Airflow chart reference data is missing: %s not found in %s"
                        % (name, REFERENCE_DIR))
    shutil.copytree(STANDIN_DIR, dest)
    for name in ("values.yaml", "values.schema.json"):
        shutil.copy(os.path.join(REFERENCE_DIR, name), os.path.join(dest, name))
    return dest


def _secret_data(kube, name):
    proc = kube.kubectl("get", "secret", name, "-n", NAMESPACE, "-o", "json", check=False)
    if proc.returncode != 0:
        return None
    data = json.loads(proc.stdout).get("data") or {}
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def _forms(value):
    """A secret and the encodings it could show up in (raw, base64, JSON-escaped)."""
    forms = {value, base64.b64encode(value.encode()).decode(), json.dumps(value)[1:-1]}
    return {form for form in forms if len(form) >= 8}


def _run_role(local_stack, run_cmd, tmp_path, name, extra_vars, verbosity=None):
    vars_file = tmp_path / (name + "-vars.json")
    info_file = tmp_path / (name + "-info.json")
    extra = dict(extra_vars)
    extra["it_info_file"] = str(info_file)
    vars_file.write_text(json.dumps(extra))
    os.chmod(vars_file, 0o600)
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(PLAYBOOK)
    argv = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
            "-e", "@" + str(vars_file), str(playbook)]
    if verbosity:
        argv.insert(1, verbosity)
    env = dict(local_stack.env)
    env["ANSIBLE_PYTHON_INTERPRETER"] = sys.executable
    proc = run_cmd(argv, env, check=False, timeout=1200)
    assert proc.returncode == 0, "%s failed:\n%s" % (name, proc.stdout[-8000:])
    info = json.loads(info_file.read_text()) if info_file.exists() else {}
    return proc.stdout, info


@pytest.mark.aws
@pytest.mark.k8s
def test_airflow_helm_modes_executors_no_secret_in_output(local_stack, run_cmd, tmp_path):
    local_stack.aws.reset()
    kube = local_stack.kube
    import boto3

    def client(service):
        return boto3.client(service, endpoint_url=local_stack.aws.endpoint, region_name="eu-west-1",
                            aws_access_key_id="AKIAMOTOSANDBOX00000", aws_secret_access_key="moto-sandbox-secret")

    iam, s3, sm = client("iam"), client("s3"), client("secretsmanager")
    chart = _standin_chart(str(tmp_path / "airflow-chart"))
    iam.create_open_id_connect_provider(Url="https://" + ISSUER, ClientIDList=["sts.amazonaws.com"],
                                        ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"])
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "it", "-f", str(tmp_path / "key")], check=True)
    private_key = (tmp_path / "key").read_text()
    kube.kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=120s")
    kube.kubectl("create", "namespace", NAMESPACE)
    kube.kubectl("create", "secret", "generic", "airflow-metadata", "-n", NAMESPACE,
                 "--from-literal=connection=postgresql://airflow:%s@it-db.example.internal:5432/airflow" % DB_PASSWORD)

    common = {
        "airflow_helm_cluster_name": CLUSTER,
        "airflow_helm_namespace": NAMESPACE,
        "airflow_helm_chart_ref": chart,
        "airflow_helm_chart_repo_url": "",
        "airflow_helm_wait_timeout": "3m",
        "airflow_helm_metadata_secret": "airflow-metadata",
        "airflow_helm_oidc_provider_arn": OIDC_ARN,
        "airflow_helm_secrets_recovery_window_days": 0,
        "airflow_helm_git_repo": "git@github.com:example/mlops-dags.git",
        # Pasted with CRLF and no final newline: the module repairs it, nothing prints it.
        "airflow_helm_git_ssh_key": private_key.strip().replace("\n", "\r\n"),
        "airflow_helm_git_known_hosts": KNOWN_HOSTS,
        "airflow_helm_dags_pvc": "airflow-dags",
    }

    # 1. GitDagBundle + CeleryExecutor + S3 logging, at -vvv.
    first = dict(common, airflow_helm_dags_mode="gitbundle", airflow_helm_executor="CeleryExecutor",
                 airflow_helm_git_sub_path="")
    output, info = _run_role(local_stack, run_cmd, tmp_path, "gitbundle-celery", first, verbosity="-vvv")

    app = json.loads(sm.get_secret_value(SecretId="mlops/it-eks/it-airflow/airflow/app")["SecretString"])
    admin = json.loads(sm.get_secret_value(SecretId="mlops/it-eks/it-airflow/airflow/admin")["SecretString"])
    assert sorted(app) == ["api_secret_key", "fernet_key", "jwt_secret", "redis_password"]
    from cryptography.fernet import Fernet
    Fernet(app["fernet_key"].encode())  # 32 url-safe base64 bytes, or this raises
    assert len(base64.urlsafe_b64decode(app["fernet_key"])) == 32
    # Every secret value there is: Secrets Manager's strings, the database password, the deploy
    # key (whole and line by line) and the data of every Secret in the namespace (a broker URL or
    # a PgBouncer users.txt embeds a password), each raw, base64-encoded and JSON-escaped.
    sensitive = {"fernet_key": app["fernet_key"], "api_secret_key": app["api_secret_key"],
                 "jwt_secret": app["jwt_secret"], "redis_password": app["redis_password"],
                 "admin password": admin["password"], "database password": DB_PASSWORD, "deploy key": private_key}
    sensitive.update({"deploy key line %d" % number: line for number, line in enumerate(private_key.splitlines())
                      if len(line) >= 16 and "PRIVATE KEY" not in line})
    listing = json.loads(kube.kubectl("get", "secrets", "-n", NAMESPACE, "-o", "json").stdout)["items"]
    for item in listing:
        if item["type"] == "Opaque":
            for key, value in (item.get("data") or {}).items():
                if key in ("knownHosts", "username"):  # public host keys (a chart value), the admin's name
                    continue
                sensitive["Secret %s/%s" % (item["metadata"]["name"], key)] = base64.b64decode(value).decode()
    leaked = sorted({name for name, value in sensitive.items() for form in _forms(value) if form in output})
    assert "ESTABLISH LOCAL CONNECTION" in output, "not a -vvv run"
    assert not leaked, "secrets found in the -vvv output: %s" % leaked

    # What the role created itself, read back from the API server and the emulated AWS.
    assert _secret_data(kube, "airflow-fernet-key") == {"fernet-key": app["fernet_key"]}
    assert _secret_data(kube, "airflow-redis-password") == {"password": app["redis_password"]}
    assert _secret_data(kube, "airflow-broker-url") == {
        "connection": "redis://:%s@airflow-redis:6379/0" % app["redis_password"]}
    assert _secret_data(kube, "airflow-admin-credentials") == {"username": "admin", "password": admin["password"]}
    assert _secret_data(kube, "airflow-pgbouncer-config")["users.txt"] == '"airflow" "%s"\n' % DB_PASSWORD
    ssh = _secret_data(kube, "airflow-ssh-secret")
    assert ssh["gitSshKey"] == private_key and ssh["knownHosts"].strip() == KNOWN_HOSTS
    for component, suffix in COMPONENTS.items():
        sa = json.loads(kube.kubectl("get", "serviceaccount", "airflow-" + suffix, "-n", NAMESPACE, "-o", "json").stdout)
        role = iam.get_role(RoleName="it-eks-airflow-" + suffix)["Role"]
        assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == role["Arn"]
        trust = role["AssumeRolePolicyDocument"]
        trust = json.loads(trust) if isinstance(trust, str) else trust
        assert trust["Statement"][0]["Condition"]["StringEquals"][ISSUER + ":sub"] == \
            "system:serviceaccount:%s:airflow-%s" % (NAMESPACE, suffix)
        assert info["irsa_role_arns"][component] == role["Arn"]
    bucket = "it-eks-airflow-logs-123456789012-eu-west-1"
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0][
        "ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    assert info["log_bucket"] == bucket
    assert info["admin_password_secret"] == "mlops/it-eks/it-airflow/airflow/admin"
    assert info["ui_url"] == "http://airflow-api-server.it-airflow.svc.cluster.local:8080/"
    assert info["executor"] == "CeleryExecutor" and info["dags_mode"] == "gitbundle"
    # The stand-in rendered a Celery worker and the GitDagBundle key mount in every component.
    worker = json.loads(kube.kubectl("get", "deployment", "airflow-worker", "-n", NAMESPACE, "-o", "json").stdout)
    volumes = worker["spec"]["template"]["spec"]["volumes"]
    assert {"name": "git-ssh-key", "secret": {"secretName": "airflow-ssh-secret", "defaultMode": 288}} in volumes
    standin = json.loads(kube.kubectl("get", "configmap", "airflow-standin", "-n", NAMESPACE, "-o", "json").stdout)
    bundles = json.loads(standin["data"]["dag_bundle_config_list"])
    assert bundles[0]["classpath"] == "airflow.providers.git.bundles.git.GitDagBundle"
    assert bundles[0]["kwargs"]["subdir"] is None

    # 2. The move to EFS DAGs + KubernetesExecutor, logging and PgBouncer off: a config change.
    kube.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "PersistentVolume",
         "metadata": {"name": "it-airflow-dags"},
         "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteMany"],
                  "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "efs-sc",
                  "nfs": {"server": "fs-0123.efs.eu-west-1.amazonaws.com", "path": "/"},
                  "claimRef": {"namespace": NAMESPACE, "name": "airflow-dags"}}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
         "metadata": {"name": "airflow-dags", "namespace": NAMESPACE},
         "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "efs-sc", "volumeName": "it-airflow-dags",
                  "resources": {"requests": {"storage": "5Gi"}}}},
    ]))
    second = dict(common, airflow_helm_dags_mode="efs", airflow_helm_executor="KubernetesExecutor",
                  airflow_helm_logging_enabled=False, airflow_helm_pgbouncer_enabled=False)
    output, info = _run_role(local_stack, run_cmd, tmp_path, "efs-kubernetes", second)
    for gone in ("airflow-redis-password", "airflow-broker-url", "airflow-ssh-secret", "airflow-pgbouncer-config",
                 "airflow-pgbouncer-stats", "airflow-metadata-pgbouncer"):
        assert _secret_data(kube, gone) is None, "%s was left behind after the mode change" % gone
    assert _secret_data(kube, "airflow-fernet-key") == {"fernet-key": app["fernet_key"]}, "the Fernet key changed"
    release = json.loads(kube.helm("get", "values", "airflow", "-n", NAMESPACE, "-o", "json").stdout)
    assert release["dags"]["persistence"]["existingClaim"] == "airflow-dags"
    assert release["data"]["metadataSecretName"] == "airflow-metadata"
    assert "logging" not in release["config"]
    scheduler = json.loads(kube.kubectl("get", "deployment", "airflow-scheduler", "-n", NAMESPACE, "-o", "json").stdout)
    claims = [v["persistentVolumeClaim"]["claimName"] for v in scheduler["spec"]["template"]["spec"]["volumes"]
              if "persistentVolumeClaim" in v]
    assert claims == ["airflow-dags"]
    sa = json.loads(kube.kubectl("get", "serviceaccount", "airflow-worker", "-n", NAMESPACE, "-o", "json").stdout)
    assert "eks.amazonaws.com/role-arn" not in (sa["metadata"].get("annotations") or {})
    assert not [r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("it-eks-airflow-")]
    assert info["log_bucket"] == "" and info["irsa_role_arns"] == {}

    # State absent is covered by the molecule scenario's cleanup; here the test only tidies up.
    kube.kubectl("delete", "namespace", NAMESPACE, "--wait=false")
    kube.kubectl("delete", "persistentvolume", "it-airflow-dags", "--wait=false")
