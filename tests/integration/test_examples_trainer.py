# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The example pipeline's steps (images/trainer) through their real command line, against a real MLflow server.

The server is MLflow 3.17.2 started through the MLflow image's entrypoint
(images/mlflow/entrypoint.sh) from the cached virtualenv that test_mlflow_server.py builds from
the image's pins (``ensure_mlflow_venv``), with a SQLite backend store and proxied artifacts
(--serve-artifacts) in a temporary directory. That venv holds the same scikit-learn, pandas,
numpy, scipy and skops as the trainer image (checked below), so ``python -m trainer`` runs
there with the image's code and versions. The client never touches the artifact directory:
data and models go through the server, as between the pipeline's pods.

What is proven, with the registry read back over MLflow's REST API (not the trainer's code):

* a good model (accuracy 1.0 on wine) passes evaluate, becomes version 1 and gets the alias
  ``champion``; a retried register returns that version instead of registering another;
* a poor model (C=0.0001: so much regularisation that it predicts the majority class,
  accuracy 0.4) is logged by train but refused by the gate: evaluate says why, register exits 3
  with ``registered: false`` and the reason, no version is created and the alias stays on 1.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from mlflow_pg import free_port
from test_mlflow_server import ensure_mlflow_venv

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAINER = os.path.join(REPO_ROOT, "images", "trainer")
ENTRYPOINT = os.path.join(REPO_ROOT, "images", "mlflow", "entrypoint.sh")
MODEL = "wine-classifier"
# Packages of the trainer image that the MLflow venv must hold at the same versions.
SHARED = ("mlflow-skinny", "scikit-learn", "pandas", "numpy", "scipy", "skops")


def _get(url, endpoint, **query):
    with urllib.request.urlopen("%s%s?%s" % (url, endpoint, urllib.parse.urlencode(query)), timeout=30) as answer:
        return json.load(answer)


@pytest.fixture(scope="module")
def venv():
    path = ensure_mlflow_venv(log=lambda msg: print(msg, file=sys.stderr))
    with open(os.path.join(TRAINER, "constraints.txt")) as handle:
        image = dict(line.strip().split("==") for line in handle if "==" in line and not line.startswith("#"))
    proc = subprocess.run([os.path.join(path, "bin", "python"), "-c",
                           "import json, sys\nfrom importlib.metadata import version\n"
                           "print(json.dumps({n: version(n) for n in sys.argv[1:]}))"] + list(SHARED),
                          capture_output=True, text=True, timeout=120, check=True)
    installed = json.loads(proc.stdout)
    assert installed == {name: image[name] for name in SHARED}, \
        "the MLflow venv and images/trainer/constraints.txt disagree: keep their shared pins equal"
    return path


@pytest.fixture(scope="module")
def server(venv, tmp_path_factory):
    """The MLflow server as the image's entrypoint starts it; yields its URL."""
    work = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    env = {"PATH": os.path.join(venv, "bin") + os.pathsep + "/usr/bin:/bin", "LANG": "C.UTF-8",
           "HOME": str(work), "TMPDIR": str(work),
           "MLFLOW_BACKEND_STORE_URI": "sqlite:///%s" % (work / "mlflow.db"),
           "MLFLOW_ARTIFACTS_DESTINATION": str(work / "artifacts"),
           "MLFLOW_HOST": "127.0.0.1", "MLFLOW_PORT": str(port), "MLFLOW_WORKERS": "1",
           # As the chart runs it (values.yaml: the job runner's seven extra processes are off).
           "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log_path = work / "server.log"
    started = time.time()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["sh", ENTRYPOINT, "server"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = "http://127.0.0.1:%d" % port
    try:
        deadline = time.time() + 300
        while True:
            if proc.poll() is not None:
                pytest.fail("mlflow server exited with %s:\n%s" % (proc.returncode, log_path.read_text()[-4000:]))
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                pytest.fail("mlflow server did not answer /health:\n%s" % log_path.read_text()[-4000:])
            time.sleep(1)
        print("mlflow server healthy after %.1f s" % (time.time() - started), file=sys.stderr)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait(timeout=30)


@pytest.fixture(scope="module")
def trainer(venv, server, tmp_path_factory):
    """``trainer(*args, expect=0)`` runs ``python -m trainer`` and returns its JSON result."""
    work = tmp_path_factory.mktemp("trainer")
    env = {"PATH": os.path.join(venv, "bin") + os.pathsep + "/usr/bin:/bin", "LANG": "C.UTF-8",
           "HOME": str(work), "TMPDIR": str(work), "PYTHONPATH": TRAINER, "MLFLOW_TRACKING_URI": server,
           "GIT_PYTHON_REFRESH": "quiet", "MLFLOW_DISABLE_TELEMETRY": "true",
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
           "TRAINER_XCOM_FILE": str(work / "xcom" / "return.json")}

    def run(*args, expect=0):
        started = time.time()
        proc = subprocess.run([os.path.join(venv, "bin", "python"), "-m", "trainer"] + list(args), env=env,
                              cwd=str(work), capture_output=True, text=True, timeout=600, check=False)
        print("trainer %s: exit %d after %.1f s" % (args[0], proc.returncode, time.time() - started), file=sys.stderr)
        assert proc.returncode == expect, "trainer %s exited %d:\n%s\n%s" % (
            " ".join(args), proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        if "--xcom" in args:
            assert json.loads((work / "xcom" / "return.json").read_text()) == result
        return result, proc.stderr

    return run


def _registry(url):
    versions = _get(url, "/api/2.0/mlflow/model-versions/search", filter="name='%s'" % MODEL)
    model = _get(url, "/api/2.0/mlflow/registered-models/get", name=MODEL)["registered_model"]
    return (sorted((v["version"], v["run_id"]) for v in versions.get("model_versions", [])),
            {a["alias"]: a["version"] for a in model.get("aliases", [])})


def test_good_model_is_registered_and_poor_model_is_refused(trainer, server):
    # 1. A good model: train prepares the data itself (a preprocess run), logs the model and
    # registers nothing until the gate passed.
    good, dummy = trainer("train", "--dataset", "wine")
    assert good["step"] == "train" and good["data_run_id"] and good["model_uri"].startswith("models:/")
    with pytest.raises(urllib.error.HTTPError):
        _get(server, "/api/2.0/mlflow/registered-models/get", name=MODEL)
    data_run = _get(server, "/api/2.0/mlflow/runs/get", run_id=good["data_run_id"])["run"]
    assert {t["key"]: t["value"] for t in data_run["data"]["tags"]}["pipeline.step"] == "preprocess"
    artifacts = _get(server, "/api/2.0/mlflow/artifacts/list", run_id=good["data_run_id"], path="data")
    assert sorted(f["path"] for f in artifacts["files"]) == ["data/test.csv", "data/train.csv"]

    verdict, dummy = trainer("evaluate", "--run-id", good["run_id"], "--model-name", MODEL, "--min-accuracy", "0.9")
    assert verdict["passed"] is True and verdict["scores"]["accuracy"] == 1.0, verdict
    assert verdict["champion_version"] is None

    registered, dummy = trainer("register", "--run-id", good["run_id"], "--model-name", MODEL,
                                "--min-accuracy", "0.9", "--xcom")
    assert registered["registered"] is True and registered["promoted"] is True, registered
    assert registered["model_version"] == "1" and registered["alias"] == "champion"
    assert _registry(server) == ([("1", good["run_id"])], {"champion": "1"})
    version = _get(server, "/api/2.0/mlflow/model-versions/get", name=MODEL, version="1")["model_version"]
    assert {t["key"]: t["value"] for t in version["tags"]}["validation_status"] == "passed"
    assert version["status"] == "READY"

    # 2. A poor model on the same data: over-regularised, it predicts the majority class.
    poor, dummy = trainer("train", "--data-run-id", good["data_run_id"], "--c", "0.0001")
    assert poor["data_run_id"] == good["data_run_id"]
    verdict, dummy = trainer("evaluate", "--run-id", poor["run_id"], "--model-name", MODEL, "--min-accuracy", "0.9")
    assert verdict["passed"] is False and verdict["scores"]["accuracy"] < 0.5, verdict
    assert re.match(r"accuracy 0\.\d+ is below the threshold 0\.9000$", verdict["reason"]), verdict["reason"]
    # The champion (version 1, loaded from the registry) was scored on the same rows.
    assert verdict["champion_version"] == "1" and verdict["champion_scores"]["accuracy"] == 1.0

    refused, stderr = trainer("register", "--run-id", poor["run_id"], "--model-name", MODEL,
                              "--min-accuracy", "0.9", "--xcom", expect=3)
    assert refused["registered"] is False and refused["promoted"] is False and refused["model_version"] is None
    assert refused["reason"] == verdict["reason"] and refused["previous_version"] == "1"
    assert "not registered: accuracy" in stderr
    # Nothing new in the registry, the alias did not move.
    assert _registry(server) == ([("1", good["run_id"])], {"champion": "1"})

    # 3. A retried register (an Airflow retry) does not create a second version.
    again, dummy = trainer("register", "--run-id", good["run_id"], "--model-name", MODEL, "--min-accuracy", "0.9")
    assert again["registered"] is True and again["model_version"] == "1"
    assert again["reason"] == "already registered as version 1"
    assert _registry(server) == ([("1", good["run_id"])], {"champion": "1"})
