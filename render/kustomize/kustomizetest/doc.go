// Package kustomizetest helps test and benchmark Kustomize rendering: it
// finds the pinned kustomize CLI, the oracle render/kustomize is compared
// with, and writes generated trees of overlays.
//
//	cli, err := kustomizetest.CLI()
//	err = kustomizetest.WriteTree(dir, kustomizetest.DefaultTreeOptions())
package kustomizetest
