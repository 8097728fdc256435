#!/usr/bin/env bash
# make demo: start the local sandbox, run site.yml against it, run it again to show that
# a second run changes nothing, and say what was deployed and how to reach it.
set -euo pipefail
cd "$(dirname "$0")/../.."
SANDBOX_DIR=${SANDBOX_DIR:-$PWD/.sandbox}
# The playbook the demo runs twice; make test runs the demo with a short one (test_make_targets.py).
DEMO_PLAYBOOK=${DEMO_PLAYBOOK:-site.yml}
# The sandbox is the package tests/tools/sandbox/, run as a module.
PYTHONPATH="$PWD/tests/tools${PYTHONPATH:+:$PYTHONPATH}" .venv/bin/python -m sandbox --dir "$SANDBOX_DIR" up
# shellcheck disable=SC1091
. "$SANDBOX_DIR/env"
mkdir -p build/demo
if [ -n "${MLOPS_CHART_REPO_URL:-}" ]; then
  echo "demo: charts from the offline mirror served on $MLOPS_CHART_REPO_URL (../shared/charts)"
else
  echo "demo: no offline chart mirror beside the checkout: charts come from their upstream repositories (internet)"
fi

run_site() {
  local label=$1 log=build/demo/$1.log
  printf '\n=== %s on inventories/sandbox (%s run) ===\n' "$DEMO_PLAYBOOK" "$label"
  local start=$SECONDS
  ansible-playbook "$DEMO_PLAYBOOK" -i inventories/sandbox < /dev/null | tee "$log"
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
The second run changed nothing (see its CHANGE SUMMARY above).

Reach the UIs with these commands on EKS. In the sandbox they stop at the node: kwok's nodes have
no kubelet, and kubectl port-forward goes through the kubelet, so nothing answers there.
  source $SANDBOX_DIR/env
  kubectl -n airflow port-forward svc/airflow-api-server 8080:8080   # Airflow: http://localhost:8080/
  kubectl -n mlflow port-forward svc/mlflow 5000:5000                # MLflow:  http://localhost:5000/
The Airflow admin password is in Secrets Manager (named in the summary above):
  aws secretsmanager get-secret-value --secret-id <name> --query SecretString
Not run in the sandbox, with the reason: building the images (their base images are on Docker Hub,
unreachable offline; \`make images\` builds mlflow and trainer from a local Debian base instead).
Airflow is the official chart ${MLOPS_CHART_REPO_URL:+from the mirror on $MLOPS_CHART_REPO_URL }under Pod Security "restricted".
Sandbox: AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL, KUBECONFIG=$KUBECONFIG. Stop it with: make demo-down
EON
