"""The official Apache Airflow chart 1.19.0 rendered with every values combination airflow_helm
produces (airflow_cases.py: 24 renderings), offline: ``helm template`` of the unmodified chart
from the mirror beside the checkout (``../shared/charts/airflow-1.19.0.tgz``), every rendered
object and the KubernetesExecutor pod template validated against the Kubernetes 1.34 API
schemas (kubernetes-validate --strict), then what the templates do with the values:

* no claim the cluster cannot bind (no StatefulSet volume; only the efs_dags claim in efs mode);
* no Secret rendered by the chart at all (the role writes every Secret the release reads), so no
  ``<release>-broker-url`` placeholder under KubernetesExecutor;
* the GitDagBundle deploy key only in the pods that read DAGs, the Git host keys in ssh's global
  known_hosts file there;
* every container non-root, no privilege escalation, all capabilities dropped, seccomp
  RuntimeDefault; service account tokens only where the Kubernetes API is called;
* the Airflow 3 wiring: one JWT secret for the API server, scheduler, DAG processor, triggerer and
  workers; the workers' execution API URL is the API server's Service; the DAG processor runs;
* the admin password in no container's arguments or environment.

The same renderings are admitted by the real API server under Pod Security "restricted" in
tests/integration/test_airflow_chart_install.py.
"""

import json
import os
import subprocess
import sys

import pytest
import yaml

from airflow_cases import CASES, CHART_MIRROR

BIN = os.path.dirname(sys.executable)
HELM = os.path.join(BIN, "helm")
KUBERNETES_VALIDATE = os.path.join(BIN, "kubernetes-validate")
KUBERNETES_VERSION = "1.34.0"
CHART = os.path.join(CHART_MIRROR, "airflow-1.19.0.tgz")
NAMESPACE = "airflow"
RELEASE = "airflow"
# Components that read DAGs (and so get the GitDagBundle deploy key), by the chart's label.
DAG_READERS = {"dag-processor", "triggerer", "worker"}
# Components whose ServiceAccount token is mounted because they call the Kubernetes API.
KUBE_API = {"KubernetesExecutor": {"scheduler", "api-server", "worker", "triggerer"},
            "CeleryExecutor": {"worker", "triggerer"}}
AIRFLOW_COMPONENTS = {"scheduler", "api-server", "dag-processor", "triggerer", "worker"}


def render_chart(values, out_dir):
    """helm template of the official chart with these values: the objects, plus the
    KubernetesExecutor pod template (a Pod inside a ConfigMap) as an object of its own."""
    if not os.path.isfile(CHART):
        pytest.fail("The official Airflow chart is missing: %s (the offline mirror beside the checkout)" % CHART)
    values_file = os.path.join(out_dir, "values.json")
    with open(values_file, "w") as handle:
        json.dump(values, handle)
    proc = subprocess.run([HELM, "template", RELEASE, CHART, "--namespace", NAMESPACE, "-f", values_file,
                           "--kube-version", KUBERNETES_VERSION], capture_output=True, text=True, check=False,
                          timeout=120)
    assert proc.returncode == 0, "helm template failed:\n%s" % proc.stderr[-4000:]
    docs = [doc for doc in yaml.safe_load_all(proc.stdout) if doc]
    return docs, pod_template(docs)


def pod_template(docs):
    for doc in docs:
        if doc["kind"] == "ConfigMap" and "pod_template_file.yaml" in (doc.get("data") or {}):
            return yaml.safe_load(doc["data"]["pod_template_file.yaml"])
    return None


def pod_specs(docs, template=None):
    """(component, pod spec) of every workload, the pod template included (component worker)."""
    specs = []
    for doc in docs:
        spec = None
        if doc["kind"] in ("Deployment", "StatefulSet", "Job", "DaemonSet"):
            spec = doc["spec"]["template"]["spec"]
            labels = doc["spec"]["template"]["metadata"].get("labels", {})
        elif doc["kind"] == "CronJob":
            spec = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
            labels = doc["spec"]["jobTemplate"]["spec"]["template"]["metadata"].get("labels", {})
        if spec is not None:
            specs.append((labels.get("component", doc["metadata"]["name"]), spec))
    if template is not None:
        specs.append(("worker", template["spec"]))
    return specs


def containers(spec):
    return (spec.get("initContainers") or []) + (spec.get("containers") or [])


@pytest.fixture(scope="module")
def charts(airflow_rendered, tmp_path_factory):
    """{case: (objects, pod template)} for every rendering."""
    out = {}
    for name, values in airflow_rendered[0].items():
        out_dir = str(tmp_path_factory.mktemp(name))
        out[name] = render_chart(values, out_dir)
    return out


def test_every_rendered_object_validates_strictly_against_kubernetes_1_34(charts, tmp_path):
    manifest = tmp_path / "all.yaml"
    objects = []
    for docs, template in charts.values():
        objects.extend(docs)
        if template is not None:
            objects.append(template)
    manifest.write_text(yaml.safe_dump_all(objects))
    proc = subprocess.run([KUBERNETES_VALIDATE, "--strict", "--quiet", "-k", KUBERNETES_VERSION, str(manifest)],
                          capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, "objects fail the Kubernetes %s schemas:\n%s%s" % (
        KUBERNETES_VERSION, proc.stdout[-6000:], proc.stderr[-2000:])
    print("\nvalidated %d objects from %d renderings" % (len(objects), len(charts)))


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_claim_the_cluster_cannot_bind(name, charts, airflow_rendered):
    docs, template = charts[name]
    values = airflow_rendered[0][name]
    kinds = {doc["kind"] for doc in docs}
    assert "PersistentVolumeClaim" not in kinds, "the chart renders a claim of its own"
    for doc in docs:
        assert not doc.get("spec", {}).get("volumeClaimTemplates"), \
            "%s %s asks for a volume per replica" % (doc["kind"], doc["metadata"]["name"])
    allowed = {values["dags"]["persistence"]["existingClaim"]} if values["dags"]["persistence"]["enabled"] else set()
    for component, spec in pod_specs(docs, template):
        claims = {volume["persistentVolumeClaim"]["claimName"] for volume in spec.get("volumes") or []
                  if "persistentVolumeClaim" in volume}
        assert claims <= allowed, "%s mounts claims %s" % (component, claims - allowed)
    workloads = {doc["metadata"]["name"]: doc["kind"] for doc in docs if doc["kind"] in ("Deployment", "StatefulSet")}
    assert workloads["airflow-triggerer"] == "Deployment"


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_chart_renders_no_secret(name, charts):
    docs = charts[name][0]
    secrets = sorted(doc["metadata"]["name"] for doc in docs if doc["kind"] == "Secret")
    assert not secrets, "the chart renders Secrets the role does not manage: %s" % secrets


@pytest.mark.parametrize("name", sorted(CASES))
def test_deploy_key_only_where_dags_are_read(name, charts):
    docs, template = charts[name]
    mode = CASES[name]["airflow_helm_dags_mode"]
    keyed = set()
    for component, spec in pod_specs(docs, template):
        names = {volume["name"]: volume for volume in spec.get("volumes") or []
                 if volume.get("secret", {}).get("secretName") == "airflow-ssh-secret"}
        if not names:
            continue
        keyed.add(component)
        if mode == "gitbundle":
            known_hosts = [mount for container in containers(spec) for mount in container.get("volumeMounts") or []
                           if mount["name"] in names and mount["mountPath"] == "/etc/ssh"]
            assert known_hosts, "%s: the Git host keys are not in ssh's global known_hosts" % component
            items = {item["key"]: item["path"] for volume in names.values() for item in volume["secret"].get("items", [])}
            assert items == {"gitSshKey": "gitSshKey", "knownHosts": "ssh_known_hosts"}, items
    if mode == "gitbundle":
        assert keyed == DAG_READERS, "deploy key mounted in %s" % sorted(keyed)
    elif mode == "gitsync":
        # The chart's git-sync sidecars: the key goes where the sidecar runs.
        assert keyed <= DAG_READERS | {"scheduler"} and keyed, "deploy key mounted in %s" % sorted(keyed)
    else:
        assert not keyed, "efs mode mounts the deploy key in %s" % sorted(keyed)


def _restricted_violations(component, spec):
    """The Pod Security Standard "restricted" rules a pod spec breaks (the real admission
    check runs in the integration test; this one names the container)."""
    problems = []
    pod = spec.get("securityContext") or {}
    if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
        problems.append("host namespaces")
    for volume in spec.get("volumes") or []:
        if "hostPath" in volume:
            problems.append("hostPath volume %s" % volume["name"])
    for container in containers(spec):
        ctx = container.get("securityContext") or {}
        where = "%s/%s" % (component, container["name"])
        if not (ctx.get("runAsNonRoot", pod.get("runAsNonRoot"))):
            problems.append("%s: runAsNonRoot not set" % where)
        if ctx.get("runAsUser", pod.get("runAsUser")) == 0:
            problems.append("%s: runs as uid 0" % where)
        seccomp = (ctx.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append("%s: seccomp %s" % (where, seccomp))
        if ctx.get("allowPrivilegeEscalation") is not False:
            problems.append("%s: privilege escalation allowed" % where)
        if ctx.get("privileged"):
            problems.append("%s: privileged" % where)
        caps = ctx.get("capabilities") or {}
        if "ALL" not in caps.get("drop", []):
            problems.append("%s: capabilities not all dropped" % where)
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append("%s: adds capabilities %s" % (where, caps["add"]))
    return problems


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_pod_is_restricted_and_tokens_only_where_needed(name, charts):
    docs, template = charts[name]
    executor = CASES[name]["airflow_helm_executor"]
    problems = []
    for component, spec in pod_specs(docs, template):
        problems += _restricted_violations(component, spec)
    assert not problems, "\n".join(problems)
    # Tokens: the chart's own ServiceAccounts (PgBouncer, StatsD, Redis, the Jobs) mount none;
    # the role's ServiceAccounts of the Airflow components are checked on the API server
    # (tests/integration/test_airflow_helm.py).
    accounts = {doc["metadata"]["name"]: doc.get("automountServiceAccountToken", True)
                for doc in docs if doc["kind"] == "ServiceAccount"}
    mounted = set()
    for component, spec in pod_specs(docs, template):
        account = spec.get("serviceAccountName", "default")
        automount = spec.get("automountServiceAccountToken", accounts.get(account))
        if automount is None:
            assert component in AIRFLOW_COMPONENTS, "%s runs as %s, which nobody creates" % (component, account)
        elif automount:
            mounted.add(component)
    assert mounted <= KUBE_API[executor], "tokens mounted in %s" % sorted(mounted - KUBE_API[executor])


@pytest.mark.parametrize("name", sorted(CASES))
def test_airflow3_wiring(name, charts, airflow_rendered):
    docs, template = charts[name]
    executor = CASES[name]["airflow_helm_executor"]
    specs = pod_specs(docs, template)
    components = {spec[0] for spec in specs}
    assert {"scheduler", "api-server", "dag-processor", "triggerer"} <= components
    # Airflow 3 serves the UI and the APIs from the API server; nothing is configured or
    # rendered for the Airflow 2 webserver.
    assert "webserver" not in components and "webserver" not in airflow_rendered[0][name]
    assert not [doc for doc in docs if "webserver" in doc["metadata"]["name"]]
    jwt = {}
    for component, spec in specs:
        if component not in AIRFLOW_COMPONENTS:
            continue
        for container in spec["containers"]:
            for env in container.get("env") or []:
                if env["name"] == "AIRFLOW__API_AUTH__JWT_SECRET":
                    jwt.setdefault(component, set()).add(env["valueFrom"]["secretKeyRef"]["name"])
    assert set(jwt) == AIRFLOW_COMPONENTS, "JWT secret missing in %s" % sorted(AIRFLOW_COMPONENTS - set(jwt))
    assert set().union(*jwt.values()) == {"airflow-jwt-secret"}, jwt
    config = [doc for doc in docs if doc["kind"] == "ConfigMap" and "airflow.cfg" in doc.get("data", {})][0]
    cfg = config["data"]["airflow.cfg"]
    service = [doc for doc in docs if doc["kind"] == "Service" and doc["metadata"]["name"] == "airflow-api-server"][0]
    port = service["spec"]["ports"][0]["port"]
    assert "execution_api_server_url = http://airflow-api-server:%d/execution/" % port in cfg
    assert "executor = %s" % executor in cfg
    if executor == "KubernetesExecutor":
        assert template is not None and template["spec"]["containers"][0]["name"] == "base"


@pytest.mark.parametrize("name", sorted(CASES))
def test_admin_password_only_read_at_run_time(name, charts):
    docs = charts[name][0]
    job = [doc for doc in docs if doc["kind"] == "Job" and doc["metadata"]["name"] == "airflow-create-user"][0]
    spec = job["spec"]["template"]["spec"]
    for component, pod in pod_specs(docs):
        for container in containers(pod):
            for env in (container.get("env") or []) + (container.get("envFrom") or []):
                ref = (env.get("valueFrom") or {}).get("secretKeyRef") or env.get("secretRef") or {}
                assert ref.get("name") != "airflow-admin-credentials", \
                    "%s/%s has the admin password in its environment" % (component, container["name"])
    main = spec["containers"][0]
    assert not [arg for arg in main.get("args", []) + main.get("command", []) if "--password" in arg or "-p" == arg]
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    mount = [m for m in main["volumeMounts"] if volumes.get(m["name"], {}).get("secret", {}).get("secretName")
             == "airflow-admin-credentials"]
    assert len(mount) == 1 and mount[0]["readOnly"] is True
    assert "read -r password < %s/password" % mount[0]["mountPath"] in main["args"][2]


# Stands in for the `airflow` executable of the image, to observe the create-user Job's own shell
# command: it asks for the password the way `airflow users create` does without --password
# (FAB's _create_password: getpass.getpass twice, the second time for confirmation) and records
# what it was given. Python's getpass falls back to stdin when there is no terminal, as in a pod.
RECORDING_AIRFLOW = """#!%s
import getpass, json, os, sys
first = getpass.getpass("Password:")
second = getpass.getpass("Repeat for confirmation:")
with open(os.environ["IT_RECORD"], "w") as handle:
    json.dump({"argv": sys.argv[1:], "first": first, "second": second,
               "environ_has_it": any(first in value for value in os.environ.values())}, handle)
"""


def test_admin_password_reaches_the_prompt_not_the_arguments(charts, tmp_path):
    """Runs the create-user Job's command (from the rendered official chart) with the admin
    Secret's file at its mount path, in a private mount namespace and without a terminal."""
    docs = charts["gitsync-KubernetesExecutor-logs-ingress"][0]
    job = [doc for doc in docs if doc["kind"] == "Job" and doc["metadata"]["name"] == "airflow-create-user"][0]
    spec = job["spec"]["template"]["spec"]
    main = spec["containers"][0]
    secret_volumes = {v["name"] for v in spec["volumes"]
                      if v.get("secret", {}).get("secretName") == "airflow-admin-credentials"}
    mount = [m for m in main["volumeMounts"] if m["name"] in secret_volumes][0]["mountPath"]
    password = "It-Adm1n pass'word $(not run) \"quoted\""
    source = tmp_path / "secret"
    source.mkdir()
    (source / "password").write_text(password)  # a Secret file has no trailing newline
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "airflow").write_text(RECORDING_AIRFLOW % sys.executable)
    os.chmod(bin_dir / "airflow", 0o755)
    record = tmp_path / "record.json"
    command = (main.get("command") or []) + main["args"]
    assert command[:2] == ["bash", "-c"], command
    script = "set -e; mount -t tmpfs tmpfs /opt; mkdir -p %s; mount --bind %s %s; exec \"$@\"" % (
        mount, source, mount)
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "bash", "-c", script, "--"] + command,
                          env={"PATH": "%s:/usr/bin:/bin" % bin_dir, "IT_RECORD": str(record)},
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False,
                          start_new_session=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = json.loads(record.read_text())
    assert seen["first"] == seen["second"] == password
    assert password not in " ".join(seen["argv"]) and "--password" not in seen["argv"]
    assert seen["argv"][:2] == ["users", "create"] and "-u" in seen["argv"]
    assert not seen["environ_has_it"]
