"""Every molecule scenario on the local stack: create, converge, idempotence (changed=0),
check mode, verify, cleanup (state: absent, nothing tagged left) and destroy.

Scenarios whose name ends in ``-kind`` target a kind cluster on Docker and are for users
with Docker; they are not collected here.
"""

import glob
import os

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIOS = sorted(
    os.path.basename(os.path.dirname(path))
    for path in glob.glob(os.path.join(REPO_ROOT, "molecule", "*", "molecule.yml"))
    if not os.path.dirname(path).endswith("-kind")
)


def test_scenarios_exist():
    assert SCENARIOS, "no molecule scenarios found under molecule/"


@pytest.mark.molecule
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario, local_stack, run_cmd):
    local_stack.aws.reset()
    proc = run_cmd([os.path.join(os.path.dirname(__import__("sys").executable), "molecule"), "test", "-s", scenario],
                   local_stack.env, check=False, timeout=1500)
    assert proc.returncode == 0, "molecule test -s %s failed:\n%s" % (scenario, proc.stdout[-8000:])
    # The idempotence step must have run and passed, not been skipped.
    assert "idempotence" in proc.stdout.lower()
