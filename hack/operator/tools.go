//go:build tools

// Package operator pins controller-gen, which generates the reference
// operator's DeepCopy methods and CRD manifests. It is built by
// ./generate.sh; it is imported here so that this module's go.sum covers
// everything the build needs.
package operator

import (
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
