#!/usr/bin/env bash
# The virtualenv with Apache Airflow that tests/integration/test_examples_dag.py loads the
# example DAGs in (examples/dags/). Airflow does not fit in the collection's own venv (its
# pins conflict), so it gets one of its own, built once per set of pins under the cache:
#   ~/.cache/mlops-eks-platform/airflow-venv-<sha of the pins and the Python version>/
# under a file lock (concurrent callers wait, then reuse it). Prints the venv's path on stdout.
#
# The pins: apache-airflow at the version images/airflow/Dockerfile builds (AIRFLOW_VERSION),
# the cncf.kubernetes and git providers as images/airflow/requirements.txt pins them, and every other
# package from tests/tools/airflow-constraints.txt. Airflow's official constraints files
# live on GitHub, which CI cannot reach, so that file is a resolved and tested set; to
# regenerate it after a version change (this needs PyPI only):
#   tests/tools/airflow-venv.sh --freeze > tests/tools/airflow-constraints.txt.new
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE=${MLOPS_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops-eks-platform}
CONSTRAINTS=tests/tools/airflow-constraints.txt
PYTHON=${PYTHON:-python3.11}

say() { printf 'airflow-venv: %s\n' "$*" >&2; }
die() { printf 'airflow-venv: error: %s\n' "$*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 13) else 1)' \
  || die "Airflow 3.1 needs Python 3.10 to 3.13 (found $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11"
airflow_version=$(sed -n 's/^ARG AIRFLOW_VERSION=\([0-9.]*\)$/\1/p' images/airflow/Dockerfile)
provider=$(grep -E '^apache-airflow-providers-cncf-kubernetes==' images/airflow/requirements.txt || true)
git_provider=$(grep -E '^apache-airflow-providers-git==' images/airflow/requirements.txt || true)
[ -n "$airflow_version" ] || die "no ARG AIRFLOW_VERSION=<version> in images/airflow/Dockerfile"
[ -n "$provider" ] || die "no apache-airflow-providers-cncf-kubernetes==<version> in images/airflow/requirements.txt"
[ -n "$git_provider" ] || die "no apache-airflow-providers-git==<version> in images/airflow/requirements.txt"
requirements=("apache-airflow==$airflow_version" "$provider" "$git_provider")
pyver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

if [ "${1:-}" = --freeze ]; then
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  "$PYTHON" -m venv "$work/venv"
  "$work/venv/bin/pip" install -q --disable-pip-version-check "${requirements[@]}" >&2 || die "pip install failed"
  "$work/venv/bin/pip" check >&2 || die "pip check failed"
  printf '# Every package of the Airflow test venv (tests/tools/airflow-venv.sh), pinned: resolved from\n'
  printf '# PyPI for %s on Python %s, %s, by tests/tools/airflow-venv.sh --freeze.\n' \
    "${requirements[*]}" "$pyver" "$(date -u +%Y-%m-%d)"
  printf "# Airflow's official constraints (GitHub, constraints-%s) are not reachable from CI.\n" "$airflow_version"
  "$work/venv/bin/pip" freeze --all --exclude pip --exclude setuptools --exclude wheel
  exit 0
fi

[ -f "$CONSTRAINTS" ] || die "$CONSTRAINTS is missing"
pins=$({ printf '%s\n' "${requirements[@]}" "python$pyver"; cat "$CONSTRAINTS"; } | sha256sum | cut -c1-16)
venv=$CACHE/airflow-venv-$pins
if [ ! -f "$venv/.complete" ]; then
  mkdir -p "$CACHE"
  exec 9>"$CACHE/airflow-venv.lock"
  flock 9  # another caller building the same venv finishes first
  if [ ! -f "$venv/.complete" ]; then
    # Built in place (a venv is not relocatable); a half-built one has no .complete and starts over.
    rm -rf "$venv"
    started=$(date +%s)
    say "building $venv (${requirements[*]}, Python $pyver; a minute or two)"
    "$PYTHON" -m venv "$venv"
    if ! "$venv/bin/pip" install -q --disable-pip-version-check "${requirements[@]}" -c "$CONSTRAINTS" \
        >"$venv/pip.log" 2>&1; then
      tail -n 20 "$venv/pip.log" >&2
      die "pip could not install ${requirements[*]} with $CONSTRAINTS (no route to PyPI, or the pins changed: regenerate the constraints, see the top of this script)"
    fi
    "$venv/bin/pip" check >&2 || die "pip check failed in $venv"
    echo "built in $(($(date +%s) - started)) s from ${requirements[*]} and $CONSTRAINTS (Python $pyver)" >"$venv/.complete"
    say "$(cat "$venv/.complete")"
    # Venvs of earlier pins are not used again.
    for old in "$CACHE"/airflow-venv-*; do
      [ -d "$old" ] && [ "$old" != "$venv" ] && rm -rf "$old"
    done
  fi
  exec 9>&-
fi
echo "$venv"
