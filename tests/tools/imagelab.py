"""A local image lab for `make images` (tests/tools/build_images.py) and the benchmark (bench/images.py).

What it sets up, all on 127.0.0.1 and all stopped again by ``Lab.close()``:

* emulated ECR: the sandbox's moto server (the sandbox package beside this file, ``--only aws``), in a state
  directory of the lab's own;
* a registry standing in for ECR's: Debian's ``docker-registry`` with an htpasswd file that
  accepts the authorization token moto hands out (user ``AWS``, password ``<account>-auth-token``),
  so ecr_image's ECR login runs for real;
* a private containers-storage (vfs) for buildah, so nothing touches the host's images;
* optionally a local base image (``localhost/mlops-base:bookworm``): Debian bookworm with
  python3, venv and CA certificates, made with debootstrap (cached as a tarball in
  ~/.cache/mlops-eks-platform/) and imported into that storage. Docker Hub is not needed.

ecr_image runs as a module process (``python plugins/modules/ecr_image.py ARGS.json``), the way
Ansible runs it on a host, so the timings are the module's own, without ansible-playbook's start.

Imported from tests/tools (the Makefile puts it on PYTHONPATH for bench/images.py).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import sandbox as sandbox_tool

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MODULE = os.path.join(REPO_ROOT, "plugins", "modules", "ecr_image.py")
ACCOUNT = "123456789012"
TOKEN_PASSWORD = "%s-auth-token" % ACCOUNT
# The tool cache of tests/tools/setup.sh, found the same way.
CACHE = os.environ.get("MLOPS_TOOLS_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mlops-eks-platform")
BASE_IMAGE = "localhost/mlops-base:bookworm"
BASE_SUITE = "bookworm"
BASE_PACKAGES = "python3,python3-venv,ca-certificates"
DEBIAN_MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
TOOLS = ("buildah", "skopeo", "docker-registry", "htpasswd")


def say(msg):
    print("imagelab: " + msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_tools(extra=()):
    missing = [tool for tool in TOOLS + tuple(extra) if shutil.which(tool) is None]
    if missing:
        sys.exit("imagelab: missing tools: %s (make setup installs them from tests/tools/debian-packages.txt)"
                 % ", ".join(missing))


def buildah_version():
    proc = subprocess.run(["buildah", "--version"], capture_output=True, text=True, check=False)
    words = proc.stdout.split()
    return words[2] if len(words) > 2 else "unknown"


def kept_storage():
    """The buildah storage that ``make images --keep-storage`` reuses: several GB of layers, so it
    lives in the tool cache, not in the clone, keyed by what makes its layers unusable when it
    changes (buildah's version, the storage driver, the base). Older keys are removed."""
    name = "image-storage-buildah%s-vfs-%s" % (buildah_version(), BASE_SUITE)
    path = os.path.join(CACHE, name)
    if not os.path.isdir(path) and os.path.isdir(CACHE):
        for old in os.listdir(CACHE):
            if old.startswith("image-storage-") and old != name:
                say("removing the outdated image storage %s" % os.path.join(CACHE, old))
                shutil.rmtree(os.path.join(CACHE, old), ignore_errors=True)
    os.makedirs(path, exist_ok=True)
    return path


def exit_on_sigterm(signum, frame):  # pylint: disable=unused-argument
    """A SIGTERM handler: raise SystemExit so that the ``finally`` that stops the lab runs."""
    raise SystemExit("imagelab: stopped by signal %d" % signum)


class Lab(object):
    def __init__(self, directory, storage=None):
        """A fresh lab in ``directory``. ``storage`` is a buildah storage to reuse and keep (its
        layer cache, see kept_storage()); by default the storage is the lab's own and goes with it."""
        self.dir = os.path.abspath(directory)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir, exist_ok=True)
        self.kept_storage = storage
        storage = storage or self.dir
        self.sandbox = None
        self.registry = None
        self.registry_proc = None
        self.registry_log = None
        self.registry_log_path = os.path.join(self.dir, "registry.log")
        self.storage_conf = os.path.join(self.dir, "storage.conf")
        with open(self.storage_conf, "w") as f:
            f.write('[storage]\ndriver = "vfs"\ngraphroot = "%s/graph"\nrunroot = "%s/run"\n' % (storage, storage))
        self.env = dict(os.environ)
        self.env["CONTAINERS_STORAGE_CONF"] = self.storage_conf
        self.env["PYTHONPATH"] = os.path.join(REPO_ROOT, "build", "collections")
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            self.env.pop(key, None)

    def __enter__(self):
        # start() may fail half-way (moto up, the registry not): close() stops whatever did start.
        try:
            return self.start()
        except BaseException:
            self.close(raise_failure=False)
            raise

    def __exit__(self, exc_type, exc, traceback):
        # A failed cleanup must not hide the error that ended the run; it is reported either way.
        self.close(raise_failure=exc_type is None)

    # -- services -------------------------------------------------------------------------

    def start(self):
        os.makedirs(os.path.join(self.dir, "sandbox"))
        self.sandbox = sandbox_tool.Sandbox(os.path.join(self.dir, "sandbox"))
        self.sandbox.moto.up()
        self.env.update(self.sandbox.moto.env())
        self.start_registry()
        say("started moto (pid %d) and docker-registry (pid %d) in %s"
            % (self.sandbox.moto.pid, self.registry_proc.pid, self.dir))
        return self

    def start_registry(self):
        port = free_port()
        self.registry = "127.0.0.1:%d" % port
        passwd = os.path.join(self.dir, "htpasswd")
        line = subprocess.run(["htpasswd", "-Bbn", "AWS", TOKEN_PASSWORD], check=True, capture_output=True,
                              text=True).stdout.strip()
        with open(passwd, "w") as f:
            f.write(line + "\n")
        config = os.path.join(self.dir, "registry.yml")
        with open(config, "w") as f:
            json.dump({  # JSON is YAML
                "version": 0.1,
                "log": {"level": "info", "accesslog": {"disabled": False}},
                "storage": {"filesystem": {"rootdirectory": os.path.join(self.dir, "registry")}},
                "http": {"addr": self.registry},
                "auth": {"htpasswd": {"realm": "imagelab", "path": passwd}},
            }, f)
        self.registry_log = open(self.registry_log_path, "ab")
        self.registry_proc = subprocess.Popen(["docker-registry", "serve", config], stdout=self.registry_log,
                                              stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.registry_proc.poll() is not None:
                raise SystemExit("imagelab: docker-registry exited, see %s" % self.registry_log_path)
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("imagelab: docker-registry did not start, see %s" % self.registry_log_path)

    def _stop_registry(self):
        if self.registry_proc is not None and self.registry_proc.poll() is None:
            self.registry_proc.terminate()
            try:
                self.registry_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.registry_proc.kill()
                self.registry_proc.wait(timeout=10)
        if self.registry_log:
            self.registry_log.close()

    def _stop_moto(self):
        if self.sandbox is not None:
            self.sandbox.moto.down(quiet=True)

    def _remove_containers(self):
        # Working containers (pulled images, builds) would pile up in a storage that is kept.
        if self.kept_storage and os.path.isdir(os.path.join(self.kept_storage, "graph")):
            subprocess.run(["buildah", "rm", "--all"], env=self.env, capture_output=True, check=False, timeout=300)

    def close(self, remove=True, raise_failure=True):
        """Stop what start() started, however far it got, and delete the lab directory (with its
        storage unless that is a kept one) unless ``remove`` is false. Each step runs even when an
        earlier one fails; the first failure is raised at the end (``raise_failure``) or only said."""
        failures = []
        for stop in (self._stop_registry, self._stop_moto, self._remove_containers):
            try:
                stop()
            except Exception as exc:  # pylint: disable=broad-except
                failures.append(exc)
                say("cleanup: %s failed: %s" % (stop.__name__.strip("_").replace("_", " "), exc))
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)
        say("stopped moto and docker-registry; %s%s" % (
            "removed %s" % self.dir if remove else "kept %s" % self.dir,
            "; kept the image storage %s" % self.kept_storage if self.kept_storage else ""))
        if failures and raise_failure:
            raise failures[0]

    # -- the local base image -------------------------------------------------------------

    def base_tarball(self):
        """A debootstrapped Debian root file system as a tarball, made once and cached."""
        tarball = os.path.join(CACHE, "debian-base", "%s-%s.tar" % (BASE_SUITE, BASE_PACKAGES.replace(",", "-")))
        if os.path.exists(tarball):
            say("local base: cached %s" % tarball)
            return tarball
        if shutil.which("debootstrap") is None:
            raise SystemExit("imagelab: debootstrap is missing (make setup installs it)")
        os.makedirs(os.path.dirname(tarball), exist_ok=True)
        work = tempfile.mkdtemp(prefix="debootstrap-", dir=os.path.dirname(tarball))
        rootfs = os.path.join(work, "rootfs")
        started = time.time()
        say("local base: debootstrap %s with %s from %s (about a minute) ..." % (BASE_SUITE, BASE_PACKAGES, DEBIAN_MIRROR))
        log = os.path.join(work, "debootstrap.log")
        with open(log, "w") as out:
            rc = subprocess.run(["debootstrap", "--variant=minbase", "--include=" + BASE_PACKAGES, BASE_SUITE,
                                 rootfs, DEBIAN_MIRROR], stdout=out, stderr=subprocess.STDOUT, check=False).returncode
        if rc != 0:
            with open(log) as f:
                tail = f.read()[-3000:]
            shutil.rmtree(work, ignore_errors=True)
            raise SystemExit("imagelab: debootstrap failed:\n" + tail)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for name in os.listdir(os.path.join(rootfs, junk)):
                path = os.path.join(rootfs, junk, name)
                if os.path.isfile(path):
                    os.remove(path)
        subprocess.run(["tar", "-C", rootfs, "--numeric-owner", "-cf", tarball + ".tmp", "."], check=True)
        os.rename(tarball + ".tmp", tarball)
        shutil.rmtree(work, ignore_errors=True)
        say("local base: made %s in %.0f s" % (tarball, time.time() - started))
        return tarball

    def ensure_base_image(self):
        """Import the cached base tarball into the lab's storage as BASE_IMAGE (unless it is there)."""
        if subprocess.run(["buildah", "inspect", "--type", "image", BASE_IMAGE], env=self.env, capture_output=True,
                          check=False).returncode == 0:
            say("local base: %s is in the storage already" % BASE_IMAGE)
            return BASE_IMAGE
        tarball = self.base_tarball()
        started = time.time()

        def buildah(*args):
            return subprocess.run(["buildah"] + list(args), env=self.env, check=True, capture_output=True,
                                  text=True).stdout.strip()

        ctr = buildah("from", "scratch")
        try:
            buildah("add", "--quiet", ctr, tarball, "/")
            buildah("config", "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "--env", "LANG=C.UTF-8", "--cmd", "/bin/bash", ctr)
            buildah("commit", "--quiet", ctr, BASE_IMAGE)
        finally:
            subprocess.run(["buildah", "rm", ctr], env=self.env, capture_output=True, check=False)
        say("local base: imported %s in %.1f s" % (BASE_IMAGE, time.time() - started))
        return BASE_IMAGE

    # -- running the module ---------------------------------------------------------------

    def module_args(self, name, path, **extra):
        args = {"name": name, "path": path, "registry": self.registry, "insecure_registry": True,
                "builder": "buildah", "isolation": "chroot", "platform": "linux/amd64",
                "repository_tags": {"ManagedBy": "mlops.eks_platform"}}
        args.update(extra)
        return args

    def run_module(self, args, check_mode=False):
        """Run ecr_image as a module process; returns (result, seconds)."""
        payload = dict(args)
        if check_mode:
            payload["_ansible_check_mode"] = True
        with tempfile.NamedTemporaryFile("w", suffix=".json", dir=self.dir, delete=False) as f:
            json.dump({"ANSIBLE_MODULE_ARGS": payload}, f)
            path = f.name
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, MODULE, path], env=self.env, capture_output=True, text=True,
                              check=False, timeout=3600)
        seconds = time.perf_counter() - started
        os.remove(path)
        try:
            result = json.loads(proc.stdout)
        except ValueError:
            raise SystemExit("imagelab: ecr_image printed no result (exit %d):\n%s\n%s"
                             % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
        if result.get("failed"):
            raise SystemExit("imagelab: ecr_image failed: %s" % result.get("msg"))
        return result, seconds

    def registry_requests(self, since=0):
        with open(self.registry_log_path, "rb") as f:
            text = f.read().decode("utf-8", "replace")[since:]
        return text

    def registry_log_size(self):
        return os.path.getsize(self.registry_log_path)
