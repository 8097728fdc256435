# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for ecr_image's decisions: repository plan, tag plan, builder choice and command lines,
the registry client's edge cases. The real build/push/registry path is in
tests/integration/test_ecr_image.py."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import stat
import threading

import pytest

from ansible_collections.mlops.eks_platform.plugins.module_utils.ecr import builder as eb
from ansible_collections.mlops.eks_platform.plugins.module_utils.ecr import image as ei
from ansible_collections.mlops.eks_platform.plugins.module_utils.ecr import registry as er

ARN = "arn:aws:ecr:eu-west-1:123456789012:repository/demo"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"


def desired(**overrides):
    params = dict(image_tag_mutability="immutable", scan_on_push=True, encryption_type="KMS", kms_key=None,
                  lifecycle_policy=None, repository_tags=None, purge_repository_tags=True)
    params.update(overrides)
    return ei.desired_repository(params)


def existing(**overrides):
    repo = dict(repositoryName="demo", repositoryArn=ARN, registryId="123456789012",
                repositoryUri="123456789012.dkr.ecr.eu-west-1.amazonaws.com/demo",
                imageTagMutability="IMMUTABLE", imageScanningConfiguration={"scanOnPush": True},
                encryptionConfiguration={"encryptionType": "KMS", "kmsKey": KEY})
    repo.update(overrides)
    return repo


POLICY = {"rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                                                      "countUnit": "days", "countNumber": 14},
                     "action": {"type": "expire"}}]}


# -- repository plan ------------------------------------------------------------------------

def test_new_repository_is_created_with_kms_scan_immutability_tags_and_lifecycle():
    steps = ei.plan_repository(None, desired(repository_tags={"ManagedBy": "mlops.eks_platform"},
                                             lifecycle_policy=json.dumps(POLICY)))
    assert [s[1] for s in steps] == ["create_repository", "put_lifecycle_policy"]
    create = steps[0][2]
    assert create["imageTagMutability"] == "IMMUTABLE"
    assert create["imageScanningConfiguration"] == {"scanOnPush": True}
    assert create["encryptionConfiguration"] == {"encryptionType": "KMS"}
    assert create["tags"] == [{"Key": "ManagedBy", "Value": "mlops.eks_platform"}]
    assert json.loads(steps[1][2]["lifecyclePolicyText"]) == POLICY


def test_new_repository_with_a_customer_key():
    steps = ei.plan_repository(None, desired(kms_key="alias/ecr"))
    assert steps[0][2]["encryptionConfiguration"] == {"encryptionType": "KMS", "kmsKey": "alias/ecr"}


def test_matching_repository_needs_nothing():
    policy = ei.canonical_policy(POLICY)
    steps = ei.plan_repository(existing(), desired(lifecycle_policy=json.dumps(POLICY, indent=4),
                                                   repository_tags={"a": "1"}, kms_key="alias/ecr"),
                               lifecycle=policy, tags={"a": "1"}, kms_arn=KEY)
    assert steps == []


def test_settings_that_differ_are_updated_one_call_each():
    steps = ei.plan_repository(existing(imageTagMutability="MUTABLE", imageScanningConfiguration={"scanOnPush": False}),
                               desired(lifecycle_policy=json.dumps(POLICY), repository_tags={"a": "2", "b": "1"}),
                               lifecycle=None, tags={"a": "1", "old": "x"})
    ops = {s[1]: s[2] for s in steps}
    assert ops["put_image_tag_mutability"] == {"imageTagMutability": "IMMUTABLE"}
    assert ops["put_image_scanning_configuration"] == {"imageScanningConfiguration": {"scanOnPush": True}}
    assert "put_lifecycle_policy" in ops
    assert sorted(t["Key"] for t in ops["tag_resource"]["tags"]) == ["a", "b"]
    assert ops["untag_resource"] == {"resourceArn": ARN, "tagKeys": ["old"]}


def test_tags_left_alone_when_not_requested_and_kept_without_purge():
    assert ei.plan_repository(existing(), desired(), tags={"x": "y"}) == []
    steps = ei.plan_repository(existing(), desired(repository_tags={"a": "1"}, purge_repository_tags=False),
                               tags={"a": "1", "x": "y"})
    assert steps == []


def test_encryption_type_cannot_change():
    with pytest.raises(ei.PlanError, match="encrypted with AES256, not KMS.*cannot change"):
        ei.plan_repository(existing(encryptionConfiguration={"encryptionType": "AES256"}), desired())


def test_kms_key_cannot_change():
    other = KEY.replace("1111", "9999")
    with pytest.raises(ei.PlanError, match="KMS key"):
        ei.plan_repository(existing(), desired(kms_key="alias/other"), kms_arn=other)


# -- tag plan -------------------------------------------------------------------------------

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def test_unchanged_image_with_its_tags_needs_nothing():
    assert ei.plan_tags(D1, {"latest": D1, "v1": D1}, True, "r/demo", "ctx-a") == []


def test_missing_tags_are_added_even_when_immutable():
    assert ei.plan_tags(D1, {"v1": None, "latest": D1}, True, "r/demo", "ctx-a") == ["v1"]
    assert ei.plan_tags(None, {"v2": None}, True, "r/demo", "ctx-a") == ["v2"]


def test_mutable_tags_move():
    assert ei.plan_tags(D1, {"latest": D2}, False, "r/demo", "ctx-a") == ["latest"]
    assert ei.plan_tags(None, {"latest": D2}, False, "r/demo", "ctx-a") == ["latest"]


def test_immutable_tag_pointing_elsewhere_is_refused_before_building():
    with pytest.raises(ei.PlanError) as e:
        ei.plan_tags(None, {"v1": D2}, True, "r/demo", "ctx-new")
    message = str(e.value)
    assert "v1" in message and D2 in message and "ctx-new" in message and "immutable" in message


def test_immutable_tag_pointing_elsewhere_is_refused_without_building():
    with pytest.raises(ei.PlanError, match="immutable"):
        ei.plan_tags(D1, {"v1": D2}, True, "r/demo", "ctx-a")


# -- builders -------------------------------------------------------------------------------

def which_of(*installed):
    return lambda name: "/usr/bin/" + name if name in installed else None


def test_auto_picks_what_is_installed():
    assert eb.find_builder("auto", which_of("buildah")) == ("buildah", "/usr/bin/buildah")
    assert eb.find_builder("auto", which_of("podman", "buildah"))[0] == "podman"
    assert eb.find_builder("auto", which_of("docker", "buildah"))[0] == "docker"


def test_no_builder_installed_is_a_clear_error():
    with pytest.raises(eb.BuilderError, match="no image builder is installed: install docker, podman or buildah"):
        eb.find_builder("auto", which_of())
    with pytest.raises(eb.BuilderError, match="the builder podman is not installed"):
        eb.find_builder("podman", which_of("buildah"))


def test_auto_skips_a_docker_cli_without_daemon():
    builder = eb.usable_builder("auto", which_of("docker", "buildah"), daemon_answers=lambda path: False)
    assert builder.name == "buildah"
    builder = eb.usable_builder("auto", which_of("docker", "buildah"), daemon_answers=lambda path: True)
    assert builder.name == "docker"
    with pytest.raises(eb.BuilderError, match="daemon does not answer"):
        eb.usable_builder("docker", which_of("docker"), daemon_answers=lambda path: False)
    with pytest.raises(eb.BuilderError, match="no usable image builder"):
        eb.usable_builder("auto", which_of("docker"), daemon_answers=lambda path: False)


BUILD = dict(context="/ctx", dockerfile="/ctx/Dockerfile", image="reg:5000/demo:ctx-1",
             build_args={"B": "2", "A": "1"}, secrets=[{"id": "ca-bundle", "src": "/etc/ca.crt"}],
             platform="linux/amd64", target="final", isolation="chroot", authfile="/tmp/x/config.json",
             insecure=True, image_format="docker")


def test_buildah_build_command():
    argv = eb.Builder("buildah", "/usr/bin/buildah").build_argv(**BUILD)
    assert argv == ["/usr/bin/buildah", "build", "--layers", "--format=docker", "--isolation=chroot",
                    "--authfile=/tmp/x/config.json", "--tls-verify=false", "--platform=linux/amd64",
                    "--file", "/ctx/Dockerfile", "--tag", "reg:5000/demo:ctx-1",
                    "--build-arg", "A=1", "--build-arg", "B=2",
                    "--secret", "id=ca-bundle,src=/etc/ca.crt", "--target", "final", "/ctx"]


def test_podman_build_command_has_no_layers_flag():
    argv = eb.Builder("podman", "/usr/bin/podman").build_argv(**BUILD)
    assert argv[:2] == ["/usr/bin/podman", "build"] and "--layers" not in argv
    assert "--isolation=chroot" in argv and "--tls-verify=false" in argv


def test_docker_build_command_has_no_podman_only_flags():
    argv = eb.Builder("docker", "/usr/bin/docker").build_argv(**BUILD)
    for flag in ("--isolation=chroot", "--authfile=/tmp/x/config.json", "--tls-verify=false", "--format=docker"):
        assert flag not in argv
    assert "--secret" in argv and "--platform=linux/amd64" in argv


def test_push_commands_never_carry_credentials():
    buildah = eb.Builder("buildah", "/usr/bin/buildah").push_argv(
        "reg:5000/demo:ctx-1", "reg:5000/demo:ctx-1", authfile="/tmp/x/config.json", insecure=True,
        digestfile="/tmp/x/digest")
    assert buildah == ["/usr/bin/buildah", "push", "--authfile=/tmp/x/config.json", "--tls-verify=false",
                       "--digestfile=/tmp/x/digest", "reg:5000/demo:ctx-1", "docker://reg:5000/demo:ctx-1"]
    assert eb.Builder("docker", "/usr/bin/docker").push_argv("r/d:t", "r/d:t") == ["/usr/bin/docker", "push", "r/d:t"]


def test_local_image_commands():
    assert eb.Builder("buildah", "b").exists_argv("i") == ["b", "inspect", "--type", "image", "i"]
    assert eb.Builder("podman", "p").exists_argv("i") == ["p", "image", "exists", "i"]
    assert eb.Builder("docker", "d").exists_argv("i") == ["d", "image", "inspect", "i"]


def test_auth_file_is_private_and_in_docker_format(tmp_path):
    path = eb.write_auth_dir(str(tmp_path), "123.dkr.ecr.eu-west-1.amazonaws.com", "AWS", "s3cret")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as f:
        auths = json.load(f)["auths"]
    assert base64.b64decode(auths["123.dkr.ecr.eu-west-1.amazonaws.com"]["auth"]) == b"AWS:s3cret"


def test_failed_build_reports_the_tail_of_the_log(tmp_path):
    script = tmp_path / "fakebuilder"
    script.write_text("#!/bin/sh\nfor i in $(seq 1 100); do echo line $i; done\necho 'error: COPY failed' >&2\nexit 3\n")
    script.chmod(0o755)
    with pytest.raises(eb.BuilderError) as e:
        eb.Builder("buildah", str(script)).build(**BUILD)
    message = str(e.value)
    assert "exit 3" in message and "error: COPY failed" in message and "line 100" in message
    assert "line 50" not in message


def test_log_tail():
    assert eb.log_tail("\n".join(str(i) for i in range(100)), lines=3) == "97\n98\n99"


# -- validation patterns --------------------------------------------------------------------

@pytest.mark.parametrize("name,ok", [("mlflow", True), ("mlops/mlflow", True), ("a.b-c_d/e", True),
                                     ("MLflow", False), ("-x", False), ("a//b", False), ("a/", False)])
def test_repository_names(name, ok):
    assert bool(ei.REPOSITORY_NAME.match(name)) is ok


REGISTRY_CASES = [
    ("127.0.0.1:5000", "127.0.0.1:5000", ""),
    ("localhost:5000/team", "localhost:5000", "/team"),
    ("registry.example.com", "registry.example.com", ""),
]


@pytest.mark.parametrize("registry,host,prefix", REGISTRY_CASES)
def test_registry_option(registry, host, prefix):
    match = ei.REGISTRY.match(registry)
    assert match.group("host") == host and match.group("prefix") == prefix


def test_registry_option_refuses_a_scheme():
    assert ei.REGISTRY.match("https://127.0.0.1:5000") is None


# -- registry client ------------------------------------------------------------------------

MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {}, "layers": []}).encode()
MANIFEST_DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    store = {}
    with_digest_header = True
    require_auth = None

    def log_message(self, *args):
        pass

    def _authorised(self):
        if self.require_auth is None:
            return True
        expected = "Basic " + base64.b64encode(self.require_auth.encode()).decode()
        if self.headers.get("Authorization") == expected:
            return True
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="test"')
        self.end_headers()
        return False

    def _manifest(self, send_body):
        if not self._authorised():
            return
        tag = self.path.rsplit("/", 1)[1]
        body = self.store.get(tag)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        if self.with_digest_header:
            self.send_header("Docker-Content-Digest", "sha256:" + hashlib.sha256(body).hexdigest())
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def do_HEAD(self):
        self._manifest(False)

    def do_GET(self):
        self._manifest(True)

    def do_PUT(self):
        if not self._authorised():
            return
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.store[self.path.rsplit("/", 1)[1]] = body
        self.send_response(201)
        self.send_header("Docker-Content-Digest", "sha256:" + hashlib.sha256(body).hexdigest())
        self.end_headers()


@pytest.fixture
def stub_registry():
    _Handler.store = {"v1": MANIFEST}
    _Handler.with_digest_header = True
    _Handler.require_auth = None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def test_registry_lookup_found_missing_and_retag(stub_registry):
    registry = er.Registry(stub_registry, insecure=True)
    assert registry.manifest_digest("demo", "v1") == MANIFEST_DIGEST
    assert registry.manifest_digest("demo", "v2") is None
    body, media_type, digest = registry.get_manifest("demo", "v1")
    assert digest == MANIFEST_DIGEST and media_type == "application/vnd.oci.image.manifest.v1+json"
    assert registry.put_manifest("demo", "latest", body, media_type) == MANIFEST_DIGEST
    assert registry.manifest_digest("demo", "latest") == MANIFEST_DIGEST
    assert registry.requests == 5  # one request per call, no auth round trips


def test_registry_without_digest_header_falls_back_to_the_body(stub_registry):
    _Handler.with_digest_header = False
    assert er.Registry(stub_registry, insecure=True).manifest_digest("demo", "v1") == MANIFEST_DIGEST


def test_registry_basic_auth_sent_on_the_first_request(stub_registry):
    _Handler.require_auth = "AWS:token-password"
    registry = er.Registry(stub_registry, username="AWS", password="token-password", insecure=True)
    assert registry.manifest_digest("demo", "v1") == MANIFEST_DIGEST
    assert registry.requests == 1


def test_registry_refusing_credentials_is_a_clear_error(stub_registry):
    _Handler.require_auth = "AWS:right"
    with pytest.raises(er.RegistryError) as e:
        er.Registry(stub_registry, username="AWS", password="wrong", insecure=True).manifest_digest("demo", "v1")
    assert e.value.status == 401 and "refused the credentials" in str(e.value) and "wrong" not in str(e.value)


def test_unreachable_registry_is_a_clear_error():
    with pytest.raises(er.RegistryError, match="cannot reach the registry 127.0.0.1:9"):
        er.Registry("127.0.0.1:9", insecure=True, timeout=5).manifest_digest("demo", "v1")
