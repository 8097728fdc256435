"""The platform's example MLOps pipeline: preprocess -> train on a GPU node -> evaluate -> register.

Every step runs the trainer image (images/trainer, ``python -m trainer <step>``) in a pod of its
own through the KubernetesPodOperator; the pods share nothing but MLflow, where each step
logs a run and which the next step reads by run id (passed along as XCom):

* ``preprocess`` splits and checks the data and logs both halves as artifacts;
* ``train`` fits the model on a GPU node (the taint toleration, node selector and
  ``nvidia.com/gpu`` request of the ``gpu_nodes`` role) and logs it, without registering it;
* ``evaluate`` scores it and the current champion on the held-out half;
* ``quality_gate`` lets the run continue only when the model reached ``min_accuracy`` and is
  not worse than the champion; otherwise ``register`` is skipped and the registry is untouched;
* ``register`` creates the registered model version and points the alias (``champion``) at it.
  MLflow's model stages are deprecated; an alias is how a version is promoted. ``register``
  checks the gate again itself and exits 3 (task failed) rather than register a model that
  did not pass.

Settings, each from the run's parameters (trigger with config), else an Airflow Variable, else
a default: ``trainer_image`` (Variable ``mlops_trainer_image``, required: the image that
playbooks/images.yml pushed to ECR) and ``mlflow_tracking_uri`` (Variable
``mlops_mlflow_tracking_uri``, default the in-cluster Service that mlflow_helm publishes).
See examples/README.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk import Param, dag, task
from kubernetes.client import models as k8s

DAG_ID = "mlops_training_pipeline"
# mlflow_helm_info.tracking_uri: http://<release>.<namespace>.svc:<port> of the MLflow chart.
DEFAULT_MLFLOW_TRACKING_URI = "http://mlflow.mlflow.svc:5000"
TRAINER_UID = 10001  # the trainer image's user (images/trainer/Dockerfile)
# The gpu_nodes role labels every GPU node nvidia.com/gpu=true and taints it
# nvidia.com/gpu=true:NoSchedule; the NVIDIA device plugin advertises nvidia.com/gpu.
GPU_RESOURCE = "nvidia.com/gpu"
GPU_NODE_SELECTOR = {"nvidia.com/gpu": "true"}
GPU_TOLERATIONS = [k8s.V1Toleration(key="nvidia.com/gpu", operator="Equal", value="true", effect="NoSchedule")]


def required(value, message):
    """Template helper: fail the task with ``message`` when a setting is empty."""
    if value is None or str(value).strip() in ("", "None"):
        raise ValueError(message)
    return value


TRAINER_IMAGE = (
    "{{ required(params.trainer_image or var.value.get('mlops_trainer_image', ''), "
    "'no trainer image: set the Airflow Variable mlops_trainer_image to the image playbooks/images.yml "
    "pushed (images_info.trainer.image_digest_uri), or pass trainer_image in the run configuration') }}"
)
MLFLOW_TRACKING_URI = (
    "{{ params.mlflow_tracking_uri or var.value.get('mlops_mlflow_tracking_uri', '%s') }}" % DEFAULT_MLFLOW_TRACKING_URI
)


def xcom(task_id, key):
    """Template of a field of a pod step's JSON result (its XCom)."""
    return "{{ ti.xcom_pull(task_ids='%s')['%s'] }}" % (task_id, key)


def trainer_pod(task_id, arguments, resources, **kwargs):
    """A pod running ``python -m trainer <arguments> --xcom`` as the image's unprivileged user."""
    scratch = [("tmp", "/tmp"), ("home", "/home/trainer")]  # writable; the root filesystem is read-only
    return KubernetesPodOperator(
        task_id=task_id,
        name="mlops-%s" % task_id.replace("_", "-"),
        image=TRAINER_IMAGE,
        image_pull_policy="IfNotPresent",
        arguments=arguments + ["--xcom"],
        env_vars={
            "MLFLOW_TRACKING_URI": MLFLOW_TRACKING_URI,
            "MLFLOW_EXPERIMENT_NAME": "{{ params.experiment }}",
            "MODEL_NAME": "{{ params.model_name }}",
        },
        labels={"app.kubernetes.io/name": "mlops-trainer", "app.kubernetes.io/part-of": "mlops-example",
                "mlops.eks-platform/step": task_id.replace("_", "-")},
        container_resources=resources,
        security_context=k8s.V1PodSecurityContext(
            run_as_non_root=True, run_as_user=TRAINER_UID, run_as_group=TRAINER_UID, fs_group=TRAINER_UID,
            seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault")),
        container_security_context=k8s.V1SecurityContext(
            allow_privilege_escalation=False, read_only_root_filesystem=True, privileged=False,
            capabilities=k8s.V1Capabilities(drop=["ALL"])),
        volumes=[k8s.V1Volume(name=name, empty_dir=k8s.V1EmptyDirVolumeSource(size_limit="2Gi"))
                 for name, dummy in scratch],
        volume_mounts=[k8s.V1VolumeMount(name=name, mount_path=path) for name, path in scratch],
        # The steps talk to MLflow over HTTP only: no Kubernetes API token in the pod.
        automount_service_account_token=False,
        do_xcom_push=True,
        get_logs=True,
        log_events_on_failure=True,
        # Keep a failed pod for `kubectl logs/describe`; delete the ones that worked.
        on_finish_action="delete_succeeded_pod",
        **kwargs,
    )


def cpu(cpu_request, memory):
    return k8s.V1ResourceRequirements(requests={"cpu": cpu_request, "memory": memory}, limits={"memory": memory})


@dag(
    dag_id=DAG_ID,
    description="preprocess -> train on a GPU node -> evaluate -> register in MLflow above a quality threshold",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["mlops", "mlflow", "gpu", "example"],
    default_args={"owner": "mlops", "retries": 1, "retry_delay": timedelta(minutes=2)},
    user_defined_macros={"required": required},
    params={
        "dataset": Param("wine", enum=["wine", "breast_cancer", "iris"], description="scikit-learn dataset"),
        "seed": Param(42, type="integer"),
        "test_size": Param(0.25, type="number", exclusiveMinimum=0, exclusiveMaximum=1),
        "train_fraction": Param(1.0, type="number", exclusiveMinimum=0, maximum=1,
                                description="share of the training split to train on"),
        "c": Param(1.0, type="number", exclusiveMinimum=0, description="inverse regularisation strength"),
        "max_iter": Param(1000, type="integer", minimum=1),
        "min_accuracy": Param(0.9, type="number", minimum=0, maximum=1,
                              description="quality gate: lowest test accuracy that is registered"),
        "model_name": Param("wine-classifier", type="string", minLength=1),
        "alias": Param("champion", type="string", pattern="^[A-Za-z][A-Za-z0-9_-]*$",
                       description="the alias the registered version gets"),
        "experiment": Param("mlops-example", type="string", minLength=1),
        "trainer_image": Param("", type="string",
                               description="overrides the Airflow Variable mlops_trainer_image"),
        "mlflow_tracking_uri": Param("", type="string",
                                     description="overrides the Variable mlops_mlflow_tracking_uri"),
    },
    doc_md=__doc__,
)
def mlops_training_pipeline():
    preprocess = trainer_pod(
        "preprocess",
        ["preprocess", "--dataset", "{{ params.dataset }}", "--seed", "{{ params.seed }}",
         "--test-size", "{{ params.test_size }}", "--train-fraction", "{{ params.train_fraction }}"],
        cpu("250m", "1Gi"),
    )
    train = trainer_pod(
        "train",
        ["train", "--data-run-id", xcom("preprocess", "run_id"), "--c", "{{ params.c }}",
         "--max-iter", "{{ params.max_iter }}", "--seed", "{{ params.seed }}"],
        k8s.V1ResourceRequirements(requests={"cpu": "1", "memory": "4Gi", GPU_RESOURCE: "1"},
                                   limits={"memory": "8Gi", GPU_RESOURCE: "1"}),
        node_selector=GPU_NODE_SELECTOR,
        tolerations=GPU_TOLERATIONS,
        # GPU node groups scale from zero: give the autoscaler time to bring a node up.
        startup_timeout_seconds=1200,
    )
    evaluate = trainer_pod(
        "evaluate",
        ["evaluate", "--run-id", xcom("train", "run_id"), "--model-name", "{{ params.model_name }}",
         "--min-accuracy", "{{ params.min_accuracy }}"],
        cpu("250m", "1Gi"),
    )
    register = trainer_pod(
        "register",
        ["register", "--run-id", xcom("train", "run_id"), "--model-name", "{{ params.model_name }}",
         "--min-accuracy", "{{ params.min_accuracy }}", "--alias", "{{ params.alias }}"],
        cpu("100m", "512Mi"),
    )

    @task.short_circuit(ignore_downstream_trigger_rules=True)
    def quality_gate(evaluation: dict) -> bool:
        """Continue to ``register`` only when ``evaluate`` found the model good enough."""
        print("quality gate: %s (accuracy %s, threshold %s, champion version %s)" % (
            "passed" if evaluation["passed"] else "refused", evaluation["scores"]["accuracy"],
            evaluation["min_accuracy"], evaluation["champion_version"]))
        print("reason: %s" % evaluation["reason"])
        return bool(evaluation["passed"])

    gate = quality_gate(evaluate.output)
    preprocess >> train >> evaluate
    gate >> register


mlops_training_pipeline()
