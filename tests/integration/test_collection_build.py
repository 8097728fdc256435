"""`ansible-galaxy collection build` gives a tarball that installs and resolves by FQCN."""

import glob
import os
import tarfile

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def installed(tmp_path_factory, ansible_env, run_cmd):
    out = tmp_path_factory.mktemp("dist")
    run_cmd(["ansible-galaxy", "collection", "build", "--output-path", str(out), REPO_ROOT], ansible_env)
    tarballs = glob.glob(str(out / "mlops-eks_platform-*.tar.gz"))
    assert len(tarballs) == 1
    dest = tmp_path_factory.mktemp("collections")
    # --force: the checkout link under build/collections already provides mlops.eks_platform.
    # --no-deps: amazon.aws, community.aws and kubernetes.core come with the ansible package here.
    run_cmd(["ansible-galaxy", "collection", "install", "--force", "--no-deps", "-p", str(dest), tarballs[0]], ansible_env)
    env = dict(ansible_env, ANSIBLE_COLLECTIONS_PATH=str(dest))
    return tarballs[0], dest, env


def test_tarball_carries_the_collection_and_nothing_local(installed):
    tarball = installed[0]
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    assert "MANIFEST.json" in names and "galaxy.yml" not in names
    assert any(n.startswith("roles/eks_cluster/tasks/") for n in names)
    assert "meta/runtime.yml" in names
    for local in (".venv/", ".sandbox/", "build/", ".git/", ".ci/"):
        assert not any(n.startswith(local) for n in names), local


def test_installed_collection_is_the_one_resolved(installed, run_cmd):
    _tarball, dest, env = installed
    listing = run_cmd(["ansible-galaxy", "collection", "list", "mlops.eks_platform"], env).stdout
    assert str(dest) in listing and "0.1.0" in listing


def test_roles_and_modules_resolve_by_fqcn(installed, run_cmd):
    _tarball, dest, env = installed
    roles = run_cmd(["ansible-doc", "-t", "role", "-l", "mlops.eks_platform"], env).stdout
    assert "mlops.eks_platform.eks_cluster" in roles
    module_files = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(REPO_ROOT, "plugins", "modules", "*.py"))
                          if not p.endswith("__init__.py"))
    for module in module_files:
        doc = run_cmd(["ansible-doc", "-t", "module", "mlops.eks_platform." + module], env).stdout
        assert "mlops.eks_platform." + module in doc


def test_role_argument_spec_runs_from_the_installed_copy(installed, run_cmd, tmp_path):
    _tarball, _dest, env = installed
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  roles:\n"
        "    - role: mlops.eks_platform.eks_cluster\n      eks_cluster_state: sideways\n")
    proc = run_cmd(["ansible-playbook", "-i", "localhost,", str(playbook)], env, check=False, cwd=str(tmp_path))
    assert proc.returncode != 0
    assert "eks_cluster_state" in proc.stdout and "present, absent" in proc.stdout
