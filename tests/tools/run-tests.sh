#!/usr/bin/env bash
# The test tiers behind `make test` (all of them, in this order) or `make <tier>`.
# Static checks run first and fail fast; pytest runs last and carries the unit,
# AWS-integration (moto), Kubernetes-integration (local control plane) and molecule
# tiers, so its closing line counts every test that ran.
set -euo pipefail
cd "$(dirname "$0")/../.."
tiers=("$@")
[ ${#tiers[@]} -gt 0 ] || tiers=(lint sanity pytest)

# Each tier prints its duration when it starts the next; pytest's own closing line
# (counts and seconds) is the last thing a full run prints.
run_tier() {
  local name=$1; shift
  local start=$SECONDS
  printf '\n=== %s ===\n' "$name"
  "$@"
  [ "$name" = pytest ] || printf '=== %s passed in %ss ===\n' "$name" $((SECONDS - start))
}

lint() {
  yamllint --strict .
  ansible-lint --offline --profile production
}

pytest_tier() {
  # `-p no:cacheprovider` keeps the checkout clean; pytest's exit code passes through as is
  # (5, "no tests collected", is a failure here).
  python -m pytest -p no:cacheprovider "$@"
}

for tier in "${tiers[@]}"; do
  case $tier in
    lint) run_tier lint lint ;;
    sanity) run_tier sanity bash tests/tools/sanity.sh ;;
    unit) run_tier unit pytest_tier tests/unit ;;
    integration) run_tier integration pytest_tier tests/integration -m "not molecule" ;;
    molecule) run_tier molecule pytest_tier tests/integration -m molecule ;;
    pytest) run_tier pytest pytest_tier tests/unit tests/integration ;;
    *) echo "run-tests: unknown tier '$tier' (lint sanity unit integration molecule pytest)" >&2; exit 2 ;;
  esac
done
