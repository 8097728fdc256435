"""The collection's MLflow chart (roles/mlflow_helm/files/chart), offline: helm lint, the
rendered manifests against the Kubernetes 1.34 API schemas (kubernetes-validate --strict),
what the manifests must say (secrets, probes, security, IRSA, ALB), the chart's own
values.schema.json refusing bad values, and the comparison with the community chart.
"""

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHART = os.path.join(REPO_ROOT, "roles", "mlflow_helm", "files", "chart")
CI_VALUES = os.path.join(CHART, "ci", "test-values.yaml")
BIN = os.path.dirname(sys.executable)
HELM = os.path.join(BIN, "helm")
KUBERNETES_VALIDATE = os.path.join(BIN, "kubernetes-validate")
# The version of the local control plane (tests/tools/k8s) and of the EKS clusters the platform targets.
KUBERNETES_VERSION = "1.34.0"
COMMUNITY = os.path.join(REPO_ROOT, "..", "shared", "reference", "mlflow-community-chart")


def _tool(path):
    if not os.path.exists(path):
        pytest.fail("%s is missing: run `make setup`" % path)
    return path


def helm(*args, check=True):
    proc = subprocess.run([_tool(HELM)] + list(args), capture_output=True, text=True, check=False, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError("helm %s failed:\n%s%s" % (" ".join(args), proc.stdout, proc.stderr))
    return proc


def render(*sets, values=None, namespace="mlflow"):
    argv = ["template", "mlflow", CHART, "--namespace", namespace, "-f", CI_VALUES]
    for extra in values or []:
        argv += ["-f", extra]
    for item in sets:
        argv += ["--set", item]
    return helm(*argv).stdout


def by_kind(manifest):
    docs = [doc for doc in yaml.safe_load_all(manifest) if doc]
    kinds = {}
    for doc in docs:
        assert doc["kind"] not in kinds, "two %s manifests" % doc["kind"]
        kinds[doc["kind"]] = doc
    return kinds


def container(kinds):
    return kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]


def env_of(cont):
    return {item["name"]: item for item in cont["env"]}


VARIANTS = {
    "ci-values": [],
    "no-ingress-one-replica": ["ingress.enabled=false", "replicaCount=1"],
    "nginx-ingress-tls": ["ingress.className=nginx", "ingress.tls[0].secretName=mlflow-tls",
                          "ingress.tls[0].hosts[0]=mlflow.example.com"],
    "client-side-artifacts": ["artifacts.serveArtifacts=false"],
    "metrics-prefix-digest": ["metrics.enabled=true", "server.staticPrefix=/mlflow",
                              "image.digest=sha256:" + "ab" * 32],
    "no-migration-no-pdb-no-sa": ["dbMigration.enabled=false", "podDisruptionBudget.enabled=false",
                                  "serviceAccount.create=false", "serviceAccount.name=existing"],
    "custom-command-job-runner": ["server.command[0]=mlflow", "server.jobExecution=true",
                                  "podDisruptionBudget.minAvailable=1"],
}


def test_helm_lint_strict():
    proc = helm("lint", "--strict", CHART, "-f", CI_VALUES)
    assert "0 chart(s) failed" in proc.stdout


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_rendered_manifests_are_valid_kubernetes(variant, tmp_path):
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(render(*VARIANTS[variant]))
    proc = subprocess.run([_tool(KUBERNETES_VALIDATE), "--strict", "-k", KUBERNETES_VERSION, "--quiet", str(manifest)],
                          capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_deployment_runs_the_server_as_the_issue_asks():
    kinds = by_kind(render())
    assert sorted(kinds) == ["Deployment", "Ingress", "Job", "Pod", "PodDisruptionBudget", "Service", "ServiceAccount"]
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    cont = container(kinds)
    env = env_of(cont)
    # The image's entrypoint runs `mlflow server` with these options.
    assert "command" not in cont
    assert cont["args"][0] == "server"
    args = cont["args"][1:]
    assert "--host=0.0.0.0" in args and "--port=5000" in args and "--workers=2" in args
    assert "--serve-artifacts" in args
    assert "--artifacts-destination=s3://mlops-mlflow-artifacts-123456789012/artifacts" in args
    assert "--default-artifact-root=mlflow-artifacts:/" in args
    # Idle connections outlive the ALB's 60 s idle timeout (no 502 on reuse).
    assert "--uvicorn-opts=--timeout-keep-alive=75" in args
    # --backend-store-uri through its environment variable, from the Secret, never literally.
    assert env["MLFLOW_BACKEND_STORE_URI"]["valueFrom"] == {
        "secretKeyRef": {"name": "mlflow-backend-store", "key": "uri"}}
    assert not any("postgresql" in a or "backend-store-uri" in a for a in args)
    assert env["AWS_REGION"]["value"] == "eu-west-1"
    assert env["MLFLOW_DISABLE_TELEMETRY"]["value"] == "true"
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"]["value"] == "false"
    # Probes on the health endpoint, through the named port.
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert cont[probe]["httpGet"] == {"path": "/health", "port": "http"}, probe
    # Non-root, read-only root filesystem with a writable /tmp, no service account token.
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the user of images/mlflow
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert cont["securityContext"]["readOnlyRootFilesystem"] is True
    assert cont["securityContext"]["allowPrivilegeEscalation"] is False
    assert cont["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "tmp", "mountPath": "/tmp"} in cont["volumeMounts"]
    assert pod["automountServiceAccountToken"] is False
    assert cont["resources"]["requests"] and cont["resources"]["limits"]["memory"]
    assert kinds["Deployment"]["spec"]["replicas"] == 2
    assert {c["topologyKey"] for c in pod["topologySpreadConstraints"]} == {
        "topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    assert kinds["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
    assert kinds["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == \
        kinds["Deployment"]["spec"]["selector"]["matchLabels"]
    service = kinds["Service"]["spec"]
    assert service["selector"] == kinds["Deployment"]["spec"]["selector"]["matchLabels"]
    assert service["ports"] == [{"name": "http", "port": 5000, "targetPort": "http", "protocol": "TCP",
                                 "appProtocol": "http"}]


def test_service_account_carries_the_irsa_role():
    sa = by_kind(render())["ServiceAccount"]
    assert sa["metadata"]["name"] == "mlflow"
    assert sa["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/mlops-mlflow",
        "eks.amazonaws.com/sts-regional-endpoints": "true"}
    assert sa["automountServiceAccountToken"] is False


def test_migration_runs_once_before_the_server_as_a_hook():
    job = by_kind(render())["Job"]
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    cont = job["spec"]["template"]["spec"]["containers"][0]
    assert cont["command"] == ["/bin/sh", "-c", 'exec mlflow db upgrade "$MLFLOW_BACKEND_STORE_URI"']
    assert env_of(cont)["MLFLOW_BACKEND_STORE_URI"]["valueFrom"]["secretKeyRef"]["name"] == "mlflow-backend-store"
    assert cont["securityContext"]["readOnlyRootFilesystem"] is True
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert "dbMigration" not in json.dumps(by_kind(render("dbMigration.enabled=false")).get("Job", {}))
    assert "Job" not in by_kind(render("dbMigration.enabled=false"))


def test_server_accepts_the_service_names_and_the_ingress_host():
    """mlflow >= 3.5 answers 403 to a Host it does not know; in-cluster clients use the Service names."""
    env = env_of(container(by_kind(render(namespace="ml"))))
    hosts = env["MLFLOW_SERVER_ALLOWED_HOSTS"]["value"].split(",")
    for host in ("mlflow", "mlflow.ml", "mlflow.ml.svc", "mlflow.ml.svc.cluster.local", "mlflow.ml.svc:5000",
                 "mlflow.ml.svc.cluster.local:5000", "localhost", "localhost:*", "mlflow.example.com", "10.*"):
        assert host in hosts, host
    assert env["MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"]["value"] == "https://mlflow.example.com"
    env = env_of(container(by_kind(render("ingress.enabled=false", "server.allowPrivateNetworks=false",
                                          "server.allowedHosts[0]=mlflow.internal.example"))))
    hosts = env["MLFLOW_SERVER_ALLOWED_HOSTS"]["value"].split(",")
    assert "mlflow.example.com" not in hosts and "10.*" not in hosts and "mlflow.internal.example" in hosts
    assert "MLFLOW_SERVER_CORS_ALLOWED_ORIGINS" not in env


def test_alb_ingress_by_default_other_classes_without_alb_annotations():
    ingress = by_kind(render())["Ingress"]
    annotations = ingress["metadata"]["annotations"]
    assert ingress["spec"]["ingressClassName"] == "alb"
    assert annotations["alb.ingress.kubernetes.io/scheme"] == "internal"
    assert annotations["alb.ingress.kubernetes.io/target-type"] == "ip"
    assert annotations["alb.ingress.kubernetes.io/healthcheck-path"] == "/health"
    assert annotations["alb.ingress.kubernetes.io/ssl-redirect"] == "443"
    assert annotations["alb.ingress.kubernetes.io/certificate-arn"].startswith("arn:aws:acm:")
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "mlflow.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": "mlflow", "port": {"name": "http"}}
    # User annotations win over the defaults.
    overridden = by_kind(render("ingress.annotations.alb\\.ingress\\.kubernetes\\.io/scheme=internet-facing"))
    assert overridden["Ingress"]["metadata"]["annotations"]["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    nginx = by_kind(render(*VARIANTS["nginx-ingress-tls"]))["Ingress"]
    assert nginx["spec"]["ingressClassName"] == "nginx"
    assert not any(k.startswith("alb.") for k in nginx["metadata"].get("annotations", {}))
    assert nginx["spec"]["tls"] == [{"secretName": "mlflow-tls", "hosts": ["mlflow.example.com"]}]


def test_variants_render_what_they_say():
    kinds = by_kind(render(*VARIANTS["client-side-artifacts"]))
    args = container(kinds)["args"]
    assert "--no-serve-artifacts" in args and "--serve-artifacts" not in args
    assert "--default-artifact-root=s3://mlops-mlflow-artifacts-123456789012/artifacts" in args
    kinds = by_kind(render(*VARIANTS["metrics-prefix-digest"]))
    cont = container(kinds)
    assert cont["image"].endswith("/mlops/mlflow@sha256:" + "ab" * 32)
    assert "--static-prefix=/mlflow" in cont["args"] and "--expose-prometheus=/tmp/prometheus-metrics" in cont["args"]
    assert cont["livenessProbe"]["httpGet"]["path"] == "/mlflow/health"
    assert kinds["Ingress"]["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/mlflow/"
    assert kinds["Deployment"]["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"] == "/mlflow/metrics"
    kinds = by_kind(render(*VARIANTS["no-migration-no-pdb-no-sa"]))
    assert {"Job", "PodDisruptionBudget", "ServiceAccount"}.isdisjoint(kinds)
    assert kinds["Deployment"]["spec"]["template"]["spec"]["serviceAccountName"] == "existing"
    kinds = by_kind(render(*VARIANTS["custom-command-job-runner"]))
    assert container(kinds)["command"] == ["mlflow"]
    assert env_of(container(kinds))["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"]["value"] == "true"
    assert kinds["PodDisruptionBudget"]["spec"] == {
        "minAvailable": 1, "unhealthyPodEvictionPolicy": "AlwaysAllow",
        "selector": kinds["PodDisruptionBudget"]["spec"]["selector"]}


BAD_VALUES = {
    "unknown top-level key": ("replicas=2", "additional properties 'replicas' not allowed"),
    "unknown nested key": ("server.workerCount=2", "additional properties 'workerCount' not allowed"),
    "zero replicas": ("replicaCount=0", "/replicaCount"),
    "workers not a number": ("server.workers=many", "/server/workers"),
    "artifacts not on S3": ("artifacts.destination=/var/mlflow", "/artifacts/destination"),
    "bad image digest": ("image.digest=sha256:1234", "/image/digest"),
    "image with a tag in the repository": ("image.repository=Registry/MLflow", "/image/repository"),
    "secret name not a DNS name": ("backendStore.existingSecret.name=Mlflow_Secret", "/backendStore/existingSecret/name"),
    "ingress without host": ("ingress.host=", "/ingress/host"),
    "unknown ALB scheme": ("ingress.alb.scheme=public", "/ingress/alb/scheme"),
    "root pods": ("podSecurityContext.runAsNonRoot=false", "/podSecurityContext/runAsNonRoot"),
    "privilege escalation": ("securityContext.allowPrivilegeEscalation=true", "/securityContext/allowPrivilegeEscalation"),
    "service type": ("service.type=ExternalName", "/service/type"),
    "role ARN": ("serviceAccount.roleArn=mlflow-role", "/serviceAccount/roleArn"),
    "static prefix with trailing slash": ("server.staticPrefix=/mlflow/", "/server/staticPrefix"),
    "CORS origin with a path": ("server.corsAllowedOrigins[0]=https://ui.example.com/app", "/server/corsAllowedOrigins/0"),
    "privileged port": ("server.port=80", "/server/port"),
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_schema_rejects_bad_values(case):
    setting, where = BAD_VALUES[case]
    proc = helm("template", "mlflow", CHART, "-f", CI_VALUES, "--set", setting, check=False)
    assert proc.returncode != 0, "%s was accepted" % setting
    assert "values don't meet the specifications of the schema" in proc.stderr, proc.stderr
    assert where in proc.stderr, proc.stderr


def test_schema_requires_image_secret_and_bucket():
    proc = helm("template", "mlflow", CHART, check=False)
    assert proc.returncode != 0
    for path in ("/image/repository", "/backendStore/existingSecret/name", "/artifacts/destination"):
        assert path in proc.stderr, proc.stderr


def test_schema_describes_every_value():
    """values.yaml and values.schema.json list the same keys, and every schema property is described."""
    with open(os.path.join(CHART, "values.yaml")) as handle:
        values = yaml.safe_load(handle)
    with open(os.path.join(CHART, "values.schema.json")) as handle:
        schema = json.load(handle)

    def walk(node, schema_node, path):
        props = schema_node.get("properties", {})
        for key, value in node.items():
            assert key in props, "%s%s is not in the schema" % (path, key)
            if isinstance(value, dict) and props[key].get("additionalProperties") is False:
                walk(value, props[key], path + key + ".")

    walk(values, schema, "")

    def described(schema_node, path):
        for key, prop in schema_node.get("properties", {}).items():
            assert "description" in prop or prop.get("type") == "object" or "$ref" in prop, path + key
            described(prop, path + key + ".")

    described(schema, "")
    # Every top-level value is documented by a comment in values.yaml.
    with open(os.path.join(CHART, "values.yaml")) as handle:
        lines = handle.read().splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"^([A-Za-z]\w*):", line)
        if match:
            previous = lines[index - 1].strip()
            assert previous.startswith("#") or lines[index - 1] == "" and lines[index - 2].strip().startswith("#"), \
                "values.yaml: %s has no comment" % match.group(1)


def test_app_version_is_the_image_mlflow():
    with open(os.path.join(CHART, "Chart.yaml")) as handle:
        chart = yaml.safe_load(handle)
    requirements = os.path.join(REPO_ROOT, "images", "mlflow", "requirements.txt")
    if not os.path.exists(requirements):
        pytest.fail("images/mlflow/requirements.txt is missing")
    with open(requirements) as handle:
        pins = dict(line.split("==", 1) for line in handle.read().split() if "==" in line)
    assert chart["appVersion"] == pins["mlflow"], "Chart.yaml appVersion must be the MLflow of images/mlflow"


# What a user of the community chart (community-charts/mlflow) configures, and where it lives
# here. Features this chart does not carry on purpose are listed with the reason.
COMMUNITY_EQUIVALENTS = {
    "replicaCount": "replicaCount",
    "image": "image",
    "imagePullSecrets": "imagePullSecrets",
    "strategy": "strategy",
    "revisionHistoryLimit": "revisionHistoryLimit",
    "nameOverride": "nameOverride",
    "fullnameOverride": "fullnameOverride",
    "serviceAccount": "serviceAccount",
    "podAnnotations": "podAnnotations",
    "extraPodLabels": "podLabels",
    "podSecurityContext": "podSecurityContext",
    "securityContext": "securityContext",
    "service": "service",
    "telemetry": "telemetry",
    "backendStore": "backendStore",
    "artifactRoot": "artifacts",
    "extraArgs": "server.extraArgs",
    "extraFlags": "server.extraArgs",
    "extraEnvVars": "server.extraEnv",
    "ingress": "ingress",
    "corsAllowedOrigins": "server.corsAllowedOrigins",
    "serverAllowedHosts": "server.allowedHosts",
    "serverHost": "server.host",
    "resources": "resources",
    "nodeSelector": "nodeSelector",
    "tolerations": "tolerations",
    "affinity": "affinity",
    "priorityClassName": "priorityClassName",
    "livenessProbe": "livenessProbe",
    "readinessProbe": "readinessProbe",
}
COMMUNITY_LEFT_OUT = {
    "initImages": "no busybox init containers: the migration is a Helm hook Job with the server image",
    "postgresql": "no in-cluster database: RDS (rds_metadata) holds the backend store",
    "mysql": "no in-cluster database: RDS (rds_metadata) holds the backend store",
    "minio": "artifacts are on S3 through IRSA",
    "log": "MLflow's own logging defaults",
    "flaskServerSecretKey": "no auth app in the server; access is controlled at the ALB / network",
    "auth": "no auth app in the server; access is controlled at the ALB / network",
    "ldapAuth": "no auth app in the server; access is controlled at the ALB / network",
    "oidcAuth": "no auth app in the server; access is controlled at the ALB / network",
    "oauth2Proxy": "no auth sidecar; access is controlled at the ALB / network",
    "autoscaling": "fixed replicas with a PodDisruptionBudget",
    "serviceMonitor": "metrics.enabled with prometheus.io annotations, no CRD dependency",
    "extraSecretNamesForEnvFrom": "server.extraEnv",
    "deploymentAnnotations": "podAnnotations",
    "extraDeploy": "the role owns the surrounding resources",
    "initContainers": "the migration Job",
    "extraContainers": "not needed",
    "extraVolumes": "/tmp is the only writable path the server needs",
    "extraVolumeMounts": "/tmp is the only writable path the server needs",
}


def test_covers_the_community_chart():
    path = os.path.join(COMMUNITY, "values.yaml")
    if not os.path.exists(path):
        pytest.fail("the reference chart is missing: %s (../shared/reference/)" % path)
    with open(path) as handle:
        community = yaml.safe_load(handle)
    with open(os.path.join(CHART, "values.schema.json")) as handle:
        ours = json.load(handle)
    unaccounted = set(community) - set(COMMUNITY_EQUIVALENTS) - set(COMMUNITY_LEFT_OUT)
    assert not unaccounted, "community chart values with no equivalent here: %s" % sorted(unaccounted)
    for theirs, mine in COMMUNITY_EQUIVALENTS.items():
        node = ours
        for part in mine.split("."):
            assert part in node["properties"], "%s (community %s) is missing" % (mine, theirs)
            node = node["properties"][part]
    # What the community chart's values lack entirely and this chart adds.
    for key in ("podDisruptionBudget", "startupProbe", "topologySpread", "dbMigration", "metrics", "tmpSizeLimit"):
        assert key not in community and key in ours["properties"], key
