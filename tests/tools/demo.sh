#!/usr/bin/env bash
# make demo: start the local sandbox, run site.yml against it, run it again to show that
# a second run changes nothing, and say what was deployed and how to reach it.
set -euo pipefail
cd "$(dirname "$0")/../.."
SANDBOX_DIR=${SANDBOX_DIR:-$PWD/.sandbox}
.venv/bin/python tests/tools/sandbox.py --dir "$SANDBOX_DIR" up
# shellcheck disable=SC1091
. "$SANDBOX_DIR/env"
mkdir -p build/demo

run_site() {
  local label=$1 log=build/demo/$1.log
  printf '\n=== site.yml on inventories/sandbox (%s run) ===\n' "$label"
  local start=$SECONDS
  ansible-playbook site.yml -i inventories/sandbox | tee "$log"
  local recap
  recap=$(grep -E '^localhost +:' "$log" | tail -1)
  printf '%s run: %ss, %s\n' "$label" $((SECONDS - start)) "${recap#localhost*: }" | tee -a build/demo/summary.txt
}

: > build/demo/summary.txt
run_site first
run_site second
changed=$(grep -E '^localhost +:' build/demo/second.log | tail -1 | sed -E 's/.*changed=([0-9]+).*/\1/')
printf '\n=== demo summary ===\n'
cat build/demo/summary.txt
if [ "$changed" != 0 ]; then
  echo "demo: the second run changed $changed task(s); it should change nothing" >&2
  exit 1
fi
cat <<EON
The second run changed nothing.
Sandbox: AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL, KUBECONFIG=$KUBECONFIG (source $SANDBOX_DIR/env to use them).
What the collection deploys today is listed in the "Report the cluster layer" task above;
the layers not yet in the collection are named there too. Stop the sandbox with: make demo-down
EON
