#!/usr/bin/env bash
# helm and kubectl for the execution environment, pinned to the versions the collection is
# tested with, verified by SHA-256 before they are installed.
set -euo pipefail
HELM_VERSION=3.19.0
KUBECTL_VERSION=1.34.5
arch=$(uname -m); case $arch in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; esac
tmp=$(mktemp -d)
curl -fsSLo "$tmp/helm.tgz" "https://get.helm.sh/helm-v${HELM_VERSION}-linux-${arch}.tar.gz"
curl -fsSLo "$tmp/helm.tgz.sha256sum" "https://get.helm.sh/helm-v${HELM_VERSION}-linux-${arch}.tar.gz.sha256sum"
(cd "$tmp" && sed "s|helm-v.*|helm.tgz|" helm.tgz.sha256sum | sha256sum -c -)
tar -xzf "$tmp/helm.tgz" -C "$tmp" && install -m 0755 "$tmp/linux-${arch}/helm" /usr/local/bin/helm
curl -fsSLo "$tmp/kubectl" "https://dl.k8s.io/release/v${KUBECTL_VERSION}/bin/linux/${arch}/kubectl"
curl -fsSLo "$tmp/kubectl.sha256" "https://dl.k8s.io/release/v${KUBECTL_VERSION}/bin/linux/${arch}/kubectl.sha256"
echo "$(cat "$tmp/kubectl.sha256")  $tmp/kubectl" | sha256sum -c -
install -m 0755 "$tmp/kubectl" /usr/local/bin/kubectl
rm -rf "$tmp"
helm version --short && kubectl version --client
