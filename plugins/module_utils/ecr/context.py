# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The content digest of a container build context, for mlops.eks_platform.ecr_image.

The digest covers exactly what decides the image a builder produces from a context:

* every file, directory and symbolic link of the context that the context's ``.dockerignore``
  does not exclude (relative path, kind, executable bit, content or link target), with the
  ``.dockerignore`` rules of Docker and BuildKit (``moby/patternmatcher``: ``*``, ``?``,
  ``[...]``, ``**``, ``!`` exceptions, the last matching rule wins, a rule matching a
  directory excludes everything below it);
* the Dockerfile's content (wherever it lives, even when ``.dockerignore`` excludes it);
* the build arguments, the target stage, the platform and the image format.

It does not depend on the order in which the file system lists entries, on modification
times, owners or permission bits other than the executable bit (so a checkout on another
machine, with another umask, gets the same digest). Build secrets are deliberately not part
of it: they are credentials, not content.

Pure Python, no Ansible imports: the unit tests and the benchmark use it directly.
"""

from __future__ import annotations

import hashlib
import os
import platform as _platform
import re
import stat

# Bump when the serialisation below changes, so that old tags never match new digests.
DIGEST_VERSION = "mlops.eks_platform/ecr_image context digest v1"
DOCKERIGNORE = ".dockerignore"
_CHUNK = 1024 * 1024

_ARCHES = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm/v7",
    "armv6l": "arm/v6",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


class ContextError(Exception):
    """The build context cannot be read (missing, not a directory, a bad .dockerignore)."""


def host_platform():
    """The platform a builder targets by default on this machine, as ``os/arch[/variant]``."""
    machine = _platform.machine().lower()
    return "linux/" + _ARCHES.get(machine, machine)


def _go_clean(path):
    """Go's ``filepath.Clean`` for slash-separated paths (what Docker applies to patterns)."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def read_dockerignore(text):
    """The patterns of a ``.dockerignore`` file, normalised as Docker's ``ignorefile.ReadAll``."""
    patterns = []
    for number, line in enumerate(text.splitlines()):
        if number == 0 and line.startswith("\ufeff"):
            line = line[1:]
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        invert = line.startswith("!")
        if invert:
            line = line[1:].strip()
        if line:
            line = _go_clean(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        patterns.append(("!" + line) if invert else line)
    return patterns


class _Pattern(object):
    """One ``.dockerignore`` rule, matched the way ``moby/patternmatcher`` matches it."""

    def __init__(self, text):
        self.exclusion = text.startswith("!")
        if self.exclusion:
            text = text[1:]
            if not text:
                raise ContextError('illegal exclusion pattern "!" in .dockerignore')
        self.cleaned = _go_clean(text)
        self.kind, self.regexp = self._compile(self.cleaned)

    @staticmethod
    def _compile(pattern):
        regex = "^"
        kind = "exact"
        i = 0
        n = len(pattern)
        position = 0
        while i < n:
            ch = pattern[i]
            i += 1
            if ch == "*":
                if i < n and pattern[i] == "*":
                    i += 1
                    if i < n and pattern[i] == "/":
                        i += 1
                    if i >= n:
                        if kind == "exact":
                            kind = "prefix"
                        else:
                            regex += ".*"
                            kind = "regexp"
                    else:
                        regex += "(.*/)?"
                        kind = "regexp"
                    if position == 0:
                        kind = "suffix"
                else:
                    regex += "[^/]*"
                    kind = "regexp"
            elif ch == "?":
                regex += "[^/]"
                kind = "regexp"
            elif ch in ".+()|{}$":
                regex += "\\" + ch
            elif ch == "\\":
                if i < n:
                    regex += "\\" + pattern[i]
                    i += 1
                    kind = "regexp"
                else:
                    regex += "\\\\"
            elif ch in "[]":
                regex += ch
                kind = "regexp"
            else:
                # Everything else is literal, as in moby (a stray "^" stays an anchor there too).
                regex += ch
            position += 1
        if kind != "regexp":
            return kind, None
        try:
            return "regexp", re.compile(regex + "$", re.DOTALL)
        except re.error as e:
            raise ContextError("bad pattern %r in .dockerignore: %s" % (pattern, e))

    def match(self, path):
        if self.kind == "exact":
            return path == self.cleaned
        if self.kind == "prefix":
            return path.startswith(self.cleaned[:-2])
        if self.kind == "suffix":
            suffix = self.cleaned[2:]
            if path.endswith(suffix):
                return True
            return suffix.startswith("/") and path == suffix[1:]
        return self.regexp.match(path) is not None


class DockerIgnore(object):
    """The exclusion rules of one ``.dockerignore``; ``excluded(path)`` for a context-relative path."""

    def __init__(self, patterns=()):
        self.patterns = [_Pattern(p) for p in patterns]
        self.has_exceptions = any(p.exclusion for p in self.patterns)

    @classmethod
    def from_context(cls, context_dir):
        path = os.path.join(context_dir, DOCKERIGNORE)
        if not os.path.isfile(path):
            return cls()
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", errors="surrogateescape")
        return cls(read_dockerignore(text))

    def excluded(self, path):
        """Whether ``path`` (slash-separated, relative to the context) is left out of the context."""
        matched = False
        parent = path.rsplit("/", 1)[0] if "/" in path else "."
        parent_dirs = parent.split("/")
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            hit = pattern.match(path)
            if not hit and parent != ".":
                for i in range(len(parent_dirs)):
                    if pattern.match("/".join(parent_dirs[:i + 1])):
                        hit = True
                        break
            if hit:
                matched = not pattern.exclusion
        return matched


def _file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                break
            h.update(chunk)
    return h.hexdigest()


def context_entries(context_dir, ignore=None):
    """The entries of the build context that a builder would send, sorted by path.

    Each entry is a tuple ``(path, kind, executable, content)``: ``kind`` is ``dir``, ``file``
    or ``link``; ``content`` is the SHA-256 of a file, the target of a link, empty for a
    directory. Sockets, FIFOs and device files are never part of a build context.
    """
    if not os.path.isdir(context_dir):
        raise ContextError("build context %s is not a directory" % context_dir)
    if ignore is None:
        ignore = DockerIgnore.from_context(context_dir)
    entries = []

    def walk(abs_dir, rel_dir):
        try:
            names = sorted(os.listdir(abs_dir))
        except OSError as e:
            raise ContextError("cannot read %s: %s" % (abs_dir, e.strerror or e))
        for name in names:
            rel = name if not rel_dir else rel_dir + "/" + name
            full = os.path.join(abs_dir, name)
            try:
                st = os.lstat(full)
            except OSError as e:
                raise ContextError("cannot read %s: %s" % (full, e.strerror or e))
            excluded = ignore.excluded(rel)
            if stat.S_ISDIR(st.st_mode):
                if not excluded:
                    entries.append((rel, "dir", False, ""))
                    walk(full, rel)
                elif ignore.has_exceptions:
                    # An exception rule ("!dir/keep") may bring back something below.
                    walk(full, rel)
                continue
            if excluded:
                continue
            if stat.S_ISLNK(st.st_mode):
                entries.append((rel, "link", False, os.readlink(full)))
            elif stat.S_ISREG(st.st_mode):
                try:
                    digest = _file_digest(full)
                except OSError as e:
                    raise ContextError("cannot read %s: %s" % (full, e.strerror or e))
                entries.append((rel, "file", bool(st.st_mode & 0o111), digest))

    walk(context_dir, "")
    entries.sort()
    return entries


def context_digest(context_dir, dockerfile, build_args=None, platform=None, target=None, image_format=None):
    """SHA-256 (hex) of the build context, the Dockerfile, the build args, target, platform and format.

    ``dockerfile`` is a path (absolute, or relative to ``context_dir``). ``platform`` None
    means the builder's default for this host (see :func:`host_platform`). ``image_format``
    is the manifest format asked of the builder (``docker`` or ``oci``).
    """
    context_dir = os.path.abspath(context_dir)
    if not os.path.isdir(context_dir):
        raise ContextError("build context %s does not exist or is not a directory" % context_dir)
    dockerfile_path = dockerfile if os.path.isabs(dockerfile) else os.path.join(context_dir, dockerfile)
    if not os.path.isfile(dockerfile_path):
        raise ContextError("Dockerfile %s does not exist" % dockerfile_path)

    h = hashlib.sha256()

    def field(*parts):
        for part in parts:
            data = part if isinstance(part, bytes) else str(part).encode("utf-8", errors="surrogateescape")
            h.update(str(len(data)).encode("ascii") + b":" + data)
        h.update(b"\n")

    field("version", DIGEST_VERSION)
    field("dockerfile", _file_digest(dockerfile_path))
    field("platform", platform or host_platform())
    field("target", target or "")
    field("format", image_format or "")
    for key in sorted(build_args or {}):
        value = (build_args or {})[key]
        field("build-arg", key, "" if value is None else value)
    for path, kind, executable, content in context_entries(context_dir):
        field("entry", kind, path, "x" if executable else "-", content)
    return h.hexdigest()
