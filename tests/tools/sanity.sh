#!/usr/bin/env bash
# ansible-test sanity, offline. ansible-test insists on running from
# .../ansible_collections/<namespace>/<name> with its dependencies in the same tree,
# so the tracked files are staged into build/ansible-test/ (a test copy; the collection
# users import is the link under build/collections).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
tree=${MLOPS_SANITY_DIR:-$ROOT/build/ansible-test}/ansible_collections
dest=$tree/mlops/eks_platform
site=$(python -c 'import ansible_collections, os; print([p for p in ansible_collections.__path__ if "site-packages" in p][0])')

rm -rf "$dest"; mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard | grep -zv '^build/' | \
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done | \
  tar --null -T - -cf - | tar -xf - -C "$dest"
for dep in amazon community kubernetes; do ln -sfn "$site/$dep" "$tree/$dep"; done

cd "$dest"
# ansible-test lists its targets through git; give the staged copy a throw-away index.
git init -q . && git add -A
ansible-test sanity --local --python 3.11 --color no "$@"
