"""Every molecule scenario on the local stack: create, converge, idempotence (changed=0),
check mode, verify, cleanup (state: absent, nothing tagged left) and destroy.

Scenarios whose name ends in ``-kind`` target a kind cluster on Docker and are for users
with Docker; they are not collected here.
"""

import glob
import os
import sys

import pytest
import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIOS = sorted(
    os.path.basename(os.path.dirname(path))
    for path in glob.glob(os.path.join(REPO_ROOT, "molecule", "*", "molecule.yml"))
    if not os.path.dirname(path).endswith("-kind")
)


KIND_SCENARIOS = sorted(
    os.path.basename(os.path.dirname(path))
    for path in glob.glob(os.path.join(REPO_ROOT, "molecule", "*-kind", "molecule.yml"))
)


def test_scenarios_exist():
    assert SCENARIOS, "no molecule scenarios found under molecule/"


@pytest.mark.molecule
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario, local_stack, run_cmd):
    local_stack.aws.reset()
    proc = run_cmd([os.path.join(os.path.dirname(sys.executable), "molecule"), "test", "-s", scenario],
                   local_stack.env, check=False, timeout=1500)
    assert proc.returncode == 0, "molecule test -s %s failed:\n%s" % (scenario, proc.stdout[-8000:])
    # The idempotence step must have run and passed, not been skipped.
    assert "idempotence" in proc.stdout.lower()


@pytest.mark.parametrize("scenario", KIND_SCENARIOS)
def test_kind_scenario_shares_the_local_playbooks(scenario, ansible_env, run_cmd):
    """A *-kind scenario runs the same converge/verify/cleanup as its local-stack twin; only
    create/destroy differ (they call kind). CI has no Docker, so only the wiring and the
    playbooks' syntax are checked here."""
    twin = scenario[: -len("-kind")]
    assert twin in SCENARIOS, "%s has no local-stack twin %s" % (scenario, twin)
    with open(os.path.join(REPO_ROOT, "molecule", scenario, "molecule.yml")) as handle:
        playbooks = yaml.safe_load(handle)["provisioner"]["playbooks"]
    for step in ("converge", "verify", "cleanup"):
        assert playbooks[step] == "../%s/%s.yml" % (twin, step)
    assert playbooks["create"] == "../shared/kind-create.yml"
    assert playbooks["destroy"] == "../shared/kind-destroy.yml"
    proc = run_cmd([os.path.join(os.path.dirname(sys.executable), "molecule"), "syntax", "-s", scenario], ansible_env,
                   check=False)
    assert proc.returncode == 0, proc.stdout[-4000:]
