"""`make setup` is idempotent and fast when done, and says what is missing when it cannot install."""

import os
import subprocess

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SETUP = os.path.join(REPO_ROOT, "tests", "tools", "setup.sh")


def run_setup(env):
    return subprocess.run(["bash", SETUP], cwd=REPO_ROOT, env=env, check=False, text=True, timeout=600,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_setup_without_a_package_index_names_what_is_missing(tmp_path):
    env = dict(os.environ, VENV=str(tmp_path / "venv"), PIP_INDEX_URL="http://127.0.0.1:9/simple",
               PIP_RETRIES="0", PIP_TIMEOUT="2", PIP_NO_CACHE_DIR="1", PIP_FIND_LINKS="")
    result = run_setup(env)
    assert result.returncode != 0
    assert "pip could not install the pinned dependencies" in result.stdout
    assert "requirements-dev.txt" in result.stdout and "PyPI" in result.stdout


def test_setup_is_idempotent_and_fast_when_done():
    # The suite itself runs after `make setup`, so this is the "already done" path: nothing
    # is installed, fetched or built again.
    result = run_setup(dict(os.environ))
    assert result.returncode == 0, result.stdout
    for word in ("creating", "installing", "fetching", "building"):
        assert word not in result.stdout, result.stdout
    assert "ready:" in result.stdout
