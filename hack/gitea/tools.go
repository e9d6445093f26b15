//go:build tools

// Package gitea pins the Gitea server converge's promote tests run against.
// The server is built by ./build.sh; it is imported here so that this
// module's go.sum covers everything the build needs.
package gitea

import (
	_ "code.gitea.io/gitea"
)
