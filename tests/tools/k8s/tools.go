//go:build tools

// Package tools pins the upstream Kubernetes control-plane commands that the
// local test stack builds. It is never compiled; it only anchors go.mod.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
