# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the build-context digest of ecr_image (plugins/module_utils/ecr/context.py).

The digest decides whether an image is rebuilt, so it must be stable (same context, same
digest, whatever the file order, modification times or umask) and sensitive (any change
that changes the image changes it), and it must leave out exactly what .dockerignore leaves
out of the build context.
"""

from __future__ import annotations

import os
import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.mlops.eks_platform.plugins.module_utils.ecr import context as ec

DOCKERFILE = "FROM scratch\nCOPY . /ctx/\n"


def make_context(root, files, dockerfile=DOCKERFILE, order=None):
    """Write ``files`` ({relative path: bytes}) under ``root`` in ``order`` (default: sorted)."""
    os.makedirs(root, exist_ok=True)
    names = list(files) if order is None else order
    for name in names:
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(files[name])
    if dockerfile is not None:
        with open(os.path.join(root, "Dockerfile"), "w") as f:
            f.write(dockerfile)
    return str(root)


def digest(root, **kwargs):
    return ec.context_digest(root, kwargs.pop("dockerfile", "Dockerfile"), **kwargs)


FILES = {
    "app/main.py": b"print('hello')\n",
    "app/util/__init__.py": b"",
    "requirements.txt": b"mlflow==3.17.2\n",
    "README.md": b"# docs\n",
}


# -- stability ------------------------------------------------------------------------------

def test_same_context_same_digest_across_runs(tmp_path):
    root = make_context(tmp_path / "c", FILES)
    first = digest(root)
    assert len(first) == 64 and int(first, 16) >= 0
    assert digest(root) == first


def test_digest_ignores_creation_order_and_directory_location(tmp_path):
    names = sorted(FILES)
    shuffled = list(reversed(names))
    a = make_context(tmp_path / "a", FILES, order=names)
    b = make_context(tmp_path / "elsewhere" / "b", FILES, order=shuffled)
    assert digest(a) == digest(b)


def test_digest_ignores_mtime_and_non_executable_permission_bits(tmp_path):
    root = make_context(tmp_path / "c", FILES)
    before = digest(root)
    path = os.path.join(root, "requirements.txt")
    os.utime(path, (time.time() - 86400, time.time() - 86400))
    os.chmod(path, 0o600)
    assert digest(root) == before


def test_build_args_order_does_not_matter(tmp_path):
    root = make_context(tmp_path / "c", FILES)
    assert digest(root, build_args={"A": "1", "B": "2"}) == digest(root, build_args={"B": "2", "A": "1"})


def test_unset_platform_means_this_hosts_platform(tmp_path):
    root = make_context(tmp_path / "c", FILES)
    assert digest(root) == digest(root, platform=ec.host_platform())
    assert ec.host_platform().startswith("linux/")


# -- sensitivity ----------------------------------------------------------------------------

@pytest.mark.parametrize("change", [
    "content", "new_file", "removed_file", "renamed_file", "executable_bit", "empty_dir", "symlink", "dockerfile",
])
def test_any_change_to_the_context_changes_the_digest(tmp_path, change):
    root = make_context(tmp_path / "c", FILES)
    before = digest(root)
    if change == "content":
        with open(os.path.join(root, "app/main.py"), "ab") as f:
            f.write(b"#")
    elif change == "new_file":
        make_context(root, {"app/new.py": b"x"}, dockerfile=None)
    elif change == "removed_file":
        os.remove(os.path.join(root, "README.md"))
    elif change == "renamed_file":
        os.rename(os.path.join(root, "README.md"), os.path.join(root, "README.txt"))
    elif change == "executable_bit":
        os.chmod(os.path.join(root, "app/main.py"), 0o755)
    elif change == "empty_dir":
        os.mkdir(os.path.join(root, "data"))
    elif change == "symlink":
        os.symlink("app/main.py", os.path.join(root, "main.py"))
    elif change == "dockerfile":
        with open(os.path.join(root, "Dockerfile"), "a") as f:
            f.write("LABEL a=b\n")
    assert digest(root) != before


def test_symlink_target_is_part_of_the_digest(tmp_path):
    root = make_context(tmp_path / "c", FILES)
    link = os.path.join(root, "current")
    os.symlink("app", link)
    before = digest(root)
    os.remove(link)
    os.symlink("app/util", link)
    assert digest(root) != before


def test_build_args_target_platform_and_format_change_the_digest(tmp_path):
    root = make_context(tmp_path / "c", FILES)
    base = digest(root, build_args={"BASE_IMAGE": "python:3.11"}, platform="linux/amd64")
    assert digest(root, build_args={"BASE_IMAGE": "python:3.12"}, platform="linux/amd64") != base
    assert digest(root, build_args={"BASE_IMAGE": "python:3.11", "X": ""}, platform="linux/amd64") != base
    assert digest(root, build_args={"BASE_IMAGE": "python:3.11"}, platform="linux/arm64") != base
    assert digest(root, build_args={"BASE_IMAGE": "python:3.11"}, platform="linux/amd64", target="final") != base
    assert digest(root, build_args={"BASE_IMAGE": "python:3.11"}, platform="linux/amd64", image_format="oci") != base


def test_fields_cannot_run_into_each_other(tmp_path):
    # Length-prefixed fields: moving a character from the name to the value is a change.
    root = make_context(tmp_path / "c", FILES)
    assert digest(root, build_args={"AB": "C"}) != digest(root, build_args={"A": "BC"})


def test_dockerfile_outside_the_context_and_excluded_dockerfile_count(tmp_path):
    root = make_context(tmp_path / "c", FILES, dockerfile=None)
    outside = tmp_path / "Dockerfile.app"
    outside.write_text(DOCKERFILE)
    before = digest(root, dockerfile=str(outside))
    outside.write_text(DOCKERFILE + "USER 1000\n")
    assert digest(root, dockerfile=str(outside)) != before

    make_context(root, {".dockerignore": b"Dockerfile\n"}, dockerfile=DOCKERFILE)
    excluded = digest(root)
    with open(os.path.join(root, "Dockerfile"), "a") as f:
        f.write("USER 1000\n")
    assert digest(root) != excluded


# -- .dockerignore --------------------------------------------------------------------------

def test_changes_to_excluded_files_do_not_change_the_digest(tmp_path):
    files = dict(FILES)
    files[".dockerignore"] = b"# build inputs only\n*.md\n**/__pycache__\n.git\nnotes/\n"
    root = make_context(tmp_path / "c", files)
    before = digest(root)
    make_context(root, {
        "README.md": b"changed\n",
        "CHANGELOG.md": b"new\n",
        "app/__pycache__/main.cpython-311.pyc": b"\x00\x01",
        ".git/HEAD": b"ref: refs/heads/main\n",
        "notes/todo.txt": b"later\n",
    }, dockerfile=None)
    assert digest(root) == before
    make_context(root, {"app/extra.py": b"pass\n"}, dockerfile=None)
    assert digest(root) != before


def test_exception_rules_bring_files_back(tmp_path):
    files = dict(FILES)
    files["docs/keep.md"] = b"kept\n"
    files["docs/drop.md"] = b"dropped\n"
    files[".dockerignore"] = b"docs\n!docs/keep.md\n"
    root = make_context(tmp_path / "c", files)
    paths = [e[0] for e in ec.context_entries(root)]
    assert "docs/keep.md" in paths
    assert "docs/drop.md" not in paths
    before = digest(root)
    make_context(root, {"docs/drop.md": b"changed\n"}, dockerfile=None)
    assert digest(root) == before
    make_context(root, {"docs/keep.md": b"changed\n"}, dockerfile=None)
    assert digest(root) != before


def test_changing_the_dockerignore_changes_the_digest_when_it_is_part_of_the_context(tmp_path):
    files = dict(FILES)
    files[".dockerignore"] = b"*.md\n"
    root = make_context(tmp_path / "c", files)
    before = digest(root)
    make_context(root, {".dockerignore": b"*.md\n*.txt\n"}, dockerfile=None)
    assert digest(root) != before


# moby/patternmatcher semantics, as Docker, BuildKit, podman and buildah apply them.
PATTERN_CASES = [
    (["*.md"], "README.md", True),
    (["*.md"], "docs/README.md", False),
    (["**/*.md"], "docs/README.md", True),
    (["**/*.md"], "README.md", True),
    (["docs"], "docs/a/b.txt", True),
    (["docs/"], "docs/a.txt", True),
    (["/docs"], "docs/a.txt", True),
    (["./docs"], "docs/a.txt", True),
    (["docs/../app"], "app/main.py", True),
    (["*"], "a/b/c", True),
    (["*.txt", "!keep.txt"], "keep.txt", False),
    (["*.txt", "!keep.txt"], "drop.txt", True),
    (["!keep.txt", "*.txt"], "keep.txt", True),
    (["docs", "!docs/keep.md"], "docs/keep.md", False),
    (["docs", "!docs/keep.md"], "docs/other.md", True),
    (["**/__pycache__"], "a/b/__pycache__/x.pyc", True),
    (["**/__pycache__"], "__pycache__/x.pyc", True),
    (["a?c"], "abc", True),
    (["a?c"], "a/c", False),
    (["[a-c]x"], "bx", True),
    (["[a-c]x"], "dx", False),
    (["[^a]x"], "bx", True),
    (["[^a]x"], "ax", False),
    (["foo/**"], "foo/bar/baz", True),
    (["foo/**"], "foo", False),
    (["foo/**/bar"], "foo/bar", True),
    (["foo/**/bar"], "foo/a/b/bar", True),
    (["**/foo"], "foo", True),
    (["**/foo"], "a/foo", True),
    (["**/foo"], "afoo", False),
    (["**"], "anything/at/all", True),
    (["dir/*.py"], "dir/a.py", True),
    (["dir/*.py"], "dir/sub/a.py", False),
    (["a.b"], "axb", False),
    (["a+b(c)"], "a+b(c)", True),
    (["\\*literal"], "*literal", True),
    (["\\*literal"], "xliteral", False),
    ([".git"], ".git/objects/ab/cdef", True),
    (["*/temp*"], "somedir/temporary.txt", True),
    (["*/*/temp*"], "somedir/subdir/temporary.txt", True),
    (["temp?"], "temp1", True),
]


@pytest.mark.parametrize("patterns,path,excluded", PATTERN_CASES,
                         ids=["%s|%s" % (",".join(c[0]), c[1]) for c in PATTERN_CASES])
def test_dockerignore_pattern(patterns, path, excluded):
    # Through the file reader, as ecr_image reads a context's .dockerignore.
    ignore = ec.DockerIgnore(ec.read_dockerignore("\n".join(patterns) + "\n"))
    assert ignore.excluded(path) is excluded


def test_read_dockerignore_normalises_like_docker():
    text = "\ufeff*.log\n# comment\n  \n  spaced.txt  \n!  /kept.log\n/abs/dir/\n#!not-an-exception\n"
    assert ec.read_dockerignore(text) == ["*.log", "spaced.txt", "!kept.log", "abs/dir"]


def test_lone_exclamation_mark_is_refused():
    with pytest.raises(ec.ContextError, match="illegal exclusion"):
        ec.DockerIgnore(["!"])


def test_missing_context_and_dockerfile_are_clear_errors(tmp_path):
    with pytest.raises(ec.ContextError, match="does not exist"):
        ec.context_digest(str(tmp_path / "nowhere"), "Dockerfile")
    root = make_context(tmp_path / "c", FILES, dockerfile=None)
    with pytest.raises(ec.ContextError, match="Dockerfile .* does not exist"):
        ec.context_digest(root, "Dockerfile")


def test_special_files_are_not_part_of_the_context(tmp_path):
    root = make_context(tmp_path / "c", FILES)
    before = digest(root)
    os.mkfifo(os.path.join(root, "pipe"))
    assert digest(root) == before


# -- properties -----------------------------------------------------------------------------

NAMES = st.text(alphabet="abcdefgh_.-", min_size=1, max_size=6).filter(lambda n: n not in (".", ".."))
TREES = st.dictionaries(
    st.lists(NAMES, min_size=1, max_size=3).map("/".join),
    st.binary(max_size=64),
    min_size=1, max_size=8,
).filter(lambda tree: not any(a != b and b.startswith(a + "/") for a in tree for b in tree))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=TREES, seed=st.integers(0, 2 ** 16))
def test_property_digest_depends_on_content_not_order(tmp_path_factory, tree, seed):
    base = tmp_path_factory.mktemp("prop")
    order = sorted(tree)
    random.Random(seed).shuffle(order)
    a = make_context(base / "a", tree)
    b = make_context(base / "b", tree, order=order)
    assert digest(a) == digest(b)
    victim = sorted(tree)[seed % len(tree)]
    make_context(b, {victim: tree[victim] + b"!"}, dockerfile=None)
    assert digest(a) != digest(b)
