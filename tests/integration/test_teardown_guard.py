"""playbooks/teardown.yml refuses to run without confirmation, and refuses a protected
inventory unless the mark is lifted too, before any AWS or Kubernetes call."""

import os

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEARDOWN = os.path.join(REPO_ROOT, "playbooks", "teardown.yml")


def teardown(ansible_env, run_cmd, inventory, *extra, tags=None):
    env = dict(ansible_env)
    # An endpoint nothing listens on: any AWS call would fail loudly, not reach a real account.
    env.update(AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x",
               AWS_REGION="eu-west-1")
    argv = ["ansible-playbook", TEARDOWN, "-i", os.path.join(REPO_ROOT, "inventories", inventory)]
    for item in extra:
        argv += ["-e", item]
    if tags:
        argv += ["--tags", tags]
    return run_cmd(argv, env, check=False)


@pytest.mark.parametrize("inventory,extra", [
    ("staging", []),
    ("staging", ["teardown_confirm=production"]),
    ("production", []),
])
def test_teardown_refuses_without_the_environment_name(ansible_env, run_cmd, inventory, extra):
    proc = teardown(ansible_env, run_cmd, inventory, *extra)
    assert proc.returncode != 0
    assert "Refusing to tear down: pass -e teardown_confirm=%s" % inventory in proc.stdout
    assert "Remove the applications" not in proc.stdout


def test_teardown_refuses_a_protected_inventory_even_when_confirmed(ansible_env, run_cmd):
    proc = teardown(ansible_env, run_cmd, "production", "teardown_confirm=production")
    assert proc.returncode != 0
    assert "is protected (platform_protected: true)" in proc.stdout
    assert "Remove the applications" not in proc.stdout


def test_teardown_passes_the_guard_once_confirmed_and_unprotected(ansible_env, run_cmd):
    # Only the plays tagged `always` (the guard and preflight) run with an unmatched tag, so this
    # shows the guard lets a confirmed, unprotected run through without deleting anything.
    proc = teardown(ansible_env, run_cmd, "production", "teardown_confirm=production", "platform_protected=false",
                    tags="guard-only")
    assert proc.returncode == 0, proc.stdout
    assert "Refusing to tear down" not in proc.stdout
    assert "Check that the inventory is not protected" in proc.stdout
