"""The MLflow server as the chart and the image run it, against real PostgreSQL and S3 (moto).

The local control plane only pretends to run containers, so the server itself is proven
here: MLflow from the image's own pinned requirements (images/mlflow/requirements.txt and
constraints.txt) in a cached virtualenv, started through the image's entrypoint
(images/mlflow/entrypoint.sh) with exactly the arguments and environment the chart renders
for the Deployment, after the chart's migration command (``mlflow db upgrade``) ran against
an empty PostgreSQL database. Only what cannot be the same outside a pod differs: the port,
the bind address, /tmp, the database URI (the Secret's value) and the moto S3 endpoint.

The client has no AWS credentials at all: it logs a run (parameter, metric, artifact, model),
registers a model version, sets an alias and reads everything back, so the artifacts must
go through the server (--serve-artifacts) into the bucket.

The virtualenv lives in ~/.cache/mlops-eks-platform/mlflow-venv-<sha of the pins>/ and is
built once per set of pins (a few minutes on 2 cores), under a file lock.
"""

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import yaml

from mlflow_pg import MlflowPostgres, free_port

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGE_DIR = os.path.join(REPO_ROOT, "images", "mlflow")
CHART = os.path.join(REPO_ROOT, "roles", "mlflow_helm", "files", "chart")
CACHE_ROOT = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mlops-eks-platform")
HELM = os.path.join(os.path.dirname(sys.executable), "helm")

BUCKET = "mlops-mlflow-artifacts-123456789012"
RELEASE, NAMESPACE = "mlflow", "mlflow"

pytestmark = pytest.mark.aws


def _pins():
    """The image's pinned requirements (and constraints): what the venv is built from."""
    files = [os.path.join(IMAGE_DIR, name) for name in ("requirements.txt", "constraints.txt")]
    if not os.path.isfile(files[0]):
        pytest.fail("images/mlflow/requirements.txt is missing: the MLflow image defines the server's pins")
    return [path for path in files if os.path.isfile(path)]


def ensure_mlflow_venv(log=print):
    """Create (once per set of pins) and return the virtualenv with the image's MLflow."""
    digest = hashlib.sha256()
    for path in _pins():
        with open(path, "rb") as handle:
            digest.update(os.path.basename(path).encode() + b"\0" + handle.read() + b"\0")
    venv = os.path.join(CACHE_ROOT, "mlflow-venv-%s" % digest.hexdigest()[:16])
    done = os.path.join(venv, ".complete")
    if os.path.exists(done):
        return venv
    os.makedirs(CACHE_ROOT, exist_ok=True)
    with open(os.path.join(CACHE_ROOT, "mlflow-venv.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(done):
            return venv
        # Built in place (a venv is not relocatable) under the lock; a half-built one from
        # an interrupted run has no .complete marker and is started over.
        shutil.rmtree(venv, ignore_errors=True)
        started = time.time()
        subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=300)
        argv = [os.path.join(venv, "bin", "pip"), "install", "--disable-pip-version-check", "-q",
                "-r", os.path.join(IMAGE_DIR, "requirements.txt")]
        if os.path.isfile(os.path.join(IMAGE_DIR, "constraints.txt")):
            argv += ["-c", os.path.join(IMAGE_DIR, "constraints.txt")]
        proc = subprocess.run(argv, check=False, timeout=1800, capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.fail("installing the MLflow image's requirements failed:\n%s%s"
                        % (proc.stdout[-3000:], proc.stderr[-3000:]))
        with open(done, "w") as handle:
            handle.write("built in %.0f s from %s\n" % (time.time() - started, ", ".join(_pins())))
        log("mlflow venv built in %.0f s: %s" % (time.time() - started, venv))
        # Venvs of earlier pins are not used again.
        for name in os.listdir(CACHE_ROOT):
            old = os.path.join(CACHE_ROOT, name)
            if name.startswith("mlflow-venv-") and old != venv and os.path.isdir(old):
                shutil.rmtree(old, ignore_errors=True)
    return venv


@pytest.fixture(scope="module")
def mlflow_venv():
    return ensure_mlflow_venv(log=lambda msg: print(msg, file=sys.stderr))


@pytest.fixture(scope="module")
def postgres():
    server = MlflowPostgres().start()
    yield server
    server.stop()


def _render_chart(run_cmd, ansible_env, destination):
    """The manifests the chart renders for the release, by kind."""
    proc = run_cmd([HELM, "template", RELEASE, CHART, "--namespace", NAMESPACE,
                    "-f", os.path.join(CHART, "ci", "test-values.yaml"),
                    "--set", "artifacts.destination=" + destination], ansible_env)
    docs = [doc for doc in yaml.safe_load_all(proc.stdout) if doc]
    return {doc["kind"]: doc for doc in docs}


def _env_of(container, overrides):
    """The container's environment as the kubelet would set it, with ``overrides`` for what
    comes from elsewhere in a pod (the Secret's value) or cannot be the same here."""
    env = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            assert item["name"] in overrides, "no stand-in for %s (from %s)" % (item["name"], item["valueFrom"])
    env.update(overrides)
    return env


def _http(url, host=None, method="GET", origin=None, body=None):
    request = urllib.request.Request(url, method=method, data=body)
    if host:
        request.add_header("Host", host)
    if origin:
        request.add_header("Origin", origin)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


CLIENT = r'''
import json, os, sys, tempfile

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow import MlflowClient


class Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [2 * x for x in model_input["x"]]


mlflow.set_experiment("platform-ci")
with mlflow.start_run() as run:
    mlflow.log_param("alpha", "0.5")
    mlflow.log_metric("rmse", 0.25, step=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "notes.txt")
        with open(path, "w") as handle:
            handle.write("artifacts through the tracking server")
        mlflow.log_artifact(path, artifact_path="docs")
    model_info = mlflow.pyfunc.log_model(name="model", python_model=Doubler(), pip_requirements=["mlflow"])

client = MlflowClient()
version = mlflow.register_model(model_info.model_uri, "platform-ci-model")
client.set_registered_model_alias("platform-ci-model", "champion", version.version)

# Read everything back through the server.
read = client.get_run(run.info.run_id)
by_alias = client.get_model_version_by_alias("platform-ci-model", "champion")
model = mlflow.pyfunc.load_model("models:/platform-ci-model@champion")
notes_path = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="docs/notes.txt")
with open(notes_path) as handle:
    notes = handle.read()
print(json.dumps({
    "run_id": run.info.run_id,
    "artifact_uri": read.info.artifact_uri,
    "params": read.data.params,
    "metrics": read.data.metrics,
    "metric_history": [[m.step, m.value] for m in client.get_metric_history(run.info.run_id, "rmse")],
    "run_artifacts": sorted(a.path for a in client.list_artifacts(run.info.run_id)),
    "notes": notes,
    "version": version.version,
    "alias_version": by_alias.version,
    "alias_aliases": list(by_alias.aliases),
    "alias_source": by_alias.source,
    "registered": [m.name for m in client.search_registered_models()],
    "prediction": list(model.predict(pd.DataFrame({"x": [1, 2, 3]}))),
}))
'''


def test_mlflow_server_as_the_chart_runs_it(mlflow_venv, postgres, aws, run_cmd, ansible_env, tmp_path):
    # The artifact bucket the way the role creates it: its own KMS key, SSE-KMS, versioning.
    s3, kms = aws.client("s3"), aws.client("kms")
    key = kms.create_key(Description="mlflow artifacts")["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": aws.region})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
         "BucketKeyEnabled": True}]})

    manifests = _render_chart(run_cmd, ansible_env, "s3://%s/artifacts" % BUCKET)
    server = manifests["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    migration = manifests["Job"]["spec"]["template"]["spec"]["containers"][0]
    assert "command" not in server, "the server must start through the image's entrypoint"

    venv_bin = os.path.join(mlflow_venv, "bin")
    home = tmp_path / "tmp"
    home.mkdir()
    port = free_port()
    base = {"PATH": venv_bin + os.pathsep + "/usr/bin:/bin", "LANG": "C.UTF-8"}
    # What the pod gets besides the rendered env: the Secret's value, and (from the IRSA
    # webhook on EKS) AWS credentials, which are moto's here, with moto's S3 endpoint.
    pod_env = dict(base, MLFLOW_BACKEND_STORE_URI=postgres.uri, HOME=str(home), TMPDIR=str(home),
                   AWS_ACCESS_KEY_ID=aws.env["AWS_ACCESS_KEY_ID"], AWS_SECRET_ACCESS_KEY=aws.env["AWS_SECRET_ACCESS_KEY"],
                   MLFLOW_S3_ENDPOINT_URL=aws.endpoint)

    started = time.time()
    # 1. The migration Job's command against the empty database.
    env = _env_of(migration, pod_env)
    proc = subprocess.run(migration["command"] + migration.get("args", []), env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    if "No module named 'psycopg'" in proc.stderr:
        pytest.fail("the image cannot open the postgresql:// URI that rds_metadata stores: SQLAlchemy 2.1 picks "
                    "psycopg (3) for postgresql://, and images/mlflow installs only psycopg2. Add psycopg[binary] "
                    "to images/mlflow/requirements.txt (or store postgresql+psycopg2:// URIs).")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert postgres.psql("SELECT count(*) FROM alembic_version", database="mlflow").strip() == "1"
    print("migration done after %.1f s" % (time.time() - started), file=sys.stderr)

    # 2. The server through the image's entrypoint with the Deployment's arguments; only the
    # listen address differs (127.0.0.1 and a free port instead of 0.0.0.0:5000).
    args = [a for a in server["args"] if not a.startswith(("--host=", "--port="))]
    args[1:1] = ["--host=127.0.0.1", "--port=%d" % port]
    assert args[0] == "server" and "--serve-artifacts" in args
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["sh", os.path.join(IMAGE_DIR, "entrypoint.sh")] + args,
                                env=_env_of(server, pod_env), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    base_url = "http://127.0.0.1:%d" % port
    try:
        deadline = time.time() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail("mlflow server exited with %s:\n%s" % (proc.returncode, log_path.read_text()[-4000:]))
            try:
                if _http(base_url + "/health")[0] == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                pytest.fail("mlflow server did not answer /health:\n%s" % log_path.read_text()[-4000:])
            time.sleep(1)

        print("server healthy after %.1f s" % (time.time() - started), file=sys.stderr)
        # 3. A client with no AWS credentials at all: artifacts must go through the server.
        client_env = dict(base, HOME=str(home), TMPDIR=str(home), MLFLOW_TRACKING_URI=base_url,
                          AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
                          MLFLOW_DISABLE_TELEMETRY="true")
        client = subprocess.run([os.path.join(venv_bin, "python"), "-c", CLIENT], env=client_env,
                                capture_output=True, text=True, timeout=600, check=False)
        assert client.returncode == 0, client.stdout[-3000:] + client.stderr[-4000:] + log_path.read_text()[-3000:]
        result = json.loads(client.stdout.strip().splitlines()[-1])
        print("client done after %.1f s" % (time.time() - started), file=sys.stderr)
        assert result["params"] == {"alpha": "0.5"}
        assert result["metrics"] == {"rmse": 0.25}
        assert result["metric_history"] == [[1, 0.25]]
        assert result["artifact_uri"].startswith("mlflow-artifacts:/"), result["artifact_uri"]
        assert "docs" in result["run_artifacts"]
        assert result["notes"] == "artifacts through the tracking server"
        assert result["version"] == result["alias_version"] == "1"
        assert result["alias_aliases"] == ["champion"]
        assert result["registered"] == ["platform-ci-model"]
        assert result["prediction"] == [2, 4, 6]

        # 4. The artifacts are in the bucket under the chart's destination prefix, encrypted
        # with the bucket key, and the database holds the registry.
        keys = [obj["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
                for obj in page.get("Contents", [])]
        assert keys and all(k.startswith("artifacts/") for k in keys), keys
        notes_key = [k for k in keys if k.endswith("/docs/notes.txt")]
        assert len(notes_key) == 1 and result["run_id"] in notes_key[0], keys
        assert any(k.endswith("/MLmodel") for k in keys), keys
        head = s3.head_object(Bucket=BUCKET, Key=notes_key[0])
        assert head["ServerSideEncryption"] == "aws:kms"
        assert postgres.psql("SELECT name FROM registered_models", database="mlflow").split() == ["platform-ci-model"]
        assert postgres.psql("SELECT alias, version FROM registered_model_aliases", database="mlflow").split() \
            == ["champion|1"]

        # The chart's `helm test` script, pointed at this server instead of the Service name.
        test_pod = manifests["Pod"]["spec"]["containers"][0]
        script = test_pod["command"][2].replace("http://%s.%s.svc:5000" % (RELEASE, NAMESPACE), base_url)
        assert base_url in script
        check = subprocess.run([os.path.join(venv_bin, "python"), "-c", script], env=client_env,
                               capture_output=True, text=True, timeout=120, check=False)
        assert check.returncode == 0, check.stdout + check.stderr

        # 5. The Host and Origin checks the chart configures: in-cluster Service names and the
        # ingress host pass, anything else is refused (health stays open for probes).
        search = "/api/2.0/mlflow/experiments/search?max_results=1"
        for host in ("mlflow.mlflow.svc.cluster.local:5000", "mlflow.mlflow.svc:5000", "mlflow:5000",
                     "mlflow.example.com", "10.1.2.3:5000"):
            assert _http(base_url + search, host=host)[0] == 200, host
        assert _http(base_url + search, host="attacker.example.net")[0] == 403
        assert _http(base_url + "/health", host="attacker.example.net")[0] == 200
        create = "/api/2.0/mlflow/experiments/create"
        same_origin = _http(base_url + create, method="POST", origin="https://mlflow.example.com",
                            body=json.dumps({"name": "from-the-ui"}).encode())
        assert same_origin[0] == 200, same_origin
        cross_site = _http(base_url + create, method="POST", origin="https://attacker.example.net",
                           body=json.dumps({"name": "cross-site"}).encode())
        assert cross_site[0] == 403, cross_site
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait(timeout=30)
