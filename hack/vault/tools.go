//go:build tools

// Package vault pins the Vault server converge's secrets/vault tests run
// against. The server is built by ./build.sh; it is imported here so that
// this module's go.sum covers everything the build needs.
package vault

import (
	_ "github.com/hashicorp/vault"
)
