//go:build tools

// Package tools records the Flux source-controller build this module pins.
package tools

import _ "github.com/fluxcd/source-controller"
