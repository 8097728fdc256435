# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The example DAG (examples/dags/) as Airflow itself loads it, and its pods as Kubernetes takes them.

Airflow 3.1.7 with the cncf.kubernetes provider the platform's Airflow image pins, in a
virtualenv of its own (tests/tools/airflow-venv.sh builds it once per set of pins, under
~/.cache/mlops-eks-platform/): Airflow's DagBag parses the folder git-sync delivers, and the
KubernetesPodOperator builds each step's pod from the rendered templates (the Airflow
Variable and the XCom of the step before stand in for a run's). Then:

* the DAG imports without errors and runs preprocess -> train -> evaluate -> quality_gate -> register;
* only the train pod asks for a GPU and tolerates the GPU nodes' taint; every pod runs as the
  trainer image's unprivileged user;
* each pod's arguments are a valid command line of the trainer (its own argument parser);
* the local control plane accepts the pods and its scheduler puts train on the GPU node and
  the other steps on core nodes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from role_constants import GPU_NODE_SELECTOR, GPU_RESOURCE, GPU_TOLERATION

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DAGS = os.path.join(REPO_ROOT, "examples", "dags")
TRAINER = os.path.join(REPO_ROOT, "images", "trainer")
DAG_ID = "mlops_training_pipeline"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops/trainer:ctx-0123456789abcdef01234567"

# Runs inside the Airflow venv; prints one JSON object.
LOAD = r'''
import copy, json, sys, time

started = time.time()
from airflow.models.dagbag import DagBag
from kubernetes.client import ApiClient

from trainer.__main__ import parse

dagbag = DagBag(dag_folder=sys.argv[1], include_examples=False)
out = {"import_errors": {k: str(v) for k, v in dagbag.import_errors.items()}, "dag_ids": sorted(dagbag.dag_ids),
       "load_seconds": round(time.time() - started, 1)}
dag = dagbag.dags.get(sys.argv[2])
if dag is None:
    print(json.dumps(out))
    sys.exit(0)


class TaskInstance:
    """Stands in for a run's task instance: each step's XCom is a result with a run id."""

    def xcom_pull(self, task_ids=None, key="return_value"):
        return {"run_id": "run-of-" + task_ids}


def context(variables, **params):
    return {"params": dict(dag.params.dump(), **params), "var": {"value": variables}, "ti": TaskInstance()}


def pod_of(task, ctx):
    task = copy.deepcopy(task)  # rendering replaces the templates in place
    task.render_template_fields(ctx)
    return ApiClient().sanitize_for_serialization(task.build_pod_request_obj())


image = sys.argv[3]
out["schedule"] = str(dag.timetable.summary)
out["params"] = dag.params.dump()
out["order"] = [t.task_id for t in dag.topological_sort()]
out["edges"] = sorted([up, t.task_id] for t in dag.tasks for up in t.upstream_task_ids)
out["operators"] = {t.task_id: type(t).__name__ for t in dag.tasks}
out["pods"], out["cli"] = {}, {}
for task in dag.tasks:
    if type(task).__name__ != "KubernetesPodOperator":
        continue
    pod = pod_of(task, context({"mlops_trainer_image": image}))
    out["pods"][task.task_id] = pod
    out["cli"][task.task_id] = vars(parse(pod["spec"]["containers"][0]["args"]))

# Settings: the run's params win over the Variables, which win over the defaults.
variables = {"mlops_trainer_image": image, "mlops_mlflow_tracking_uri": "http://mlflow.other:5000"}
env = pod_of(dag.get_task("evaluate"), context(variables))["spec"]["containers"][0]["env"]
out["variable_uri"] = [e["value"] for e in env if e["name"] == "MLFLOW_TRACKING_URI"]
overridden = pod_of(dag.get_task("evaluate"), context(variables, trainer_image="registry.example/trainer:x",
                                                      mlflow_tracking_uri="http://from-params:5000"))
out["param_image"] = overridden["spec"]["containers"][0]["image"]
out["param_uri"] = [e["value"] for e in overridden["spec"]["containers"][0]["env"] if e["name"] == "MLFLOW_TRACKING_URI"]
try:
    pod_of(dag.get_task("preprocess"), context({}))
    out["no_image_error"] = None
except Exception as error:
    out["no_image_error"] = "%s: %s" % (type(error).__name__, error)

gate = dag.get_task("quality_gate")
verdict = {"scores": {"accuracy": 0.4}, "min_accuracy": 0.9, "champion_version": "1", "reason": "below"}
out["gate"] = [gate.python_callable(dict(verdict, passed=True)), gate.python_callable(dict(verdict, passed=False))]
out["gate_ignores_downstream_trigger_rules"] = gate.ignore_downstream_trigger_rules
print(json.dumps(out))
'''

KUBECONFIG_STUB = """apiVersion: v1
kind: Config
clusters: [{name: stub, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: stub, user: {token: stub}}]
contexts: [{name: stub, context: {cluster: stub, user: stub, namespace: mlops-example}}]
current-context: stub
"""


@pytest.fixture(scope="module")
def airflow_venv():
    started = time.time()
    proc = subprocess.run(["bash", os.path.join(REPO_ROOT, "tests", "tools", "airflow-venv.sh")], capture_output=True,
                          text=True, timeout=1800, check=False)
    if proc.returncode != 0:
        pytest.fail("tests/tools/airflow-venv.sh failed:\n%s%s" % (proc.stdout[-3000:], proc.stderr[-3000:]))
    print("airflow venv ready after %.0f s:\n%s" % (time.time() - started, proc.stderr), file=sys.stderr)
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def loaded(airflow_venv, tmp_path_factory):
    """What Airflow made of examples/dags/ (see LOAD)."""
    home = tmp_path_factory.mktemp("airflow-home")
    (home / "kubeconfig").write_text(KUBECONFIG_STUB)
    env = {
        "PATH": os.path.join(airflow_venv, "bin") + os.pathsep + "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # The KubernetesPodOperator asks its connection for the namespace and the XCom sidecar;
        # the stub kubeconfig is never contacted (building a pod needs no API call).
        "AIRFLOW_CONN_KUBERNETES_DEFAULT": json.dumps({"conn_type": "kubernetes",
                                                       "extra": {"in_cluster": False, "namespace": "mlops-example"}}),
        "KUBECONFIG": str(home / "kubeconfig"),
        "PYTHONPATH": TRAINER,
    }
    started = time.time()
    proc = subprocess.run([os.path.join(airflow_venv, "bin", "python"), "-c", LOAD, DAGS, DAG_ID, IMAGE], env=env,
                          cwd=str(home), capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print("DagBag loaded in %s s, everything in %.1f s" % (result["load_seconds"], time.time() - started),
          file=sys.stderr)
    return result


def test_the_dag_imports_without_errors(loaded):
    assert loaded["import_errors"] == {}
    assert loaded["dag_ids"] == [DAG_ID]


def test_the_steps_run_in_order(loaded):
    assert loaded["order"] == ["preprocess", "train", "evaluate", "quality_gate", "register"]
    assert loaded["edges"] == [["evaluate", "quality_gate"], ["preprocess", "train"], ["quality_gate", "register"],
                               ["train", "evaluate"]]
    assert loaded["operators"] == {"preprocess": "KubernetesPodOperator", "train": "KubernetesPodOperator",
                                   "evaluate": "KubernetesPodOperator", "register": "KubernetesPodOperator",
                                   "quality_gate": "_ShortCircuitDecoratedOperator"}
    assert loaded["schedule"] == "None"
    assert loaded["params"]["min_accuracy"] == 0.9 and loaded["params"]["alias"] == "champion"


def test_the_quality_gate_stops_the_run_before_register(loaded):
    assert loaded["gate"] == [True, False]
    # A refused model skips register, whatever trigger rule a task added after it has.
    assert loaded["gate_ignores_downstream_trigger_rules"] is True


def test_only_the_train_pod_asks_for_a_gpu(loaded):
    pods = loaded["pods"]
    assert sorted(pods) == ["evaluate", "preprocess", "register", "train"]
    train = pods["train"]["spec"]
    # What the gpu_nodes role gives GPU nodes (roles/gpu_nodes/vars/main.yml).
    assert train["nodeSelector"] == GPU_NODE_SELECTOR
    assert GPU_TOLERATION in train["tolerations"]
    resources = train["containers"][0]["resources"]
    assert resources["requests"][GPU_RESOURCE] == "1" and resources["limits"][GPU_RESOURCE] == "1"
    assert resources["requests"]["cpu"] and resources["requests"]["memory"]
    for step in ("preprocess", "evaluate", "register"):
        spec = pods[step]["spec"]
        assert not spec.get("nodeSelector") and not spec.get("tolerations"), step
        base = spec["containers"][0]
        assert GPU_RESOURCE not in str(base["resources"]), step
        assert base["resources"]["requests"]["cpu"] and base["resources"]["requests"]["memory"], step


def test_every_pod_runs_the_trainer_unprivileged(loaded):
    for step, pod in loaded["pods"].items():
        spec = pod["spec"]
        base = spec["containers"][0]
        assert base["image"] == IMAGE, step
        env = {e["name"]: e["value"] for e in base["env"]}
        assert env["MLFLOW_TRACKING_URI"] == "http://mlflow.mlflow.svc:5000", step
        assert env["MLFLOW_EXPERIMENT_NAME"] == "mlops-example" and env["MODEL_NAME"] == "wine-classifier", step
        security = spec["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] == 10001, step
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}, step
        container = base["securityContext"]
        assert container["allowPrivilegeEscalation"] is False and container["capabilities"] == {"drop": ["ALL"]}, step
        assert container["readOnlyRootFilesystem"] is True, step
        assert {m["mountPath"] for m in base["volumeMounts"]} >= {"/tmp", "/home/trainer", "/airflow/xcom"}, step
        assert spec["automountServiceAccountToken"] is False, step
        # The KubernetesPodOperator reads the step's result from its XCom sidecar.
        assert [c["name"] for c in spec["containers"]] == ["base", "airflow-xcom-sidecar"], step


def test_pod_arguments_are_trainer_command_lines(loaded):
    cli = loaded["cli"]
    assert {step: args["step"] for step, args in cli.items()} == {
        "preprocess": "preprocess", "train": "train", "evaluate": "evaluate", "register": "register"}
    assert all(args["xcom"] for args in cli.values())
    assert cli["preprocess"]["dataset"] == "wine" and cli["preprocess"]["train_fraction"] == 1.0
    # Each step works on the run the step before logged (its XCom).
    assert cli["train"]["data_run_id"] == "run-of-preprocess"
    assert cli["train"]["c"] == 1.0 and cli["train"]["max_iter"] == 1000
    assert cli["evaluate"]["run_id"] == cli["register"]["run_id"] == "run-of-train"
    assert cli["evaluate"]["min_accuracy"] == cli["register"]["min_accuracy"] == 0.9
    assert cli["register"]["alias"] == "champion" and cli["register"]["model_name"] == "wine-classifier"


def test_settings_come_from_params_then_variables(loaded):
    assert loaded["variable_uri"] == ["http://mlflow.other:5000"]
    assert loaded["param_image"] == "registry.example/trainer:x"
    assert loaded["param_uri"] == ["http://from-params:5000"]
    # No image anywhere: the task fails with a message that says what to set.
    assert loaded["no_image_error"] and "mlops_trainer_image" in loaded["no_image_error"]


@pytest.mark.k8s
def test_the_scheduler_puts_train_on_the_gpu_node(loaded, kube_cluster):
    namespace = "mlops-example"
    kube_cluster.kubectl("create", "namespace", namespace)
    try:
        pods = [dict(pod, metadata=dict(pod["metadata"], namespace=namespace)) for pod in loaded["pods"].values()]
        document = json.dumps({"apiVersion": "v1", "kind": "List", "items": pods})
        deadline = time.time() + 60
        while True:  # the namespace's default ServiceAccount appears a moment after the namespace
            proc = kube_cluster.kubectl("create", "-f", "-", input=document, check=False)
            if proc.returncode == 0:
                break
            assert "serviceaccount" in proc.stdout.lower() and time.time() < deadline, proc.stdout
            kube_cluster.kubectl("delete", "pods", "--all", "-n", namespace, "--wait=true", check=False)
            time.sleep(1)
        names = {pod["metadata"]["labels"]["mlops.eks-platform/step"]: pod["metadata"]["name"] for pod in pods}
        deadline = time.time() + 120
        while True:
            listed = json.loads(kube_cluster.kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)["items"]
            nodes = {p["metadata"]["labels"]["mlops.eks-platform/step"]: p["spec"].get("nodeName") for p in listed
                     if p["metadata"]["name"] in names.values()}
            if len(nodes) == 4 and all(nodes.values()):
                break
            assert time.time() < deadline, "not all pods were scheduled: %s" % nodes
            time.sleep(1)
        assert nodes["train"] == "gpu-a"
        assert all(nodes[step].startswith("core-") for step in ("preprocess", "evaluate", "register")), nodes
    finally:
        kube_cluster.kubectl("delete", "namespace", namespace, "--wait=false")
