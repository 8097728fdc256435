"""The local sandbox: emulated AWS (moto server) and a real Kubernetes control plane.

Everything listens on 127.0.0.1 only. State lives in one directory (``.sandbox/`` for
``make sandbox-up``, a temporary directory for the pytest fixtures):

    moto.pid moto.port moto.log        the moto server
    charts.pid charts.port charts.log  the offline chart mirror, when there is one
    cluster/state.json                 PIDs and ports of etcd, kube-apiserver, ...
    cluster/pki/  cluster/logs/        generated CA, certificates, per-process logs
    kubeconfig                         admin identity for the control plane
    env                                shell exports for tests, molecule and the sandbox inventory

``up`` is idempotent (a running part is reused), ``down`` stops exactly the processes that
``up`` recorded (a PID is only signalled while its command line still names the program we
started), and ``status`` exits 0 only while every started part answers.

The parts, one module each:

    processes.py      starting, recording, checking and stopping the servers
    aws.py            emulated AWS: moto's server, fake credentials, one region
    charts.py         the offline chart mirror served as a Helm chart repository
    pki.py            the control plane's CA, certificates and kubeconfigs
    control_plane.py  etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok
    nodes.py          the fake nodes kwok keeps Ready (three core nodes, one GPU node)
    stack.py          all of them in one state directory, and its env file
    cli.py            the command line: ``python -m sandbox up|down|status|env`` (tests/tools on
                      PYTHONPATH, as the Makefile sets it)

Tests and tools ``import sandbox`` and use the names below.
"""

from .aws import AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, MOTO_SERVER, Moto
from .charts import CHART_MIRROR, ChartMirror
from .cli import command, command_env, main
from .config import AWS_REGION, DEFAULT_DIR, REPO_ROOT, SERVICE_CIDR
from .control_plane import K8S_BUILD, SERVICE_ACCOUNT_ISSUER, Cluster
from .nodes import FAKE_NODES, GPU_RESOURCE
from .pki import PKI
from .processes import (SandboxError, free_port, http_ok, log, process_alive, read_text, spawn, stop_process, wait_for,
                        write_text)
from .stack import Sandbox

__all__ = [
    "AWS_ACCESS_KEY_ID", "AWS_REGION", "AWS_SECRET_ACCESS_KEY", "CHART_MIRROR", "DEFAULT_DIR", "FAKE_NODES", "GPU_RESOURCE",
    "K8S_BUILD", "MOTO_SERVER", "REPO_ROOT", "SERVICE_ACCOUNT_ISSUER", "SERVICE_CIDR",
    "PKI", "ChartMirror", "Cluster", "Moto", "Sandbox", "SandboxError",
    "command", "command_env", "free_port", "http_ok", "log", "main", "process_alive", "read_text", "spawn", "stop_process",
    "wait_for", "write_text",
]
