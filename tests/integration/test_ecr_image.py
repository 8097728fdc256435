# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mlops.eks_platform.ecr_image end to end: real builds, real pushes, a real registry.

* ECR API: the moto server (``aws`` fixture), which holds the repository and its settings and
  hands out the authorization token (user ``AWS``, password ``<account>-auth-token``).
* Registry: Debian's ``docker-registry`` (CNCF distribution 2.8) on 127.0.0.1, with an htpasswd
  file that accepts exactly that token, so the module's ECR login is exercised for real.
* Builders: buildah (and podman) with chroot isolation, in a private storage directory.

Independent oracles: ``skopeo inspect`` for the digest in the registry, the registry's own
access log for what the module asked it, and the files buildah actually put into the image
for the ``.dockerignore`` rules of the context digest.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest
import yaml

from ansible_collections.mlops.eks_platform.plugins.module_utils.ecr import context as ecr_context

pytestmark = pytest.mark.aws

VENV_BIN = os.path.dirname(sys.executable)
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ACCOUNT = "123456789012"
TOKEN_PASSWORD = "%s-auth-token" % ACCOUNT  # what moto's GetAuthorizationToken hands out
TOKEN = base64.b64encode(("AWS:" + TOKEN_PASSWORD).encode()).decode()
TOOLS = ("buildah", "podman", "skopeo", "docker-registry", "htpasswd")


def require_tools():
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.fail("missing tools for the image tests: %s (make setup installs them from "
                    "tests/tools/debian-packages.txt)" % ", ".join(missing))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalRegistry(object):
    """A docker-registry process on 127.0.0.1 with its own config, storage and log."""

    def __init__(self, directory, htpasswd=True, readonly=False):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.port = free_port()
        self.host = "127.0.0.1:%d" % self.port
        self.log_path = os.path.join(directory, "registry.log")
        config = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": False}},
            "storage": {"filesystem": {"rootdirectory": os.path.join(directory, "data")}, "delete": {"enabled": True}},
            "http": {"addr": self.host},
        }
        if readonly:
            config["storage"]["maintenance"] = {"readonly": {"enabled": True}}
        if htpasswd:
            passwd = os.path.join(directory, "htpasswd")
            line = subprocess.run(["htpasswd", "-Bbn", "AWS", TOKEN_PASSWORD], check=True, capture_output=True,
                                  text=True).stdout.strip()
            with open(passwd, "w") as f:
                f.write(line + "\n")
            config["auth"] = {"htpasswd": {"realm": "test", "path": passwd}}
        self.config_path = os.path.join(directory, "config.yml")
        with open(self.config_path, "w") as f:
            yaml.safe_dump(config, f)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["docker-registry", "serve", self.config_path], stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("docker-registry exited:\n" + self.read_log())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("docker-registry did not listen on %s:\n%s" % (self.host, self.read_log()))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_mark(self):
        return len(self.read_log())

    def requests_since(self, mark):
        """``METHOD /path`` of every request the registry logged after ``mark``."""
        return re.findall(r'"([A-Z]+) (/v2/[^ "]*) HTTP/1\.1"', self.read_log()[mark:])

    def manifest_digest(self, repository, tag):
        """The tag's digest as the registry reports it, asked directly (not through the module)."""
        request = urllib.request.Request("http://%s/v2/%s/manifests/%s" % (self.host, repository, tag), method="HEAD")
        request.add_header("Accept", "application/vnd.oci.image.manifest.v1+json, "
                                     "application/vnd.docker.distribution.manifest.v2+json")
        request.add_header("Authorization", "Basic " + TOKEN)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.headers["Docker-Content-Digest"]
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise

    def skopeo_digest(self, image):
        out = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--creds", "AWS:" + TOKEN_PASSWORD,
                              "docker://" + image], check=True, capture_output=True, text=True, timeout=120)
        return json.loads(out.stdout)["Digest"]


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    require_tools()
    reg = LocalRegistry(str(tmp_path_factory.mktemp("registry")))
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    """A private containers-storage (vfs) for buildah and podman, removed afterwards."""
    root = tmp_path_factory.mktemp("containers")
    conf = root / "storage.conf"
    conf.write_text(textwrap.dedent("""\
        [storage]
        driver = "vfs"
        graphroot = "%s/graph"
        runroot = "%s/run"
        """ % (root, root)))
    yield str(conf)
    shutil.rmtree(str(root), ignore_errors=True)


@pytest.fixture
def env(aws, storage):
    environment = dict(aws.env)
    environment["CONTAINERS_STORAGE_CONF"] = storage
    return environment


def write_context(root, files, dockerfile="FROM scratch\nCOPY . /ctx/\n"):
    os.makedirs(root, exist_ok=True)
    for name, content in files.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(content)
    if dockerfile is not None:
        with open(os.path.join(root, "Dockerfile"), "w") as f:
            f.write(dockerfile)
    return root


CONTEXT_FILES = {
    "hello.txt": "hello\n",
    "app/main.py": "print('hi')\n",
    "docs/keep.md": "kept by an exception rule\n",
    "docs/drop.md": "excluded\n",
    "notes.log": "excluded\n",
    "app/__pycache__/main.cpython-311.pyc": "excluded\n",
    ".dockerignore": "*.log\n**/__pycache__\ndocs\n!docs/keep.md\n",
}


def run_module(tmp_path, env, args, check_mode=False, verbosity=0, expect_failure=False, extra_env=None):
    """Run ecr_image once through ansible-playbook; returns (result dict, full output)."""
    out = tmp_path / ("result-%d.json" % time.time_ns())
    play = [{
        "hosts": "localhost", "gather_facts": False,
        "tasks": [
            {"name": "ecr_image", "mlops.eks_platform.ecr_image": args, "register": "r", "ignore_errors": True,
             "check_mode": check_mode},
            {"name": "save", "ansible.builtin.copy": {"content": "{{ r | to_json }}", "dest": str(out)},
             "check_mode": False},
        ],
    }]
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(play))
    environment = dict(env)
    environment.update(extra_env or {})
    argv = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
            "-e", "ansible_python_interpreter=" + sys.executable, str(playbook)]
    if verbosity:
        argv.append("-" + "v" * verbosity)
    proc = subprocess.run(argv, env=environment, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=900, check=False)
    assert out.exists(), "the play did not finish:\n" + proc.stdout[-6000:]
    result = json.loads(out.read_text())
    if expect_failure:
        assert result.get("failed"), "expected a failure, got:\n%s" % json.dumps(result, indent=2)
    else:
        assert not result.get("failed"), "ecr_image failed:\n%s\n%s" % (result.get("msg"), proc.stdout[-4000:])
    return result, proc.stdout


def base_args(name, context, registry, builder="buildah", **extra):
    args = {"name": name, "path": context, "registry": registry.host, "insecure_registry": True,
            "builder": builder, "isolation": "chroot"}
    args.update(extra)
    return args


def local_image_exists(env, image):
    return subprocess.run(["buildah", "inspect", "--type", "image", image], env=env, capture_output=True,
                          timeout=120, check=False).returncode == 0


def image_files(env, image):
    """Paths of the regular files and links under /ctx in ``image``, as buildah stored them."""
    ctr = subprocess.run(["buildah", "from", image], env=env, check=True, capture_output=True, text=True,
                         timeout=120).stdout.strip()
    try:
        mount = subprocess.run(["buildah", "mount", ctr], env=env, check=True, capture_output=True, text=True,
                               timeout=120).stdout.strip()
        root = os.path.join(mount, "ctx")
        found = set()
        for directory, dummy, names in os.walk(root):
            for name in names:
                found.add(os.path.relpath(os.path.join(directory, name), root))
        return found
    finally:
        subprocess.run(["buildah", "rm", ctr], env=env, capture_output=True, timeout=120, check=False)


def test_build_push_skip_and_rebuild(tmp_path, env, aws, registry):
    builder = "buildah"
    name = "demo/app"
    context = write_context(str(tmp_path / "ctx"), CONTEXT_FILES)
    args = base_args(name, context, registry, builder=builder, repository_tags={"ManagedBy": "mlops.eks_platform"},
                     lifecycle_policy={"rules": [{"rulePriority": 1, "description": "expire untagged",
                                                  "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                                                                "countUnit": "days", "countNumber": 7},
                                                  "action": {"type": "expire"}}]})

    # Check mode first: it says what it would do and does nothing.
    planned, dummy = run_module(tmp_path, env, args, check_mode=True)
    assert planned["changed"] and not planned["built"] and not planned["pushed"]
    assert planned["actions"][0] == "create repository"
    assert any(a.startswith("build ") for a in planned["actions"])
    assert registry.manifest_digest(name, planned["content_tag"]) is None
    assert not local_image_exists(env, planned["image_uri"])
    assert aws.client("ecr").describe_repositories()["repositories"] == []

    # First run: repository, build, login with the ECR token, push.
    first, output = run_module(tmp_path, env, args, verbosity=3)
    assert first["changed"] and first["built"] and first["pushed"]
    assert first["builder"] == builder
    assert first["image_uri"] == "%s/%s:%s" % (registry.host, name, first["content_tag"])
    assert first["content_tag"] == "ctx-" + first["context_hash"][:24]
    assert first["digest"] == registry.manifest_digest(name, first["content_tag"])
    assert first["digest"] == registry.skopeo_digest(first["image_uri"])
    assert first["image_digest_uri"] == "%s/%s@%s" % (registry.host, name, first["digest"])
    # The token never shows, not even at -vvv.
    assert TOKEN_PASSWORD not in output and TOKEN not in output

    # The ECR repository, as moto holds it.
    ecr = aws.client("ecr")
    repo = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["encryptionConfiguration"]["encryptionType"] == "KMS"
    tags = ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
    assert {"Key": "ManagedBy", "Value": "mlops.eks_platform"} in tags
    assert json.loads(ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"])["rules"][0]["rulePriority"] == 1
    assert first["repository"]["arn"] == repo["repositoryArn"]

    # What buildah put into the image is exactly what the digest covers (.dockerignore oracle).
    expected = {path for path, kind, dummy, dummy2 in ecr_context.context_entries(context) if kind != "dir"}
    assert image_files(env, first["image_uri"]) == expected
    assert "docs/keep.md" in expected and "docs/drop.md" not in expected and "notes.log" not in expected

    # Unchanged: no build, no push, one registry lookup.
    mark = registry.log_mark()
    second, dummy = run_module(tmp_path, env, args)
    assert not second["changed"] and not second["built"] and not second["pushed"]
    assert second["actions"] == []
    assert second["digest"] == first["digest"] and second["image_uri"] == first["image_uri"]
    assert registry.requests_since(mark) == [("HEAD", "/v2/%s/manifests/%s" % (name, first["content_tag"]))]

    # A change to an excluded file is no change.
    write_context(context, {"notes.log": "more\n", "docs/drop.md": "changed\n"}, dockerfile=None)
    third, dummy = run_module(tmp_path, env, args)
    assert not third["changed"] and third["content_tag"] == first["content_tag"]

    # One changed file: a new tag, built and pushed; the old image stays.
    write_context(context, {"hello.txt": "hello, world\n"}, dockerfile=None)
    fourth, dummy = run_module(tmp_path, env, args)
    assert fourth["changed"] and fourth["built"] and fourth["pushed"]
    assert fourth["content_tag"] != first["content_tag"]
    assert fourth["digest"] != first["digest"]
    assert fourth["digest"] == registry.skopeo_digest(fourth["image_uri"])
    assert fourth["actions"] == ["build " + fourth["image_uri"], "push " + fourth["image_uri"]]
    assert registry.manifest_digest(name, first["content_tag"]) == first["digest"]


def test_podman_builds_pushes_and_skips(tmp_path, env, registry):
    name = "demo/podman"
    context = write_context(str(tmp_path / "ctx"), {"a.txt": "podman\n"})
    args = base_args(name, context, registry, builder="podman")
    first, dummy = run_module(tmp_path, env, args)
    assert first["builder"] == "podman" and first["built"] and first["pushed"]
    assert first["digest"] == registry.skopeo_digest(first["image_uri"])
    second, dummy = run_module(tmp_path, env, args)
    assert not second["changed"] and not second["built"] and second["digest"] == first["digest"]
    # Leaving the repository to someone else (manage_repository=false): only the registry is asked.
    unmanaged, dummy = run_module(tmp_path, env, dict(args, manage_repository=False, repository_tags={"x": "y"}),
                                  check_mode=True)
    assert not unmanaged["changed"] and unmanaged["digest"] == first["digest"]


def path_without_builders(directory):
    """A PATH with every command of this one except docker, podman and buildah (symbolic links)."""
    os.makedirs(directory, exist_ok=True)
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isdir(entry):
            continue
        for name in os.listdir(entry):
            link = os.path.join(directory, name)
            if name in ("docker", "podman", "buildah") or os.path.lexists(link):
                continue
            os.symlink(os.path.join(entry, name), link)
    return directory


def test_extra_tags_follow_the_image_in_a_mutable_repository(tmp_path, env, registry):
    name = "demo/mutable"
    context = write_context(str(tmp_path / "ctx"), {"a.txt": "1\n"})
    args = base_args(name, context, registry, tags=["latest", "v1"], image_tag_mutability="mutable")
    first, dummy = run_module(tmp_path, env, args)
    assert first["tags"] == [first["content_tag"], "latest", "v1"]
    for tag in ("latest", "v1"):
        assert registry.manifest_digest(name, tag) == first["digest"]

    # Unchanged, with extra tags: one lookup per tag, nothing written.
    mark = registry.log_mark()
    again, dummy = run_module(tmp_path, env, args)
    assert not again["changed"]
    assert sorted(method for method, dummy in registry.requests_since(mark)) == ["HEAD", "HEAD", "HEAD"]

    # A new tag is added without a build or a push (the manifest is stored under it).
    with_v2, dummy = run_module(tmp_path, env, dict(args, tags=["latest", "v1", "v2"]))
    assert with_v2["changed"] and not with_v2["built"] and not with_v2["pushed"]
    assert with_v2["actions"] == ["tag %s/%s:v2" % (registry.host, name)]
    assert registry.manifest_digest(name, "v2") == first["digest"]

    # New content: latest moves (mutable).
    write_context(context, {"a.txt": "2\n"}, dockerfile=None)
    second, dummy = run_module(tmp_path, env, dict(args, tags=["latest"]))
    assert second["built"] and second["digest"] != first["digest"]
    assert registry.manifest_digest(name, "latest") == second["digest"]
    assert registry.manifest_digest(name, "v1") == first["digest"]


def test_immutable_tag_pointing_elsewhere_is_refused_before_building(tmp_path, env, registry):
    name = "demo/immutable"
    context = write_context(str(tmp_path / "ctx"), {"a.txt": "1\n"})
    args = base_args(name, context, registry, tags=["v1"])
    first, dummy = run_module(tmp_path, env, args)
    assert first["repository"]["image_tag_mutability"] == "IMMUTABLE"
    assert registry.manifest_digest(name, "v1") == first["digest"]

    write_context(context, {"a.txt": "2\n"}, dockerfile=None)
    refused, dummy = run_module(tmp_path, env, args, expect_failure=True)
    assert "tag v1" in refused["msg"] and "immutable" in refused["msg"] and first["digest"] in refused["msg"]
    assert not refused["built"] and not refused["pushed"]
    new_tag = refused["content_tag"]
    assert new_tag != first["content_tag"]
    assert registry.manifest_digest(name, new_tag) is None
    assert not local_image_exists(env, refused["image_uri"])
    assert registry.manifest_digest(name, "v1") == first["digest"]


def test_refusals_come_before_any_change(tmp_path, env, aws, registry):
    ecr = aws.client("ecr")
    context = write_context(str(tmp_path / "ctx"), {"a.txt": "1\n"})

    def refused(args, **kwargs):
        result, output = run_module(tmp_path, env, args, expect_failure=True, **kwargs)
        assert ecr.describe_repositories()["repositories"] == [], "a repository was created: " + result["msg"]
        return result["msg"]

    assert "build context %s/missing does not exist" % tmp_path in refused(
        base_args("demo/x", str(tmp_path / "missing"), registry))
    assert "Dockerfile %s/ctx/Containerfile does not exist" % tmp_path in refused(
        base_args("demo/x", context, registry, dockerfile="Containerfile"))
    assert "no image builder is installed: install docker, podman or buildah" in refused(
        base_args("demo/x", context, registry, builder="auto"),
        extra_env={"PATH": path_without_builders(str(tmp_path / "bin"))})

    # A build that fails: the tail of the build log is in the message.
    broken = write_context(str(tmp_path / "broken"), {"a.txt": "1\n"},
                           dockerfile="FROM scratch\nCOPY missing-file.txt /\n")
    message = refused(base_args("demo/broken", broken, registry))
    assert "buildah build of" in message and "failed" in message
    assert "missing-file.txt" in message

    # The registry refuses the credentials (an anonymous client against the htpasswd registry).
    message = refused(base_args("demo/x", context, registry, registry_auth="none"))
    assert "refused the credentials (HTTP 401)" in message


def test_refused_push_is_reported_with_the_log(tmp_path, env, aws):
    require_tools()
    readonly = LocalRegistry(str(tmp_path / "readonly"), readonly=True)
    try:
        context = write_context(str(tmp_path / "ctx"), {"a.txt": "1\n"})
        result, dummy = run_module(tmp_path, env, base_args("demo/readonly", context, readonly), expect_failure=True)
    finally:
        readonly.stop()
    assert "the registry refused the push of %s" % result["image_uri"] in result["msg"]
    assert "buildah push exit" in result["msg"]
    assert result["built"] and not result["pushed"]


def test_push_false_builds_locally_once(tmp_path, env, registry):
    name = "demo/local"
    context = write_context(str(tmp_path / "ctx"), {"a.txt": "local\n"})
    args = base_args(name, context, registry, push=False)
    first, dummy = run_module(tmp_path, env, args)
    assert first["changed"] and first["built"] and not first["pushed"] and first["digest"] is None
    assert local_image_exists(env, first["image_uri"])
    assert registry.manifest_digest(name, first["content_tag"]) is None
    second, dummy = run_module(tmp_path, env, args)
    assert not second["changed"] and not second["built"]
    # Pushing later reuses the local image: pushed, not rebuilt.
    third, dummy = run_module(tmp_path, env, dict(args, push=True))
    assert third["pushed"] and not third["built"]
    assert third["digest"] == registry.manifest_digest(name, first["content_tag"])


def test_images_playbook_in_check_mode_plans_all_three_images(tmp_path, env, aws, registry):
    """playbooks/images.yml wiring: every image planned, images_info published, nothing changed."""
    argv = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", "--check",
            "-e", "ansible_python_interpreter=" + sys.executable,
            "-e", json.dumps({"images_registry": registry.host, "images_insecure_registry": True,
                              "images_builder": "buildah", "images_isolation": "chroot",
                              "eks_cluster_name": "mlops-test", "platform_environment": "imagetest"}),
            os.path.join(REPO_ROOT, "playbooks", "images.yml")]
    proc = subprocess.run(argv, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:]
    for image in ("mlflow", "airflow", "trainer"):
        assert re.search(r"%s: %s/mlops-test/%s:ctx-[0-9a-f]{24}" % (image, re.escape(registry.host), image),
                         proc.stdout), proc.stdout[-6000:]
    assert aws.client("ecr").describe_repositories()["repositories"] == []
