"""`make images`: build the platform's images from a local base with playbooks/images.yml, and prove them.

Docker Hub is not needed: the base is Debian bookworm with python3 made by debootstrap (cached in
~/.cache/mlops-eks-platform/), imported into a private buildah storage (imagelab.py). The
images' own dependencies come from PyPI; where TLS is intercepted the host CA bundle is passed
as the build secret ``ca-bundle`` (never stored in an image).

Steps, each of which must pass:

1. playbooks/images.yml builds and pushes images/mlflow and images/trainer with ecr_image and
   buildah (ECR API: moto; registry: docker-registry on 127.0.0.1, logged in to with the token);
2. the same playbook again: changed=0, nothing built or pushed (content-addressed);
3. each image is pulled back from the registry by digest; it runs as a non-root user and its
   ``pip freeze`` equals its constraints.txt (every package pinned, nothing missing);
4. the MLflow image serves: ``mlflow server`` with a SQLite backend and proxied artifacts
   answers /health, and the image's ``healthcheck`` command exits 0 while it runs and 1 when
   nothing listens;
5. the trainer image runs the example pipeline's steps against that server: preprocess, train,
   evaluate, register (the model passes the quality gate, becomes version 1 with the alias
   ``champion``).

images/airflow is checked by hadolint only (its base, apache/airflow, comes from Docker Hub);
``--with-airflow`` builds it too where its base can be pulled.

However a step ends (a failed check, an error, SIGTERM), the emulator and the registry are
stopped and the lab directory with its build storage (several GB) is removed; ``--keep-storage``
keeps only the storage, in ~/.cache/mlops-eks-platform/ (imagelab.kept_storage()).
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import imagelab

VENV_BIN = os.path.dirname(sys.executable)


def step(msg):
    print("\n=== images: %s" % msg, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ansible_env(lab):
    env = dict(lab.env)
    env.update({
        "PATH": VENV_BIN + os.pathsep + env.get("PATH", ""),
        "ANSIBLE_CONFIG": os.path.join(imagelab.REPO_ROOT, "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(imagelab.REPO_ROOT, "build", "collections"),
        "ANSIBLE_HOME": os.path.join(imagelab.REPO_ROOT, "build", "ansible-home"),
        "ANSIBLE_NOCOLOR": "1",
    })
    return env


def run_playbook(lab, extra_vars):
    argv = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
            "-e", "ansible_python_interpreter=" + sys.executable, "-e", json.dumps(extra_vars),
            os.path.join(imagelab.REPO_ROOT, "playbooks", "images.yml")]
    started = time.time()
    # ansible-playbook refuses a non-blocking stdin inherited from the caller; it needs none.
    proc = subprocess.run(argv, env=ansible_env(lab), text=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, check=False)
    print(proc.stdout[-4000:], flush=True)
    if proc.returncode != 0:
        sys.exit("images: playbooks/images.yml failed (exit %d)" % proc.returncode)
    recap = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)", proc.stdout)
    return int(recap.group(2)), time.time() - started


def buildah(lab, *args, check=True):
    proc = subprocess.run(["buildah"] + list(args), env=lab.env, text=True, capture_output=True, check=False)
    if check and proc.returncode != 0:
        sys.exit("images: buildah %s failed:\n%s%s" % (" ".join(args), proc.stdout[-3000:], proc.stderr[-3000:]))
    return proc


def pull(lab, name, digest):
    """A working container from the image as the registry holds it (by its digest)."""
    ref = "docker://%s/%s@%s" % (lab.registry, name, digest)
    ctr = buildah(lab, "from", "--tls-verify=false", "--creds", "AWS:" + imagelab.TOKEN_PASSWORD, ref).stdout.strip()
    return ctr.splitlines()[-1]


def constraints(path):
    with open(path) as f:
        return sorted(line.strip() for line in f if line.strip() and not line.startswith("#"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--dir", default=os.path.join(imagelab.REPO_ROOT, "build", "images-local"),
                        help="the lab's directory (emulator, registry, logs); removed at the end")
    parser.add_argument("--with-airflow", action="store_true", help="also build images/airflow (needs its base)")
    parser.add_argument("--keep-storage", action="store_true",
                        help="reuse and keep the buildah storage (base image, layer cache; several GB with the vfs "
                             "driver) in ~/.cache/mlops-eks-platform/ instead of removing it with the lab")
    options = parser.parse_args(argv)

    imagelab.check_tools(("debootstrap",))
    # A SIGTERM (a CI timeout, `kill`) must still reach the cleanup below.
    signal.signal(signal.SIGTERM, imagelab.exit_on_sigterm)
    started = time.time()
    server = MlflowServer()
    with imagelab.Lab(options.dir, storage=imagelab.kept_storage() if options.keep_storage else None) as lab:
        try:
            prove(lab, options, server)
        finally:
            server.stop()
    step("all checks passed in %.0f s" % (time.time() - started))


class MlflowServer(object):
    """The MLflow image serving, once started; stop() is safe whether or not it ever started."""

    def __init__(self):
        self.proc = None
        self.log = None

    def start(self, argv, env, log_path):
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        return self.proc

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait(timeout=20)
        if self.log is not None:
            self.log.close()

    def _signal(self, signum):
        # The group can be gone between poll() and here; a stop must not fail on that.
        try:
            os.killpg(self.proc.pid, signum)
        except ProcessLookupError:
            pass


def prove(lab, options, server):
    """The steps of the module docstring; each exits with a message when its check fails."""
    step("local base image")
    base = lab.ensure_base_image()
    images = ["mlflow", "trainer"] + (["airflow"] if options.with_airflow else [])
    extra_vars = {
        "images_list": images,
        "images_repository_prefix": "mlops",
        "images_registry": lab.registry,
        "images_insecure_registry": True,
        "images_builder": "buildah",
        "images_isolation": "chroot",
        "images_build_args": {"mlflow": {"BASE_IMAGE": base}, "trainer": {"BASE_IMAGE": base}},
        "images_secrets": ([{"id": "ca-bundle", "src": imagelab.HOST_CA_BUNDLE}]
                           if os.path.exists(imagelab.HOST_CA_BUNDLE) else []),
        "eks_cluster_name": "mlops-images",
        "platform_environment": "imagelab",  # what playbooks/preflight.yml asks of an inventory
    }

    step("playbooks/images.yml: build and push %s" % ", ".join(images))
    changed, seconds = run_playbook(lab, extra_vars)
    print("first run: changed=%d in %.0f s" % (changed, seconds))
    if changed == 0:
        sys.exit("images: the first run changed nothing")

    step("playbooks/images.yml again: nothing to build")
    changed, seconds = run_playbook(lab, extra_vars)
    print("second run: changed=%d in %.1f s" % (changed, seconds))
    if changed != 0:
        sys.exit("images: the second run changed %d things; it must change nothing" % changed)

    # The digests the registry holds, asked directly.
    from ansible_collections.mlops.eks_platform.plugins.module_utils.ecr.registry import Registry

    registry = Registry(lab.registry, username="AWS", password=imagelab.TOKEN_PASSWORD, insecure=True)
    digests = {}
    for image in images:
        # The module in check mode, leaving the repository alone, names the content tag.
        result, dummy = lab.run_module(
            lab.module_args("mlops/" + image, os.path.join(imagelab.REPO_ROOT, "images", image),
                            build_args=extra_vars["images_build_args"].get(image, {}), manage_repository=False),
            check_mode=True)
        assert not result["changed"], result
        digest = registry.manifest_digest("mlops/" + image, result["content_tag"])
        assert digest == result["digest"], (digest, result["digest"])
        digests[image] = digest
        print("%s: %s (%s)" % (image, result["image_uri"], digest))

    step("pull each image back by digest: non-root, pip freeze == constraints.txt")
    containers = {}
    for image in ("mlflow", "trainer"):
        ctr = pull(lab, "mlops/" + image, digests[image])
        containers[image] = ctr
        uid = buildah(lab, "run", "--isolation", "chroot", ctr, "--", "id", "-u").stdout.strip()
        if uid in ("", "0"):
            sys.exit("images: %s runs as root" % image)
        frozen = sorted(buildah(lab, "run", "--isolation", "chroot", ctr, "--", "pip", "freeze").stdout.split())
        pinned = constraints(os.path.join(imagelab.REPO_ROOT, "images", image, "constraints.txt"))
        if frozen != pinned:
            print("\n".join(frozen))
            sys.exit("images: pip freeze of %s differs from images/%s/constraints.txt (above: the image's freeze)"
                     % (image, image))
        print("%s: uid %s, %d packages, all pinned in constraints.txt" % (image, uid, len(frozen)))

    step("the MLflow image serves")
    port = free_port()
    log_path = os.path.join(lab.dir, "mlflow-server.log")
    healthcheck = ["buildah", "run", "--isolation", "chroot", "--env", "MLFLOW_PORT=%d" % port,
                   containers["mlflow"], "--", "/usr/local/bin/mlflow-entrypoint", "healthcheck"]
    if subprocess.run(healthcheck, env=lab.env, capture_output=True, check=False).returncode == 0:
        sys.exit("images: healthcheck passed with no server running")
    proc = server.start(
        ["buildah", "run", "--isolation", "chroot",
         "--env", "MLFLOW_BACKEND_STORE_URI=sqlite:////home/mlflow/mlflow.db",
         "--env", "MLFLOW_ARTIFACTS_DESTINATION=/home/mlflow/artifacts",
         "--env", "MLFLOW_PORT=%d" % port, containers["mlflow"], "--", "/usr/local/bin/mlflow-entrypoint", "server"],
        lab.env, log_path)
    url = "http://127.0.0.1:%d" % port
    deadline = time.time() + 180
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            with open(log_path, "rb") as f:
                print(f.read().decode("utf-8", "replace")[-3000:])
            sys.exit("images: the MLflow server did not answer /health")
        time.sleep(1)
    if subprocess.run(healthcheck, env=lab.env, capture_output=True, check=False).returncode != 0:
        sys.exit("images: the image's healthcheck failed while the server answers")
    print("mlflow server: /health OK on %s; healthcheck exit 0 (and 1 before the server started)" % url)

    step("the trainer image runs preprocess, train, evaluate and register (quality gate passed)")
    results = {}
    for command, templates in (("preprocess", []), ("train", ["--data-run-id", "{preprocess[run_id]}"]),
                               ("evaluate", ["--run-id", "{train[run_id]}"]),
                               ("register", ["--run-id", "{train[run_id]}"])):
        command_args = [template.format(**results) for template in templates]
        proc = subprocess.run(["buildah", "run", "--isolation", "chroot", "--env", "MLFLOW_TRACKING_URI=" + url,
                               containers["trainer"], "--", "python3", "-m", "trainer", command, "--xcom"] + command_args,
                              env=lab.env, capture_output=True, text=True, check=False)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            sys.exit("images: trainer %s failed:\n%s\n%s" % (command, proc.stdout[-3000:], proc.stderr[-3000:]))
        results[command] = json.loads(lines[-1])
        print("trainer %s: %s" % (command, lines[-1]))
    if not results["evaluate"]["passed"] or not results["register"]["registered"] \
            or results["register"]["model_version"] != "1":
        sys.exit("images: the trained model was not registered")
    with urllib.request.urlopen(url + "/api/2.0/mlflow/registered-models/alias?name=%s&alias=champion"
                                % results["register"]["model_name"], timeout=10) as answer:
        version = json.load(answer)["model_version"]["version"]
    print("MLflow registry: %s@champion is version %s" % (results["register"]["model_name"], version))


if __name__ == "__main__":
    main()
