"""airflow_helm on the local stack with the official Apache Airflow chart 1.19.0, installed from
the offline chart mirror the sandbox serves on 127.0.0.1 (``platform_chart_repo_url``).

* GitDagBundle + Celery at -vvv: no secret in the output; what the role created, read back from
  the API server and the emulated AWS; then the move to EFS DAGs + KubernetesExecutor with logging
  and PgBouncer off (a configuration change, Secrets of the old one removed).
* Every DAG mode with both executors (git-sync + KubernetesExecutor is the molecule scenario's):
  a fresh install under Pod Security "restricted", an immediate rerun with changed=0, no Secret
  or claim the role did not make, a privileged pod refused in the namespace, the
  KubernetesExecutor pod template admitted, and state absent leaving nothing of the release.
* GitDagBundle clones for real: OpenSSH's sshd on 127.0.0.1 serves the DAG repository, and the
  Git provider the platform image pins (apache-airflow-providers-git 0.2.2, in the Airflow test
  venv) clones it with the connection and the volumes of the installed dag-processor Deployment,
  mounted at their paths in a private mount namespace as the kubelet would: the host key is
  checked against the role's known_hosts (a clone without that mount, or with another host's
  key, fails with "Host key verification failed").
* High availability: with two of each component (staging and production), PodDisruptionBudgets
  exist, and draining the node of a scheduler leaves a scheduler Ready.
"""

import base64
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time

import pytest
import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AIRFLOW_VENV_SH = os.path.join(REPO_ROOT, "tests", "tools", "airflow-venv.sh")
VENV_BIN = os.path.dirname(sys.executable)

NAMESPACE = "it-airflow"
CLUSTER = "it-eks"
ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/ITAIRFLOW00000000000000000000000"
OIDC_ARN = "arn:aws:iam::123456789012:oidc-provider/" + ISSUER
DB_PASSWORD = "it-db-Pa55word-not-for-output"
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
        content: "{{ airflow_helm_info | default({}) | to_json }}"
        dest: "{{ it_info_file }}"
        mode: "0600"
      changed_when: false  # the test's own bookkeeping, not the role's
"""


def _secret_data(kube, name, namespace=NAMESPACE):
    proc = kube.kubectl("get", "secret", name, "-n", namespace, "-o", "json", check=False)
    if proc.returncode != 0:
        return None
    data = json.loads(proc.stdout).get("data") or {}
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def _forms(value):
    """A secret and the encodings it could show up in (raw, base64, JSON-escaped)."""
    forms = {value, base64.b64encode(value.encode()).decode(), json.dumps(value)[1:-1]}
    return {form for form in forms if len(form) >= 8}


RECAP = re.compile(r"^localhost\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0", re.M)


def _changed(output):
    recaps = RECAP.findall(output)
    assert recaps, "no PLAY RECAP in the output"
    return int(recaps[-1])


def _chart_repo(kube):
    if not kube.chart_repo_url:
        pytest.fail("the offline chart mirror is not served: ../shared/charts/index.yaml beside the checkout is "
                    "missing, and these tests do not reach the internet")
    return kube.chart_repo_url


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GitServer:
    """OpenSSH's sshd on 127.0.0.1 serving one bare repository (git-upload-pack over SSH) to one
    deploy key, as a Git host serves a DAG repository. Runs as the test's user (root here)."""

    def __init__(self, root):
        self.root = root
        self.port = _free_port()
        self.repo = os.path.join(root, "mlops-dags.git")
        keygen = ["ssh-keygen", "-q", "-t", "ed25519", "-N", ""]
        subprocess.run(keygen + ["-C", "git-host", "-f", os.path.join(root, "host_key")], check=True)
        subprocess.run(keygen + ["-C", "deploy", "-f", os.path.join(root, "deploy_key")], check=True)
        subprocess.run(keygen + ["-C", "other-host", "-f", os.path.join(root, "other_host_key")], check=True)
        self.private_key = open(os.path.join(root, "deploy_key")).read()
        with open(os.path.join(root, "deploy_key.pub")) as src, open(os.path.join(root, "authorized_keys"), "w") as dst:
            dst.write(src.read())
        self.known_hosts = self._known_hosts_line("host_key.pub")
        self.other_known_hosts = self._known_hosts_line("other_host_key.pub")
        work = os.path.join(root, "work")
        git = ["git", "-c", "user.email=it@example.com", "-c", "user.name=it"]
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", self.repo], check=True)
        subprocess.run(["git", "init", "-q", "-b", "main", work], check=True)
        os.makedirs(os.path.join(work, "dags"))
        with open(os.path.join(work, "dags", "it_dag.py"), "w") as handle:
            handle.write("# a DAG file delivered by GitDagBundle\n")
        subprocess.run(git + ["-C", work, "add", "."], check=True)
        subprocess.run(git + ["-C", work, "commit", "-qm", "DAGs"], check=True)
        subprocess.run(git + ["-C", work, "push", "-q", self.repo, "main"], check=True)
        self.commit = subprocess.run(["git", "-C", work, "rev-parse", "HEAD"], check=True, capture_output=True,
                                     text=True).stdout.strip()
        config = os.path.join(root, "sshd_config")
        with open(config, "w") as handle:
            handle.write("\n".join([
                "Port %d" % self.port, "ListenAddress 127.0.0.1", "HostKey %s/host_key" % root,
                "AuthorizedKeysFile %s/authorized_keys" % root, "PasswordAuthentication no",
                "KbdInteractiveAuthentication no", "PubkeyAuthentication yes", "StrictModes no", "UsePAM no",
                "PidFile %s/sshd.pid" % root, "PermitRootLogin prohibit-password",
                "AllowUsers %s" % self.user, ""]))
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
        self.proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", config],
                                     stdout=open(os.path.join(root, "sshd.log"), "w"), stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError("sshd did not listen on %d" % self.port)

    @property
    def user(self):
        import pwd
        return pwd.getpwuid(os.getuid()).pw_name

    @property
    def url(self):
        return "ssh://%s@127.0.0.1:%d%s" % (self.user, self.port, self.repo)

    def _known_hosts_line(self, pub):
        with open(os.path.join(self.root, pub)) as handle:
            key_type, key = handle.read().split()[:2]
        return "[127.0.0.1]:%d %s %s" % (self.port, key_type, key)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def git_server(tmp_path_factory):
    server = GitServer(str(tmp_path_factory.mktemp("git-server")))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def airflow_venv():
    proc = subprocess.run(["bash", AIRFLOW_VENV_SH], capture_output=True, text=True, timeout=1200, check=False)
    assert proc.returncode == 0, "the Airflow test venv could not be built:\n%s" % proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


CLONE = """
import os
from airflow.providers.git.bundles.git import GitDagBundle

bundle = GitDagBundle(name=os.environ["IT_BUNDLE"], git_conn_id=os.environ["IT_CONN_ID"], tracking_ref="main")
bundle.initialize()
print("CLONED", bundle.get_current_version(), sorted(os.listdir(bundle.path)))
"""


def _clone_as_the_pod(kube, namespace, airflow_venv, work, known_hosts_override=None, mount_known_hosts=True):
    """Run GitDagBundle with what the installed dag-processor Deployment gives its container: the
    connection from its environment and its Secret volumes, each item written to a directory and
    bind-mounted at the container's mountPath inside a private mount namespace. Runs as root, so
    the key file is owner-only (in the pod, uid 50000 reads it as a group member via fsGroup)."""
    deploy = json.loads(kube.kubectl("get", "deployment", "airflow-dag-processor", "-n", namespace, "-o", "json").stdout)
    pod = deploy["spec"]["template"]["spec"]
    main = [c for c in pod["containers"] if c["name"] == "dag-processor"][0]
    env = {item["name"]: item["value"] for item in main.get("env") or [] if "value" in item}
    conn_vars = {name: value for name, value in env.items() if name.startswith("AIRFLOW_CONN_")
                 and json.loads(value).get("conn_type") == "git"}
    assert len(conn_vars) == 1, sorted(env)
    conn_var, conn = next(iter(conn_vars.items()))
    bundles = json.loads(_airflow_cfg(kube, namespace)["dag_bundle_config_list"])
    volumes = {v["name"]: v for v in pod["volumes"]}
    script = ["set -e", "mount -t tmpfs tmpfs /opt", "[ ! -d /root/.ssh ] || mount -t tmpfs tmpfs /root/.ssh"]
    for index, mount in enumerate(main.get("volumeMounts") or []):
        secret = volumes[mount["name"]].get("secret")
        if not secret:
            continue
        data = _secret_data(kube, secret["secretName"], namespace)
        source = os.path.join(work, "volume-%d" % index)
        os.makedirs(source)
        for item in secret.get("items") or [{"key": k, "path": k} for k in data]:
            content = data[item["key"]]
            if item["key"] == "knownHosts" and known_hosts_override is not None:
                content = known_hosts_override
            path = os.path.join(source, item["path"])
            with open(path, "w") as handle:
                handle.write(content)
            os.chmod(path, 0o400)
        if mount["mountPath"] == "/etc/ssh" and not mount_known_hosts:
            continue
        target = shlex.quote(mount["mountPath"])
        script.append("mkdir -p %s && mount --bind %s %s" % (target, shlex.quote(source), target))
    script.append("exec %s/bin/python -c %s" % (airflow_venv, shlex.quote(CLONE)))
    run_env = {"PATH": os.environ["PATH"], "AIRFLOW_HOME": os.path.join(work, "airflow-home"),
               "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH": os.path.join(work, "bundles"),
               conn_var: conn, "IT_BUNDLE": bundles[0]["name"], "IT_CONN_ID": bundles[0]["kwargs"]["git_conn_id"]}
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "bash", "-c", "\n".join(script)],
                          env=run_env, capture_output=True, text=True, timeout=300, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def _airflow_cfg(kube, namespace):
    config = json.loads(kube.kubectl("get", "configmap", "airflow-config", "-n", namespace, "-o", "json").stdout)
    values = {}
    for line in config["data"]["airflow.cfg"].splitlines():
        if " = " in line:
            key, value = line.split(" = ", 1)
            values[key.strip()] = value.strip()
    return values


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


def _client(local_stack, service):
    import boto3
    return boto3.client(service, endpoint_url=local_stack.aws.endpoint, region_name="eu-west-1",
                        aws_access_key_id="AKIAMOTOSANDBOX00000", aws_secret_access_key="moto-sandbox-secret")


def _prepare_namespace(local_stack, namespace, efs=False):
    """What the layers before airflow_helm leave: the OIDC provider, the namespace with the
    metadata Secret (rds_metadata) and, for EFS DAGs, the bound claim (efs_dags)."""
    kube = local_stack.kube
    iam = _client(local_stack, "iam")
    if not [p for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] if p["Arn"] == OIDC_ARN]:
        iam.create_open_id_connect_provider(Url="https://" + ISSUER, ClientIDList=["sts.amazonaws.com"],
                                            ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"])
    kube.kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=true", "--timeout=120s")
    kube.kubectl("create", "namespace", namespace)
    kube.kubectl("create", "secret", "generic", "airflow-metadata", "-n", namespace,
                 "--from-literal=connection=postgresql://airflow:%s@it-db.example.internal:5432/airflow" % DB_PASSWORD)
    if efs:
        _efs_claim(kube, namespace)


def _efs_claim(kube, namespace):
    """The bound ReadWriteMany claim efs_dags makes (its PV is named <namespace>-dags here)."""
    kube.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "PersistentVolume",
         "metadata": {"name": namespace + "-dags"},
         "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteMany"],
                  "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "efs-sc",
                  "nfs": {"server": "fs-0123.efs.eu-west-1.amazonaws.com", "path": "/"},
                  "claimRef": {"namespace": namespace, "name": "airflow-dags"}}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
         "metadata": {"name": "airflow-dags", "namespace": namespace},
         "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "efs-sc",
                  "volumeName": namespace + "-dags", "resources": {"requests": {"storage": "5Gi"}}}},
    ]))


def _common_vars(kube, namespace, git_server):
    return {
        "airflow_helm_cluster_name": CLUSTER,
        "airflow_helm_namespace": namespace,
        "platform_chart_repo_url": _chart_repo(kube),
        "airflow_helm_wait_timeout": "3m",
        "airflow_helm_metadata_secret": "airflow-metadata",
        "airflow_helm_oidc_provider_arn": OIDC_ARN,
        "airflow_helm_secrets_recovery_window_days": 0,
        "airflow_helm_log_bucket_delete_on_absent": True,
        "airflow_helm_git_repo": git_server.url,
        # Pasted with CRLF and no final newline: the module repairs it, nothing prints it.
        "airflow_helm_git_ssh_key": git_server.private_key.strip().replace("\n", "\r\n"),
        "airflow_helm_git_known_hosts": git_server.known_hosts,
        "airflow_helm_git_sub_path": "dags",
        "airflow_helm_dags_pvc": "airflow-dags",
    }


@pytest.mark.aws
@pytest.mark.k8s
def test_airflow_helm_modes_executors_no_secret_in_output(local_stack, run_cmd, tmp_path, git_server):
    local_stack.aws.reset()
    kube = local_stack.kube
    iam, s3, sm = (_client(local_stack, service) for service in ("iam", "s3", "secretsmanager"))
    private_key = git_server.private_key
    _prepare_namespace(local_stack, NAMESPACE)
    common = _common_vars(kube, NAMESPACE, git_server)

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
    assert ssh["gitSshKey"] == private_key and ssh["knownHosts"].strip() == git_server.known_hosts
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
    # The official chart: a Celery worker Deployment (no volume per worker) with the deploy key
    # and the host keys, the bundle configured for the DAG processor.
    worker = json.loads(kube.kubectl("get", "deployment", "airflow-worker", "-n", NAMESPACE, "-o", "json").stdout)
    volumes = {v["name"]: v for v in worker["spec"]["template"]["spec"]["volumes"]}
    assert volumes["git-ssh-key"]["secret"]["secretName"] == "airflow-ssh-secret"
    assert volumes["git-known-hosts"]["secret"]["items"] == [{"key": "knownHosts", "path": "ssh_known_hosts"}]
    bundles = json.loads(_airflow_cfg(kube, NAMESPACE)["dag_bundle_config_list"])
    assert bundles[0]["classpath"] == "airflow.providers.git.bundles.git.GitDagBundle"
    assert bundles[0]["kwargs"]["subdir"] is None

    # 2. The move to EFS DAGs + KubernetesExecutor, logging and PgBouncer off: a config change.
    _efs_claim(kube, NAMESPACE)
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
    # Airflow 3: the DAG processor parses the DAGs (the scheduler no longer reads the folder).
    processor = json.loads(kube.kubectl("get", "deployment", "airflow-dag-processor", "-n", NAMESPACE,
                                        "-o", "json").stdout)
    claims = [v["persistentVolumeClaim"]["claimName"] for v in processor["spec"]["template"]["spec"]["volumes"]
              if "persistentVolumeClaim" in v]
    assert claims == ["airflow-dags"]
    sa = json.loads(kube.kubectl("get", "serviceaccount", "airflow-worker", "-n", NAMESPACE, "-o", "json").stdout)
    assert "eks.amazonaws.com/role-arn" not in (sa["metadata"].get("annotations") or {})
    assert not [r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("it-eks-airflow-")]
    assert info["log_bucket"] == "" and info["irsa_role_arns"] == {}

    # State absent is covered by the molecule scenario's cleanup; here the test only tidies up.
    kube.kubectl("delete", "namespace", NAMESPACE, "--wait=false")
    kube.kubectl("delete", "persistentvolume", "it-airflow-dags", "--wait=false")


# Every DAG mode with both executors; git-sync + KubernetesExecutor is molecule/airflow_helm's.
FRESH_INSTALLS = [("gitbundle", "KubernetesExecutor"), ("gitbundle", "CeleryExecutor"), ("gitsync", "CeleryExecutor"),
                  ("efs", "KubernetesExecutor"), ("efs", "CeleryExecutor")]
PRIVILEGED_POD = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "it-privileged"},
    "spec": {"containers": [{"name": "shell", "image": "registry.example.com/debian:12",
                             "securityContext": {"privileged": True}}]},
}


def _objects_of_release(kube, namespace):
    """Every object in the namespace (and cluster-wide) that carries the chart's release label."""
    kinds = ("all,configmaps,secrets,serviceaccounts,roles,rolebindings,persistentvolumeclaims,"
             "poddisruptionbudgets,networkpolicies,ingresses,cronjobs,jobs")
    namespaced = json.loads(kube.kubectl("get", kinds, "-n", namespace, "-l", "release=airflow", "-o", "json").stdout)
    cluster = json.loads(kube.kubectl("get", "clusterroles,clusterrolebindings,priorityclasses",
                                      "-l", "release=airflow", "-o", "json").stdout)
    return ["%s/%s" % (item["kind"], item["metadata"]["name"]) for item in namespaced["items"] + cluster["items"]]


@pytest.mark.aws
@pytest.mark.k8s
@pytest.mark.parametrize("mode, executor", FRESH_INSTALLS, ids=["-".join(c) for c in FRESH_INSTALLS])
def test_fresh_install_rerun_and_uninstall(mode, executor, local_stack, run_cmd, tmp_path, git_server, airflow_venv,
                                           request):
    kube = local_stack.kube
    namespace = "it-af-%s-%s" % (mode, "k8s" if executor == "KubernetesExecutor" else "celery")
    _prepare_namespace(local_stack, namespace, efs=(mode == "efs"))
    extra = dict(_common_vars(kube, namespace, git_server), airflow_helm_dags_mode=mode, airflow_helm_executor=executor,
                 airflow_helm_iam_role_prefix="it-" + namespace, airflow_helm_log_bucket=namespace + "-logs")
    try:
        output = _run_role(local_stack, run_cmd, tmp_path, "install", extra)[0]
        assert _changed(output) > 0
        # The first rerun after an install changes nothing (the chart made no Secret the role removes).
        output = _run_role(local_stack, run_cmd, tmp_path, "rerun", extra)[0]
        assert _changed(output) == 0, "the rerun after install changed %d task(s)" % _changed(output)

        # Only the Secrets the role (and rds_metadata) wrote, and Helm's release records.
        secrets = json.loads(kube.kubectl("get", "secrets", "-n", namespace, "-o", "json").stdout)["items"]
        foreign = [item["metadata"]["name"] for item in secrets
                   if item["type"] != "helm.sh/release.v1" and item["metadata"]["name"] != "airflow-metadata"
                   and (item["metadata"].get("labels") or {}).get("app.kubernetes.io/managed-by") != "mlops.eks_platform"]
        assert not foreign, "Secrets nobody manages: %s" % foreign
        claims = json.loads(kube.kubectl("get", "pvc", "-n", namespace, "-o", "json").stdout)["items"]
        assert [c["metadata"]["name"] for c in claims] == (["airflow-dags"] if mode == "efs" else [])
        assert all(c["status"]["phase"] == "Bound" for c in claims)

        # Pod Security "restricted": enforced (a privileged pod is refused), and what the chart
        # runs, the KubernetesExecutor's task pods included, is admitted without a warning.
        labels = json.loads(kube.kubectl("get", "namespace", namespace, "-o", "json").stdout)["metadata"]["labels"]
        for verb in ("enforce", "audit", "warn"):
            assert labels["pod-security.kubernetes.io/" + verb] == "restricted"
        refused = kube.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-",
                               input=json.dumps(PRIVILEGED_POD), check=False)
        assert refused.returncode != 0 and "violates PodSecurity" in refused.stdout, refused.stdout
        pods = json.loads(kube.kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)["items"]
        assert pods and all(p["status"].get("phase") in ("Running", "Succeeded") for p in pods)
        if executor == "KubernetesExecutor":
            config = json.loads(kube.kubectl("get", "configmap", "airflow-config", "-n", namespace, "-o", "json").stdout)
            task_pod = yaml.safe_load(config["data"]["pod_template_file.yaml"])
            task_pod["metadata"] = {"name": "it-task-pod"}
            admitted = kube.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-",
                                    input=json.dumps(task_pod), check=False)
            assert admitted.returncode == 0 and "Warning" not in admitted.stdout, admitted.stdout
        # Service account tokens only for the components that call the Kubernetes API.
        for suffix, needs in (("scheduler", executor == "KubernetesExecutor"), ("worker", True),
                              ("api-server", executor == "KubernetesExecutor"), ("triggerer", True),
                              ("dag-processor", False)):
            account = json.loads(kube.kubectl("get", "serviceaccount", "airflow-" + suffix, "-n", namespace,
                                              "-o", "json").stdout)
            assert account.get("automountServiceAccountToken") is needs, suffix

        if mode == "gitbundle":
            # The clone GitDagBundle makes in the DAG processor, with the installed Deployment's
            # connection and volumes, against sshd on loopback.
            rc, out = _clone_as_the_pod(kube, namespace, airflow_venv, str(tmp_path / "clone"))
            assert rc == 0 and "CLONED " + git_server.commit in out and "it_dag.py" not in out.split("CLONED")[0], out
            rc, out = _clone_as_the_pod(kube, namespace, airflow_venv, str(tmp_path / "no-known-hosts"),
                                        mount_known_hosts=False)
            assert rc != 0 and "Host key verification failed" in out, out[-3000:]
            rc, out = _clone_as_the_pod(kube, namespace, airflow_venv, str(tmp_path / "other-host"),
                                        known_hosts_override=git_server.other_known_hosts + "\n")
            assert rc != 0 and "Host key verification failed" in out, out[-3000:]

        # State absent: the release and everything it made are gone (the namespace is kept here,
        # so that what the chart left behind could be seen).
        _run_role(local_stack, run_cmd, tmp_path, "absent",
                  dict(extra, airflow_helm_state="absent", airflow_helm_namespace_delete_on_absent=False))
        assert json.loads(kube.helm("list", "-n", namespace, "--all", "-o", "json").stdout) == []
        assert _objects_of_release(kube, namespace) == []
        left = json.loads(kube.kubectl("get", "secrets", "-n", namespace, "-o", "json").stdout)["items"]
        assert [item["metadata"]["name"] for item in left] == ["airflow-metadata"]
    finally:
        kube.kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)
        kube.kubectl("delete", "persistentvolume", namespace + "-dags", "--wait=false", "--ignore-not-found",
                     check=False)


@pytest.mark.aws
@pytest.mark.k8s
def test_high_availability_survives_a_node_drain(local_stack, run_cmd, tmp_path, git_server):
    """Two of each component (what staging and production set): a PodDisruptionBudget each, spread
    across the zones' nodes, and draining a scheduler's node leaves a scheduler Ready."""
    kube = local_stack.kube
    namespace = "it-af-ha"
    _prepare_namespace(local_stack, namespace)
    with open(os.path.join(REPO_ROOT, "inventories", "production", "group_vars", "production", "main.yml")) as handle:
        replicas = yaml.safe_load(handle)["airflow_helm_replicas"]
    assert set(replicas.values()) == {2}
    extra = dict(_common_vars(kube, namespace, git_server), airflow_helm_dags_mode="gitsync",
                 airflow_helm_replicas=replicas, airflow_helm_iam_role_prefix="it-af-ha",
                 airflow_helm_log_bucket="it-af-ha-logs")
    drained = None
    try:
        _run_role(local_stack, run_cmd, tmp_path, "ha", extra)
        pdbs = json.loads(kube.kubectl("get", "pdb", "-n", namespace, "-o", "json").stdout)["items"]
        assert {p["metadata"]["name"] for p in pdbs} >= {"airflow-scheduler-pdb", "airflow-api-server-pdb",
                                                         "airflow-triggerer-pdb", "airflow-pgbouncer-pdb"}, \
            sorted(p["metadata"]["name"] for p in pdbs)

        def schedulers():
            """The scheduler pods that are not being deleted: {name: (node, ready)}."""
            pods = json.loads(kube.kubectl("get", "pods", "-n", namespace, "-l", "component=scheduler",
                                           "-o", "json").stdout)["items"]
            return {p["metadata"]["name"]: (p["spec"].get("nodeName"),
                                            any(c["type"] == "Ready" and c["status"] == "True"
                                                for c in p["status"].get("conditions") or []))
                    for p in pods if not p["metadata"].get("deletionTimestamp")}

        before = schedulers()
        assert len(before) == 2 and all(ready for node, ready in before.values()), before
        nodes = sorted({node for node, ready in before.values()})
        assert len(nodes) == 2, "both schedulers on one node: %s" % before
        drained = nodes[0]
        proc = kube.kubectl("drain", drained, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=120s",
                            check=False)
        assert proc.returncode == 0, proc.stdout
        ready_elsewhere = [name for name, (node, ready) in schedulers().items() if ready and node != drained]
        assert ready_elsewhere, "no scheduler Ready after draining %s: %s" % (drained, schedulers())
        deadline = time.time() + 120
        while time.time() < deadline:
            now = schedulers()
            if len(now) == 2 and all(ready for node, ready in now.values()):
                break
            time.sleep(2)
        now = schedulers()
        assert drained not in [node for node, ready in now.values()], now
        assert len([name for name, (node, ready) in now.items() if ready]) == 2, now
    finally:
        if drained:
            kube.kubectl("uncordon", drained, check=False)
        _run_role(local_stack, run_cmd, tmp_path, "ha-absent", dict(extra, airflow_helm_state="absent"))


@pytest.mark.aws
@pytest.mark.k8s
def test_a_redis_storage_class_the_cluster_lacks_is_refused(local_stack, run_cmd, tmp_path, git_server):
    kube = local_stack.kube
    namespace = "it-af-redis-class"
    _prepare_namespace(local_stack, namespace)
    extra = dict(_common_vars(kube, namespace, git_server), airflow_helm_dags_mode="gitsync",
                 airflow_helm_executor="CeleryExecutor", airflow_helm_redis_storage_class="no-such-class",
                 airflow_helm_iam_role_prefix="it-af-redis", airflow_helm_log_bucket="it-af-redis-logs",
                 it_info_file=str(tmp_path / "info.json"))
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(json.dumps(extra))
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(PLAYBOOK)
    env = dict(local_stack.env, ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    try:
        proc = run_cmd([os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
                        "-e", "@" + str(vars_file), str(playbook)], env, check=False, timeout=600)
        assert proc.returncode != 0
        assert "airflow_helm_redis_storage_class: the cluster has no StorageClass 'no-such-class'" in proc.stdout
        assert json.loads(kube.helm("list", "-n", namespace, "--all", "-o", "json").stdout) == []
    finally:
        _run_role(local_stack, run_cmd, tmp_path, "redis-class-absent",
                  dict(extra, airflow_helm_state="absent", airflow_helm_redis_storage_class=""))
