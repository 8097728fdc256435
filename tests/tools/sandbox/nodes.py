"""The cluster's nodes: fake nodes that kwok keeps Ready (no kubelet, no containers run)."""

import json
import subprocess

from .config import AWS_REGION

GPU_RESOURCE = "nvidia.com/gpu"

# Fake nodes managed by kwok: three core nodes across AZs (like the core managed node group)
# and one GPU node labelled and tainted the way the gpu_nodes role configures real ones.
FAKE_NODES = [
    {"name": "core-a", "zone": AWS_REGION + "a", "group": "core", "instance": "m6i.xlarge", "gpu": 0},
    {"name": "core-b", "zone": AWS_REGION + "b", "group": "core", "instance": "m6i.xlarge", "gpu": 0},
    {"name": "core-c", "zone": AWS_REGION + "c", "group": "core", "instance": "m6i.xlarge", "gpu": 0},
    {"name": "gpu-a", "zone": AWS_REGION + "a", "group": "gpu", "instance": "g5.xlarge", "gpu": 1},
]


def kwok_args(kubeconfig, port):
    """kwok's command line: it manages only the nodes annotated as fake, so nothing else is touched."""
    return [
        "--kubeconfig=" + kubeconfig,
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        "--disregard-status-with-annotation-selector=kwok.x-k8s.io/status=custom",
        "--cidr=10.244.0.0/16", "--node-ip=10.0.0.1",
        "--node-lease-duration-seconds=40",
        "--server-address=127.0.0.1:%d" % port,
    ]


def node_list():
    """FAKE_NODES as one v1 List of Node objects, for ``kubectl apply``."""
    items = []
    for node in FAKE_NODES:
        labels = {
            "kubernetes.io/hostname": node["name"], "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "type": "kwok", "topology.kubernetes.io/zone": node["zone"],
            "topology.kubernetes.io/region": AWS_REGION,
            "node.kubernetes.io/instance-type": node["instance"],
            "eks.amazonaws.com/nodegroup": node["group"],
        }
        capacity = {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"}
        taints = []
        if node["gpu"]:
            labels[GPU_RESOURCE] = "true"
            capacity[GPU_RESOURCE] = str(node["gpu"])
            taints.append({"key": GPU_RESOURCE, "value": "true", "effect": "NoSchedule"})
        items.append({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": node["name"], "labels": labels,
                         "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"}},
            "spec": {"taints": taints},
            "status": {"capacity": capacity, "allocatable": capacity},
        })
    return {"apiVersion": "v1", "kind": "List", "items": items}


def nodes_ready(kubectl, kubeconfig):
    """True once every fake node is Ready and the default service account exists."""
    nodes = subprocess.run([kubectl, "--kubeconfig", kubeconfig, "get", "nodes", "-o", "json"],
                           check=False, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if nodes.returncode != 0:
        return False
    ready_nodes = [n for n in json.loads(nodes.stdout)["items"]
                   if any(c["type"] == "Ready" and c["status"] == "True" for c in n.get("status", {}).get("conditions", []))]
    if len(ready_nodes) < len(FAKE_NODES):
        return False
    # Pods are only admitted once the controller-manager has made the default service account.
    account = subprocess.run([kubectl, "--kubeconfig", kubeconfig, "get", "serviceaccount", "default",
                              "-n", "default", "-o", "name"], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return account.returncode == 0
