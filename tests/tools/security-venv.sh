#!/usr/bin/env bash
# The virtualenv with the security scanners (checkov, parliament) that
# tests/integration/test_static_security.py and test_secrets_scan.py run. checkov pulls in
# about a hundred packages whose pins conflict with the collection's venv, so the scanners get
# one of their own, built once per set of pins under the cache:
#   ~/.cache/mlops-eks-platform/security-venv-<sha of the pins and the Python version>/
# under a file lock (concurrent callers wait, then reuse it). Prints the venv's path on stdout.
#
# The pins: tests/tools/security-requirements.txt (the scanners) and every other package from
# tests/tools/security-constraints.txt, a resolved and tested set; to regenerate it after a
# version change (this needs PyPI only):
#   tests/tools/security-venv.sh --freeze > tests/tools/security-constraints.txt.new
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE=${MLOPS_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops-eks-platform}
REQUIREMENTS=tests/tools/security-requirements.txt
CONSTRAINTS=tests/tools/security-constraints.txt
PYTHON=${PYTHON:-python3.11}

say() { printf 'security-venv: %s\n' "$*" >&2; }
die() { printf 'security-venv: error: %s\n' "$*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 9) else 1)' \
  || die "checkov needs Python 3.9+ (found $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11"
pyver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ -f "$REQUIREMENTS" ] || die "$REQUIREMENTS is missing"

if [ "${1:-}" = --freeze ]; then
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  "$PYTHON" -m venv "$work/venv"
  "$work/venv/bin/pip" install -q --disable-pip-version-check -r "$REQUIREMENTS" >&2 || die "pip install failed"
  "$work/venv/bin/pip" check >&2 || die "pip check failed"
  printf '# Every package of the security scanners venv (tests/tools/security-venv.sh), pinned: resolved\n'
  printf '# from PyPI for %s on Python %s, %s,\n' "$(grep -v '^#' "$REQUIREMENTS" | xargs)" "$pyver" "$(date -u +%Y-%m-%d)"
  printf '# by tests/tools/security-venv.sh --freeze.\n'
  "$work/venv/bin/pip" freeze --all --exclude pip --exclude setuptools --exclude wheel
  exit 0
fi

[ -f "$CONSTRAINTS" ] || die "$CONSTRAINTS is missing"
pins=$({ echo "python$pyver"; cat "$REQUIREMENTS" "$CONSTRAINTS"; } | sha256sum | cut -c1-16)
venv=$CACHE/security-venv-$pins
if [ ! -f "$venv/.complete" ]; then
  mkdir -p "$CACHE"
  exec 9>"$CACHE/security-venv.lock"
  flock 9  # another caller building the same venv finishes first
  if [ ! -f "$venv/.complete" ]; then
    # Built in place (a venv is not relocatable); a half-built one has no .complete and starts over.
    rm -rf "$venv"
    started=$(date +%s)
    say "building $venv (checkov and parliament, Python $pyver; about a minute)"
    "$PYTHON" -m venv "$venv"
    if ! "$venv/bin/pip" install -q --disable-pip-version-check -r "$REQUIREMENTS" -c "$CONSTRAINTS" \
        >"$venv/pip.log" 2>&1; then
      tail -n 20 "$venv/pip.log" >&2
      die "pip could not install $REQUIREMENTS with $CONSTRAINTS (no route to PyPI, or the pins changed: regenerate the constraints, see the top of this script)"
    fi
    "$venv/bin/pip" check >&2 || die "pip check failed in $venv"
    "$venv/bin/checkov" --version >/dev/null || die "checkov does not run in $venv"
    "$venv/bin/python" -c 'import parliament' || die "parliament does not import in $venv"
    echo "built in $(($(date +%s) - started)) s from $REQUIREMENTS and $CONSTRAINTS (Python $pyver)" >"$venv/.complete"
    say "$(cat "$venv/.complete")"
    # Venvs of earlier pins are not used again.
    for old in "$CACHE"/security-venv-*; do
      [ -d "$old" ] && [ "$old" != "$venv" ] && rm -rf "$old"
    done
  fi
  exec 9>&-
fi
echo "$venv"
