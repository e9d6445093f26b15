package kustomize

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIsRemote(t *testing.T) {
	tests := map[string]bool{
		"../base":                         false,
		"base":                            false,
		"conf.d/app/x":                    false,
		"app.prod/overlays/x":             false,
		"github.com/org/repo//dir?ref=v1": true,
		"GitHub.com/org/repo":             true,
		"github.com:org/repo":             true,
		"git@gitlab.example:org/repo.git": true,
		"git::https://example.com/org/r":  true,
		"GIT::git@example.com:org/r":      true,
		"https://example.com/x.yaml":      true,
		"http://example.com/x":            true,
		"ssh://git@example.com/org/r":     true,
		"file:///srv/git/repo":            true,
		"user-1@host:org/repo":            true,
		"1user@host:org/repo":             false,
		"github.company.example/org/repo": false,
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			assert.Equal(t, want, isRemote(in))
		})
	}
}
