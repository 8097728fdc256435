"""The Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler
and kwok, the upstream binaries (built once by tests/tools/k8s/build.sh), on 127.0.0.1."""

import json
import os
import shutil
import ssl
import subprocess
import sys
import time

from .config import REPO_ROOT, SERVICE_CIDR
from .nodes import kwok_args, node_list, nodes_ready
from .pki import PKI
from .processes import SandboxError, free_port, http_ok, log, process_alive, read_text, spawn, stop_process, wait_for, write_text

K8S_BUILD = os.path.join(REPO_ROOT, "tests", "tools", "k8s", "build.sh")
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"


class Cluster:
    """etcd + kube-apiserver + kube-controller-manager + kube-scheduler + kwok, on 127.0.0.1."""

    components = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")

    def __init__(self, root):
        self.root = root
        self.dir = os.path.join(root, "cluster")
        self.state_file = os.path.join(self.dir, "state.json")
        self.kubeconfig_path = os.path.join(root, "kubeconfig")
        self.pki = PKI(os.path.join(self.dir, "pki"))
        self.logs = os.path.join(self.dir, "logs")

    def state(self):
        text = read_text(self.state_file)
        return json.loads(text) if text else None

    def running(self):
        state = self.state()
        if not state:
            return False
        return all(process_alive(p["pid"], p["program"]) for p in state["processes"].values())

    def _tls_context(self):
        ctx = ssl.create_default_context(cafile=self.pki.path("ca.crt"))
        ctx.load_cert_chain(self.pki.path("admin.crt"), self.pki.path("admin.key"))
        return ctx

    def answers(self):
        state = self.state()
        return bool(state) and self.running() and http_ok(state["server"] + "/readyz", self._tls_context())

    @staticmethod
    def binaries():
        if not os.path.exists(K8S_BUILD):
            raise SandboxError("missing %s" % K8S_BUILD)
        proc = subprocess.run(["bash", K8S_BUILD], check=False, stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise SandboxError("building the control plane failed (see messages above)")
        return proc.stdout.strip().splitlines()[-1]

    @staticmethod
    def kubectl():
        found = shutil.which("kubectl", path=os.path.dirname(sys.executable))
        if not found:
            raise SandboxError("kubectl not found next to %s: run `make setup`" % sys.executable)
        return found

    def kubectl_run(self, *args, stdin=None):
        proc = subprocess.run([self.kubectl(), "--kubeconfig", self.kubeconfig_path] + list(args),
                              input=stdin, text=True, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            raise SandboxError("kubectl %s failed: %s" % (" ".join(args), proc.stdout.strip()))
        return proc.stdout

    def up(self, timeout=120):
        if self.answers():
            log("control plane already running at %s" % self.state()["server"])
            return
        self.down(quiet=True)
        started = time.time()
        bindir = self.binaries()
        os.makedirs(self.logs, exist_ok=True)
        self.pki.ensure()
        p = self.pki.path
        etcd_port, etcd_peer, api_port = free_port(), free_port(), free_port()
        server = "https://127.0.0.1:%d" % api_port
        for identity in ("controller-manager", "scheduler", "kwok"):
            write_text(os.path.join(self.dir, identity + ".kubeconfig"), self.pki.kubeconfig(server, identity), mode=0o600)
        write_text(self.kubeconfig_path, self.pki.kubeconfig(server, "admin", inline=True), mode=0o600)

        def kc(identity):
            return os.path.join(self.dir, identity + ".kubeconfig")

        service_ip_range = SERVICE_CIDR

        commands = {
            "etcd": [
                "--name=sandbox", "--data-dir=" + os.path.join(self.dir, "etcd-data"),
                "--listen-client-urls=http://127.0.0.1:%d" % etcd_port,
                "--advertise-client-urls=http://127.0.0.1:%d" % etcd_port,
                "--listen-peer-urls=http://127.0.0.1:%d" % etcd_peer,
                "--initial-advertise-peer-urls=http://127.0.0.1:%d" % etcd_peer,
                "--initial-cluster=sandbox=http://127.0.0.1:%d" % etcd_peer,
                "--unsafe-no-fsync=true", "--quota-backend-bytes=2147483648",
            ],
            "kube-apiserver": [
                "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port=%d" % api_port,
                "--etcd-servers=http://127.0.0.1:%d" % etcd_port,
                "--tls-cert-file=" + p("apiserver.crt"), "--tls-private-key-file=" + p("apiserver.key"),
                "--client-ca-file=" + p("ca.crt"),
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",
                "--service-account-issuer=" + SERVICE_ACCOUNT_ISSUER,
                "--service-account-key-file=" + p("sa.pub"),
                "--service-account-signing-key-file=" + p("sa.key"),
                "--service-cluster-ip-range=" + service_ip_range,
                "--allow-privileged=true", "--profiling=false", "--v=1",
            ],
            "kube-controller-manager": [
                "--kubeconfig=" + kc("controller-manager"),
                "--authentication-kubeconfig=" + kc("controller-manager"),
                "--authorization-kubeconfig=" + kc("controller-manager"),
                "--bind-address=127.0.0.1", "--secure-port=0", "--leader-elect=false",
                "--service-account-private-key-file=" + p("sa.key"), "--root-ca-file=" + p("ca.crt"),
                "--use-service-account-credentials=true",
                "--cluster-signing-cert-file=" + p("ca.crt"), "--cluster-signing-key-file=" + p("ca.key"),
                "--service-cluster-ip-range=" + service_ip_range,
                "--profiling=false", "--v=1",
            ],
            "kube-scheduler": [
                "--kubeconfig=" + kc("scheduler"),
                "--authentication-kubeconfig=" + kc("scheduler"),
                "--authorization-kubeconfig=" + kc("scheduler"),
                "--bind-address=127.0.0.1", "--secure-port=0", "--leader-elect=false",
                "--profiling=false", "--v=1",
            ],
            "kwok": kwok_args(kc("kwok"), free_port()),
        }
        state = {"server": server, "bin": bindir, "ports": {"etcd": etcd_port, "apiserver": api_port}, "processes": {}}
        try:
            self._start(state, commands, timeout)
        except BaseException:
            # Leave nothing half-started behind: stop what this call launched.
            self.down(quiet=True)
            raise
        log("control plane up at %s in %.1fs (kubeconfig %s)" % (server, time.time() - started, self.kubeconfig_path))

    def _start(self, state, commands, timeout):
        server = state["server"]
        bindir = state["bin"]
        etcd_port = state["ports"]["etcd"]
        for name in self.components:
            program = os.path.join(bindir, name)
            logfile = os.path.join(self.logs, name + ".log")
            pid = spawn([program] + commands[name], logfile)
            state["processes"][name] = {"pid": pid, "program": program, "log": logfile}
            write_text(self.state_file, json.dumps(state, indent=2) + "\n")
            if name == "etcd":
                wait_for(lambda: http_ok("http://127.0.0.1:%d/health" % etcd_port), "etcd", timeout, logfile, pid, program)
            elif name == "kube-apiserver":
                ctx = self._tls_context()
                wait_for(lambda: http_ok(server + "/readyz", ctx), "kube-apiserver", timeout, logfile, pid, program)
        self._create_nodes()
        self._wait_ready(timeout)

    def _create_nodes(self):
        self.kubectl_run("apply", "-f", "-", stdin=json.dumps(node_list()))

    def _wait_ready(self, timeout):
        kubectl = self.kubectl()
        wait_for(lambda: nodes_ready(kubectl, self.kubeconfig_path), "fake nodes and the default service account",
                 max(1, timeout), os.path.join(self.logs, "kwok.log"))

    def down(self, quiet=False):
        state = self.state()
        stopped = []
        if state:
            # Reverse order: clients first, etcd last.
            for name in reversed(self.components):
                proc = state["processes"].get(name)
                if proc and stop_process(proc["pid"], proc["program"]):
                    stopped.append(name)
            os.unlink(self.state_file)
        if os.path.exists(self.dir):
            shutil.rmtree(os.path.join(self.dir, "etcd-data"), ignore_errors=True)
        if os.path.exists(self.kubeconfig_path):
            os.unlink(self.kubeconfig_path)
        if not quiet:
            log("control plane stopped (%s)" % ", ".join(stopped) if stopped else "control plane was not running")

    def env(self):
        return {"KUBECONFIG": self.kubeconfig_path}
