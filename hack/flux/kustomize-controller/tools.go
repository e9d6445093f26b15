//go:build tools

// Package tools records the Flux kustomize-controller build this module pins.
package tools

import _ "github.com/fluxcd/kustomize-controller"
