//go:build tools

// Package kube pins the Kubernetes commands converge's tests run
// (kubectl is built by ../../peers/build.sh, on request). Every
// command built by ../build.sh must be imported here, or go build reports
// missing go.sum entries.
package kube

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
