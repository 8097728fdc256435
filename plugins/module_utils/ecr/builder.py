# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The image builders ecr_image drives: docker, podman and buildah.

Each builder turns the same request (context, Dockerfile, build args, secrets, platform,
target, the image reference to produce) into its own command lines, and pushes with an
authentication file that lives in a private temporary directory for the duration of the
push only, so registry passwords never appear on a command line or in a log.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess

BUILDERS = ("docker", "podman", "buildah")
# ``auto`` tries them in this order; docker only counts when its daemon answers.
AUTO_ORDER = ("docker", "podman", "buildah")
LOG_TAIL_LINES = 30


class BuilderError(Exception):
    """A builder is missing or a build/push command failed; the message carries the log tail."""


def log_tail(text, lines=LOG_TAIL_LINES):
    return "\n".join((text or "").rstrip().splitlines()[-lines:])


def _run(argv, env=None, timeout=None, input_text=None):
    """Run a command; ``(returncode, combined output)``. Never raises for a non-zero exit."""
    try:
        proc = subprocess.run(argv, env=env, input=input_text, timeout=timeout, check=False, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except subprocess.TimeoutExpired as e:
        output = e.output or ""
        if isinstance(output, bytes):
            output = output.decode("utf-8", "replace")
        return 124, output + "\n(timed out after %s seconds)" % timeout
    except OSError as e:
        return 127, "cannot run %s: %s" % (argv[0], e)
    return proc.returncode, proc.stdout


def docker_daemon_answers(docker, timeout=20):
    rc, dummy = _run([docker, "version", "--format", "{{.Server.Version}}"], timeout=timeout)
    return rc == 0


def find_builder(choice, which=shutil.which):
    """``(name, executable)`` of the builder to use, checking only that it is installed.

    With ``auto`` this is the first of docker, podman, buildah on PATH; :func:`usable_builder`
    later skips a docker CLI whose daemon does not answer.
    """
    names = AUTO_ORDER if choice == "auto" else (choice,)
    for name in names:
        path = which(name)
        if path:
            return name, path
    if choice == "auto":
        raise BuilderError("no image builder is installed: install docker, podman or buildah "
                           "(none of them is on PATH)")
    raise BuilderError("the builder %s is not installed (not found on PATH)" % choice)


def usable_builder(choice, which=shutil.which, daemon_answers=docker_daemon_answers):
    """Like :func:`find_builder`, but also makes sure docker's daemon answers before picking it."""
    names = AUTO_ORDER if choice == "auto" else (choice,)
    found = []
    for name in names:
        path = which(name)
        if not path:
            continue
        found.append(name)
        if name == "docker" and not daemon_answers(path):
            continue
        return Builder(name, path)
    if choice == "docker" and found:
        raise BuilderError("docker is installed but its daemon does not answer (docker version failed); "
                           "start it, or choose builder=podman or builder=buildah")
    if found:
        raise BuilderError("no usable image builder: docker is installed but its daemon does not answer, "
                           "and neither podman nor buildah is installed")
    return Builder(*find_builder(choice, which))


class Builder(object):
    """One builder executable and how to call it."""

    def __init__(self, name, executable):
        if name not in BUILDERS:
            raise BuilderError("unknown builder %s" % name)
        self.name = name
        self.executable = executable

    # -- command lines ------------------------------------------------------------------

    def build_argv(self, context, dockerfile, image, build_args=None, secrets=None, platform=None,
                   target=None, isolation=None, authfile=None, insecure=False, pull=None, image_format=None):
        argv = [self.executable, "build"]
        if self.name == "buildah":
            argv.append("--layers")
        if self.name in ("podman", "buildah"):
            if image_format:
                argv.append("--format=%s" % image_format)
            if isolation:
                argv.append("--isolation=%s" % isolation)
            if authfile:
                argv.append("--authfile=%s" % authfile)
            if insecure:
                argv.append("--tls-verify=false")
        if pull is not None:
            argv.append("--pull=%s" % pull)
        if platform:
            argv.append("--platform=%s" % platform)
        argv += ["--file", dockerfile, "--tag", image]
        for key in sorted(build_args or {}):
            argv += ["--build-arg", "%s=%s" % (key, build_args[key])]
        for secret in secrets or []:
            argv += ["--secret", "id=%s,src=%s" % (secret["id"], secret["src"])]
        if target:
            argv += ["--target", target]
        argv.append(context)
        return argv

    def push_argv(self, image, destination, authfile=None, insecure=False, digestfile=None):
        if self.name == "docker":
            # docker pushes the tag it built; credentials come from DOCKER_CONFIG (see push_env).
            return [self.executable, "push", image]
        argv = [self.executable, "push"]
        if authfile:
            argv.append("--authfile=%s" % authfile)
        if insecure:
            argv.append("--tls-verify=false")
        if digestfile:
            argv.append("--digestfile=%s" % digestfile)
        argv += [image, "docker://" + destination]
        return argv

    def exists_argv(self, image):
        if self.name == "buildah":
            return [self.executable, "inspect", "--type", "image", image]
        if self.name == "podman":
            return [self.executable, "image", "exists", image]
        return [self.executable, "image", "inspect", image]

    # -- actions ------------------------------------------------------------------------

    def local_image_exists(self, image):
        rc, dummy = _run(self.exists_argv(image), timeout=120)
        return rc == 0

    def build(self, timeout=None, env=None, **kwargs):
        argv = self.build_argv(**kwargs)
        rc, output = _run(argv, env=env, timeout=timeout)
        if rc != 0:
            raise BuilderError("%s build of %s failed (exit %d). Last lines of the build log:\n%s"
                               % (self.name, kwargs.get("image"), rc, log_tail(output)))
        return output

    def push(self, image, destination, auth_dir=None, insecure=False, timeout=None, work_dir=None):
        """Push ``image`` to ``destination`` (``host/name:tag``).

        ``auth_dir`` holds ``config.json`` with the registry credentials (None: anonymous);
        ``work_dir`` is a private directory for the digest file. Returns ``(digest, log)``;
        the digest is the one the builder reports (None for docker).
        """
        authfile = os.path.join(auth_dir, "config.json") if auth_dir else None
        env = dict(os.environ)
        if self.name == "docker" and auth_dir:
            env["DOCKER_CONFIG"] = auth_dir
        digestfile = os.path.join(work_dir, "digest") if work_dir and self.name != "docker" else None
        argv = self.push_argv(image, destination, authfile=authfile, insecure=insecure, digestfile=digestfile)
        rc, output = _run(argv, env=env, timeout=timeout)
        if rc != 0:
            raise BuilderError("the registry refused the push of %s (%s push exit %d). Last lines of the log:\n%s"
                               % (destination, self.name, rc, log_tail(output)))
        digest = None
        if digestfile and os.path.exists(digestfile):
            with open(digestfile) as f:
                digest = f.read().strip() or None
        return digest, output


def write_auth_dir(directory, registry, username, password):
    """Write ``config.json`` (Docker's format, read by podman and buildah too) into ``directory``.

    ``directory`` must be private (mode 0700); the file is created with mode 0600.
    """
    path = os.path.join(directory, "config.json")
    token = base64.b64encode(("%s:%s" % (username, password)).encode("utf-8")).decode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"auths": {registry: {"auth": token}}}, f)
    return path
