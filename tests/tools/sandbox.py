"""The local sandbox: emulated AWS (moto server) and a real Kubernetes control plane.

Everything listens on 127.0.0.1 only. State lives in one directory (``.sandbox/`` for
``make sandbox-up``, a temporary directory for the pytest fixtures):

    moto.pid moto.port moto.log        the moto server
    cluster/state.json                 PIDs and ports of etcd, kube-apiserver, ...
    cluster/pki/  cluster/logs/        generated CA, certificates, per-process logs
    kubeconfig                         admin identity for the control plane
    env                                shell exports for tests, molecule and the sandbox inventory

``up`` is idempotent (a running part is reused), ``down`` stops exactly the processes that
``up`` recorded (a PID is only signalled while its command line still names the program we
started), and ``status`` exits 0 only while every started part answers.
"""

import argparse
import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_DIR = os.path.join(REPO_ROOT, ".sandbox")
K8S_BUILD = os.path.join(REPO_ROOT, "tests", "tools", "k8s", "build.sh")
MOTO_SERVER = os.path.join(REPO_ROOT, "tests", "tools", "moto_server.py")
# The offline mirror of unmodified upstream Helm charts beside the checkout (a chart
# repository: index.yaml with relative URLs). A clone without it uses the upstream repositories.
CHART_MIRROR = os.environ.get("MLOPS_CHART_MIRROR") or os.path.join(os.path.dirname(REPO_ROOT), "shared", "charts")

AWS_REGION = "eu-west-1"
# Fake credentials: moto accepts anything; these make accidental use against real AWS fail.
AWS_ACCESS_KEY_ID = "AKIAMOTOSANDBOX00000"
AWS_SECRET_ACCESS_KEY = "moto-sandbox-secret-not-a-real-key"

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
GPU_RESOURCE = "nvidia.com/gpu"

# Fake nodes managed by kwok: three core nodes across AZs (like the core managed node group)
# and one GPU node labelled and tainted the way the gpu_nodes role configures real ones.
FAKE_NODES = [
    {"name": "core-a", "zone": AWS_REGION + "a", "group": "core", "instance": "m6i.xlarge", "gpu": 0},
    {"name": "core-b", "zone": AWS_REGION + "b", "group": "core", "instance": "m6i.xlarge", "gpu": 0},
    {"name": "core-c", "zone": AWS_REGION + "c", "group": "core", "instance": "m6i.xlarge", "gpu": 0},
    {"name": "gpu-a", "zone": AWS_REGION + "a", "group": "gpu", "instance": "g5.xlarge", "gpu": 1},
]


class SandboxError(Exception):
    pass


def log(msg):
    print("sandbox: " + msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_text(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return None


def write_text(path, text, mode=0o644):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def process_alive(pid, program):
    """True while PID runs and its command line still names PROGRAM (guards against PID reuse)."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            if handle.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                return False
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, ValueError, IndexError):
        return False
    # A process caught between fork and exec shows an empty command line for a moment.
    return program in cmdline or cmdline == ""


def stop_process(pid, program, timeout=15):
    if not process_alive(pid, program):
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not process_alive(pid, program):
            return True
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return True


def spawn(argv, logfile, env=None):
    """Start a long-running process in its own session so it outlives the caller."""
    out = open(logfile, "wb")
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, env=env, close_fds=True,
        )
    finally:
        out.close()
    return proc.pid


def wait_for(check, what, timeout, logfile=None, pid=None, program=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        if pid is not None and not process_alive(pid, program):
            break
        time.sleep(0.2)
    tail = ""
    if logfile and os.path.exists(logfile):
        with open(logfile, errors="replace") as handle:
            tail = "".join(handle.readlines()[-25:])
    raise SandboxError("%s did not become ready within %ss%s" % (what, timeout, ("; log tail:\n" + tail) if tail else ""))


def http_ok(url, context=None, timeout=2):
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as resp:
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return False


# --------------------------------------------------------------------------------------------
# Emulated AWS
# --------------------------------------------------------------------------------------------

class _RecordedProcess:
    """A server that ``up`` started and recorded in the state directory (``<name>.pid``,
    ``<name>.port``, ``<name>.log``), so that ``down`` stops exactly that process."""

    program = None
    name = None

    def __init__(self, root):
        self.root = root
        self.pid_file = os.path.join(root, self.name + ".pid")
        self.port_file = os.path.join(root, self.name + ".port")
        self.log_file = os.path.join(root, self.name + ".log")

    @property
    def pid(self):
        value = read_text(self.pid_file)
        return int(value) if value else None

    @property
    def port(self):
        value = read_text(self.port_file)
        return int(value) if value else None

    def running(self):
        return self.pid is not None and process_alive(self.pid, self.program)

    def _record(self, pid, port):
        write_text(self.pid_file, "%d\n" % pid)
        write_text(self.port_file, "%d\n" % port)

    def _stop(self):
        """Stop the recorded process; return its PID when it was running, else None."""
        pid = self.pid
        stopped = pid is not None and stop_process(pid, self.program)
        for path in (self.pid_file, self.port_file):
            if os.path.exists(path):
                os.unlink(path)
        return pid if stopped else None


class Moto(_RecordedProcess):
    program = "moto_server"
    name = "moto"

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def answers(self):
        return self.running() and http_ok(self.endpoint + "/moto-api/")

    def up(self, timeout=60, extra_env=None):
        """Start the server; ``extra_env`` (e.g. MLOPS_MOTO_DELAYS) is added to its environment."""
        if self.answers():
            log("moto server already running on %s (pid %d)" % (self.endpoint, self.pid))
            return
        self.down(quiet=True)
        try:
            import moto.server  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
        except ImportError:
            raise SandboxError("moto[server] is not installed: run `make setup`")
        port = free_port()
        env = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true", **(extra_env or {}))
        pid = spawn([sys.executable, MOTO_SERVER, "-H", "127.0.0.1", "-p", str(port)], self.log_file, env=env)
        self._record(pid, port)
        wait_for(self.answers, "moto server on port %d" % port, timeout, self.log_file, pid, self.program)
        log("moto server running on %s (pid %d)" % (self.endpoint, pid))

    def down(self, quiet=False):
        pid = self._stop()
        if not quiet:
            log("moto server stopped (pid %d)" % pid if pid else "moto server was not running")

    def reset(self):
        req = urllib.request.Request(self.endpoint + "/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=10) as resp:
            if resp.status != 200:
                raise SandboxError("moto reset answered HTTP %d" % resp.status)

    def env(self):
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": AWS_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": AWS_SECRET_ACCESS_KEY,
            "AWS_REGION": AWS_REGION,
            "AWS_DEFAULT_REGION": AWS_REGION,
        }


# --------------------------------------------------------------------------------------------
# Chart repository
# --------------------------------------------------------------------------------------------

class ChartMirror(_RecordedProcess):
    """Serves the offline chart mirror (``CHART_MIRROR``) as a Helm chart repository on
    127.0.0.1, the way a private chart repository serves an air-gapped install: static files,
    ``index.yaml`` plus the chart packages, over HTTP (Python's ``http.server``). The roles
    reach it through ``platform_chart_repo_url`` (``MLOPS_CHART_REPO_URL`` in the sandbox's
    env). Without a mirror nothing is started and the charts come from upstream."""

    program = "http.server"
    name = "charts"

    def __init__(self, root, directory=CHART_MIRROR):
        super().__init__(root)
        self.directory = os.path.abspath(directory)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def available(self):
        return os.path.isfile(os.path.join(self.directory, "index.yaml"))

    def answers(self):
        return self.running() and self.port is not None and http_ok(self.url + "/index.yaml")

    def up(self, timeout=30):
        if not self.available():
            log("no offline chart mirror at %s: charts come from their upstream repositories (internet)"
                % self.directory)
            return
        if self.answers():
            log("chart mirror already served on %s (pid %d)" % (self.url, self.pid))
            return
        self.down(quiet=True)
        port = free_port()
        pid = spawn([sys.executable, "-m", self.program, "--bind", "127.0.0.1", "--directory", self.directory,
                     str(port)], self.log_file)
        self._record(pid, port)
        wait_for(self.answers, "chart mirror on port %d" % port, timeout, self.log_file, pid, self.program)
        log("offline chart mirror %s served on %s (pid %d)" % (self.directory, self.url, pid))

    def down(self, quiet=False):
        pid = self._stop()
        if not quiet and pid:
            log("chart mirror stopped (pid %d)" % pid)

    def env(self):
        return {"MLOPS_CHART_REPO_URL": self.url}


# --------------------------------------------------------------------------------------------
# Kubernetes control plane
# --------------------------------------------------------------------------------------------

def _crypto():
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa, ec
        from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
    except ImportError:
        raise SandboxError("python 'cryptography' is missing: run `make setup`")
    return x509, hashes, serialization, rsa, ec, NameOID, ExtendedKeyUsageOID


class PKI:
    """A throw-away CA and the certificates the control plane needs."""

    def __init__(self, directory):
        self.dir = directory

    def path(self, name):
        return os.path.join(self.dir, name)

    def _write_key(self, name, key):
        _x509, _hashes, serialization, *_rest = _crypto()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        write_text(self.path(name), pem.decode(), mode=0o600)

    def _write_cert(self, name, cert):
        _x509, _hashes, serialization, *_rest = _crypto()
        write_text(self.path(name), cert.public_bytes(serialization.Encoding.PEM).decode())

    def ensure(self):
        if os.path.exists(self.path("admin.crt")):
            return
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        x509, hashes, serialization, rsa, ec, NameOID, EKU = _crypto()
        now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
        later = now + datetime.timedelta(days=365)

        def new_key():
            return ec.generate_private_key(ec.SECP256R1())

        ca_key = new_key()
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mlops-sandbox-ca")])
        ca_cert = (
            x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
            .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(later)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        self._write_key("ca.key", ca_key)
        self._write_cert("ca.crt", ca_cert)

        def issue(name, common_name, orgs=(), server_names=None):
            key = new_key()
            attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
            attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in orgs]
            builder = (
                x509.CertificateBuilder().subject_name(x509.Name(attrs)).issuer_name(ca_name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(later)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
            )
            if server_names:
                sans = [x509.DNSName(n) for n in server_names["dns"]] + [x509.IPAddress(ipaddress.ip_address(i)) for i in server_names["ip"]]
                builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
                builder = builder.add_extension(x509.ExtendedKeyUsage([EKU.SERVER_AUTH]), critical=False)
            else:
                builder = builder.add_extension(x509.ExtendedKeyUsage([EKU.CLIENT_AUTH]), critical=False)
            self._write_key(name + ".key", key)
            self._write_cert(name + ".crt", builder.sign(ca_key, hashes.SHA256()))

        service_ip = str(next(ipaddress.ip_network(SERVICE_CIDR).hosts()))
        issue("apiserver", "kube-apiserver", server_names={
            "dns": ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                    "kubernetes.default.svc.cluster.local"],
            "ip": ["127.0.0.1", service_ip],
        })
        issue("admin", "kubernetes-admin", orgs=["system:masters"])
        issue("controller-manager", "system:kube-controller-manager")
        issue("scheduler", "system:kube-scheduler")
        issue("kwok", "kwok-controller", orgs=["system:masters"])
        # Service-account tokens are signed with their own RSA key, as kubeadm does.
        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._write_key("sa.key", sa_key)
        write_text(self.path("sa.pub"), sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode())

    def kubeconfig(self, server, identity, inline=False):
        import base64

        def field(kind, filename):
            if inline:
                with open(self.path(filename), "rb") as handle:
                    return {kind + "-data": base64.b64encode(handle.read()).decode()}
            return {kind: self.path(filename)}

        cluster = {"server": server}
        cluster.update(field("certificate-authority", "ca.crt"))
        user = {}
        user.update(field("client-certificate", identity + ".crt"))
        user.update(field("client-key", identity + ".key"))
        return json.dumps({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "mlops-sandbox", "cluster": cluster}],
            "users": [{"name": identity, "user": user}],
            "contexts": [{"name": "mlops-sandbox", "context": {"cluster": "mlops-sandbox", "user": identity}}],
            "current-context": "mlops-sandbox",
        }, indent=2) + "\n"


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
            "kwok": [
                "--kubeconfig=" + kc("kwok"),
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                "--disregard-status-with-annotation-selector=kwok.x-k8s.io/status=custom",
                "--cidr=10.244.0.0/16", "--node-ip=10.0.0.1",
                "--node-lease-duration-seconds=40",
                "--server-address=127.0.0.1:%d" % free_port(),
            ],
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
        self.kubectl_run("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))

    def _wait_ready(self, timeout):
        deadline = time.time() + timeout

        def ready():
            nodes = subprocess.run([self.kubectl(), "--kubeconfig", self.kubeconfig_path, "get", "nodes", "-o", "json"],
                                   check=False, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            if nodes.returncode != 0:
                return False
            ready_nodes = [n for n in json.loads(nodes.stdout)["items"]
                           if any(c["type"] == "Ready" and c["status"] == "True" for c in n.get("status", {}).get("conditions", []))]
            if len(ready_nodes) < len(FAKE_NODES):
                return False
            # Pods are only admitted once the controller-manager has made the default service account.
            account = subprocess.run([self.kubectl(), "--kubeconfig", self.kubeconfig_path, "get", "serviceaccount", "default",
                                      "-n", "default", "-o", "name"], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return account.returncode == 0

        wait_for(ready, "fake nodes and the default service account", max(1, deadline - time.time()),
                 os.path.join(self.logs, "kwok.log"))

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


# --------------------------------------------------------------------------------------------
# The whole sandbox
# --------------------------------------------------------------------------------------------

class Sandbox:
    def __init__(self, root=DEFAULT_DIR):
        self.root = os.path.abspath(root)
        self.moto = Moto(self.root)
        self.cluster = Cluster(self.root)
        self.charts = ChartMirror(self.root)
        self.env_file = os.path.join(self.root, "env")

    def parts(self, which):
        return {"aws": [self.moto], "kube": [self.cluster, self.charts],
                "all": [self.moto, self.cluster, self.charts]}[which]

    def env(self):
        env = {}
        if self.moto.answers():
            env.update(self.moto.env())
        if self.cluster.answers():
            env.update(self.cluster.env())
        if self.charts.answers():
            env.update(self.charts.env())
        return env

    def write_env(self):
        env = self.env()
        if not env:
            if os.path.exists(self.env_file):
                os.unlink(self.env_file)
            return
        lines = ["# Written by the sandbox (tests/tools/sandbox.py). Source it: . .sandbox/env"]
        lines += ["export %s=%s" % (k, v) for k, v in sorted(env.items())]
        write_text(self.env_file, "\n".join(lines) + "\n")

    def up(self, which="all"):
        os.makedirs(self.root, exist_ok=True)
        try:
            for part in self.parts(which):
                part.up()
        finally:
            self.write_env()

    def down(self, which="all"):
        for part in reversed(self.parts(which)):
            part.down()
        self.write_env()

    def status(self, which="all"):
        report = {}
        if which in ("aws", "all"):
            report["aws"] = self.moto.answers()
        if which in ("kube", "all"):
            report["kube"] = self.cluster.answers()
            if self.charts.available():
                report["charts"] = self.charts.answers()
        return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("command", choices=["up", "down", "status", "env"])
    parser.add_argument("--only", choices=["aws", "kube", "all"], default="all", help="which part of the sandbox")
    parser.add_argument("--dir", default=DEFAULT_DIR, help="state directory (default: .sandbox/)")
    args = parser.parse_args(argv)
    sandbox = Sandbox(args.dir)
    try:
        if args.command == "up":
            sandbox.up(args.only)
            print(sandbox.env_file)
        elif args.command == "down":
            sandbox.down(args.only)
        elif args.command == "env":
            for key, value in sorted(sandbox.env().items()):
                print("export %s=%s" % (key, value))
        else:
            report = sandbox.status(args.only)
            for part, ok in report.items():
                print("%s: %s" % (part, "up" if ok else "down"))
            return 0 if all(report.values()) else 1
    except SandboxError as exc:
        log("error: %s" % exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
