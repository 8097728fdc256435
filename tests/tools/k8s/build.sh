#!/usr/bin/env bash
# Builds the local Kubernetes control plane from the Go module proxy:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok,
# at the versions pinned in go.mod / below. Binaries are cached outside the
# clone, keyed by versions, so a warm machine never rebuilds.
# Prints the bin directory on stdout; progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KUBE_VERSION=$(awk '$1 == "k8s.io/kubernetes" {print $2; exit} $1 == "require" && $2 == "k8s.io/kubernetes" {print $3; exit}' "$here/go.mod")
KWOK_VERSION=v0.7.0
go_version=$(go env GOVERSION)
key=$(cat "$here/go.mod" "$here/go.sum" "$here/cmd/etcd/main.go" | sha256sum | cut -c1-12)
cache_root=${MLOPS_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops-eks-platform}
bin="$cache_root/k8s-$KUBE_VERSION-kwok-$KWOK_VERSION-$go_version-$key/bin"
wanted="etcd kube-apiserver kube-controller-manager kube-scheduler kwok"

complete=1
for b in $wanted; do [ -x "$bin/$b" ] || complete=0; done
if [ "$complete" = 1 ]; then echo "$bin"; exit 0; fi

# One build at a time: a second caller waits for the first and then finds the cache warm.
mkdir -p "$cache_root"
exec 9>"$cache_root/.k8s-build.lock"
flock 9
complete=1
for b in $wanted; do [ -x "$bin/$b" ] || complete=0; done
if [ "$complete" = 1 ]; then echo "$bin"; exit 0; fi

command -v go >/dev/null || { echo "build.sh: Go toolchain not found; install Go 1.24+ to build the local control plane" >&2; exit 1; }
mkdir -p "$bin.partial"
start=$(date +%s)
minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
# Without a version stamp the binaries report v0.0.0 and helm/kubectl skew checks misfire.
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
echo "building Kubernetes $KUBE_VERSION control plane into $bin (cold build: 10-25 min on 2 cores)" >&2
(
  cd "$here"
  export GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0 GOTOOLCHAIN=local
  go build -trimpath -ldflags "$ldflags" -o "$bin.partial/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    ./cmd/etcd
)
GOBIN="$bin.partial" CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
rm -rf "$bin" && mv "$bin.partial" "$bin"
echo "built in $(( $(date +%s) - start ))s: $(du -sh "$bin" | cut -f1)" >&2
echo "$bin"
