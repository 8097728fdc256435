"""The local control plane is a real Kubernetes: real API server, scheduler, controllers.

Each test states a behaviour a role relies on and checks it against the running binaries.
"""

import json
import textwrap
import time

import pytest

from role_constants import GPU_LABEL, GPU_NODE_SELECTOR, GPU_RESOURCE, GPU_TAINT, GPU_TOLERATION

pytestmark = pytest.mark.k8s


def kjson(kube, *args, **kwargs):
    return json.loads(kube.kubectl(*args, "-o", "json", **kwargs).stdout)


def wait_until(predicate, what, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


def test_server_is_the_pinned_release(kube_cluster):
    version = json.loads(kube_cluster.kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == "v1.34.4"


def test_fake_nodes_are_ready_and_gpu_node_is_tainted(kube_cluster):
    nodes = {n["metadata"]["name"]: n for n in kjson(kube_cluster, "get", "nodes")["items"]}
    assert sorted(nodes) == ["core-a", "core-b", "core-c", "gpu-a"]
    for node in nodes.values():
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True", node["metadata"]["name"]
    zones = {nodes[n]["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in ("core-a", "core-b", "core-c")}
    assert len(zones) == 3
    gpu = nodes["gpu-a"]
    # Labelled and tainted the way the gpu_nodes role configures real GPU nodes.
    assert GPU_LABEL.items() <= gpu["metadata"]["labels"].items()
    assert GPU_TAINT in gpu["spec"]["taints"]
    assert gpu["status"]["allocatable"][GPU_RESOURCE] == "1"
    assert GPU_RESOURCE not in nodes["core-a"]["status"]["allocatable"]


def test_rbac_and_service_account_tokens_are_enforced(kube_cluster):
    # RBAC is on: the default service account may not read secrets.
    denied = kube_cluster.kubectl("auth", "can-i", "list", "secrets", "--as=system:serviceaccount:default:default", check=False)
    assert denied.stdout.strip() == "no"
    allowed = kube_cluster.kubectl("auth", "can-i", "list", "secrets")
    assert allowed.stdout.strip() == "yes"
    # Tokens are signed by the API server (what IRSA-style projected tokens need).
    token = kube_cluster.kubectl("create", "token", "default", "--audience=sts.amazonaws.com").stdout.strip()
    assert token.count(".") == 2
    review = kjson(kube_cluster, "create", "-f", "-", input=json.dumps({
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
        "spec": {"token": token, "audiences": ["sts.amazonaws.com"]}}))
    assert review["status"]["authenticated"] is True
    assert review["status"]["user"]["username"] == "system:serviceaccount:default:default"


def test_server_side_dry_run_rejects_an_invalid_object(kube_cluster):
    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bad", "namespace": "default"},
           "spec": {"replicas": -1, "selector": {"matchLabels": {"app": "x"}},
                    "template": {"metadata": {"labels": {"app": "y"}},
                                 "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    proc = kube_cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(bad), check=False)
    assert proc.returncode != 0
    assert "is invalid" in proc.stdout
    assert "spec.replicas" in proc.stdout and "selector" in proc.stdout
    good = dict(bad, spec=dict(bad["spec"], replicas=1, template={"metadata": {"labels": {"app": "x"}},
                                                                  "spec": bad["spec"]["template"]["spec"]}))
    kube_cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(good))
    assert kube_cluster.kubectl("get", "deployment", "bad", "-n", "default", check=False).returncode != 0


def _pod(name, gpu=False, tolerate=False):
    spec = {"containers": [{"name": "main", "image": "busybox",
                            "resources": {"requests": {"cpu": "100m"}, "limits": {}}}]}
    if gpu:
        spec["containers"][0]["resources"]["limits"][GPU_RESOURCE] = "1"
    if tolerate:
        spec["tolerations"] = [dict(GPU_TOLERATION)]
        spec["nodeSelector"] = dict(GPU_NODE_SELECTOR)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "sched"}, "spec": spec}


def test_scheduler_honours_gpu_taint_toleration_and_extended_resource(kube_cluster):
    kube_cluster.kubectl("create", "namespace", "sched")
    try:
        pods = [_pod("trainer", gpu=True, tolerate=True), _pod("untolerated", gpu=True), _pod("web")]
        kube_cluster.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": pods}))

        def phase(name):
            return kjson(kube_cluster, "get", "pod", name, "-n", "sched")

        def running(name):
            pod = phase(name)
            return pod if pod["status"].get("phase") == "Running" else None

        trainer = wait_until(lambda: running("trainer"), "the GPU pod to run")
        assert trainer["spec"]["nodeName"] == "gpu-a"
        web = wait_until(lambda: running("web"), "the plain pod to run")
        assert web["spec"]["nodeName"].startswith("core-")

        def unschedulable():
            pod = phase("untolerated")
            conds = [c for c in pod["status"].get("conditions", []) if c["type"] == "PodScheduled"]
            return pod if conds and conds[0]["status"] == "False" and conds[0]["reason"] == "Unschedulable" else None

        pod = wait_until(unschedulable, "the scheduler to refuse the pod without the toleration")
        assert "nodeName" not in pod["spec"]
        message = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"][0]["message"]
        assert "untolerated taint" in message and "Insufficient %s" % GPU_RESOURCE in message
    finally:
        kube_cluster.kubectl("delete", "namespace", "sched", "--wait=true", "--timeout=90s")
    # The namespace controller finalised it (and garbage-collected its pods).
    assert kube_cluster.kubectl("get", "namespace", "sched", check=False).returncode != 0


CHART = {
    "Chart.yaml": """
        apiVersion: v2
        name: smoke
        version: 0.1.0
        """,
    "templates/deployment.yaml": """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ .Release.Name }}-web
        spec:
          replicas: 2
          selector:
            matchLabels: {app: {{ .Release.Name }}-web}
          template:
            metadata:
              labels: {app: {{ .Release.Name }}-web}
            spec:
              securityContext: {runAsNonRoot: true, runAsUser: 1000}
              containers:
                - name: web
                  image: nginx
                  resources: {requests: {cpu: 50m, memory: 32Mi}}
        """,
    "templates/service.yaml": """
        apiVersion: v1
        kind: Service
        metadata:
          name: {{ .Release.Name }}-web
        spec:
          selector: {app: {{ .Release.Name }}-web}
          ports: [{port: 80, targetPort: 8080}]
        """,
    "templates/job.yaml": """
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: {{ .Release.Name }}-migrate
        spec:
          backoffLimit: 0
          template:
            spec:
              restartPolicy: Never
              containers:
                - name: migrate
                  image: busybox
                  resources: {requests: {cpu: 50m, memory: 16Mi}}
        """,
}


def test_helm_install_waits_for_deployment_and_job_then_uninstall_cleans_up(kube_cluster, tmp_path):
    for name, text in CHART.items():
        path = tmp_path / "smoke" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    kube_cluster.helm("install", "smoke", str(tmp_path / "smoke"), "--namespace", "helm-smoke", "--create-namespace",
                      "--wait", "--wait-for-jobs", "--timeout", "120s")
    deploy = kjson(kube_cluster, "get", "deployment", "smoke-web", "-n", "helm-smoke")
    assert deploy["status"]["availableReplicas"] == 2
    job = kjson(kube_cluster, "get", "job", "smoke-migrate", "-n", "helm-smoke")
    assert job["status"]["succeeded"] == 1
    service = kjson(kube_cluster, "get", "service", "smoke-web", "-n", "helm-smoke")
    assert service["spec"]["clusterIP"].startswith("10.96.")
    releases = json.loads(kube_cluster.helm("list", "-n", "helm-smoke", "-o", "json").stdout)
    assert [(r["name"], r["status"]) for r in releases] == [("smoke", "deployed")]

    kube_cluster.helm("uninstall", "smoke", "--namespace", "helm-smoke", "--wait", "--timeout", "120s")
    left = kjson(kube_cluster, "get", "deployments,services,jobs,secrets", "-n", "helm-smoke")["items"]
    assert [i["metadata"]["name"] for i in left] == []
    # Garbage collection removes the ReplicaSets and pods the Deployment owned.
    wait_until(lambda: not kjson(kube_cluster, "get", "replicasets,pods", "-n", "helm-smoke")["items"],
               "garbage collection of the release's pods")
    kube_cluster.kubectl("delete", "namespace", "helm-smoke", "--wait=true", "--timeout=90s")
