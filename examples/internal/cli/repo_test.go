package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRepoIsAURLOnlyWithASchemeOrSCPSyntax(t *testing.T) {
	for repo, want := range map[string]bool{
		"https://git.example.com/deploy.git": true,
		"ssh://git@example.com/deploy.git":   true,
		"git@github.com:org/deploy.git":      true,
		"file:///srv/deploy":                 true,
		"./gitops-deploy":                    false,
		"/srv/deploy":                        false,
		"deploy:v2":                          false,
	} {
		assert.Equal(t, want, isURL(repo), repo)
	}
}

func TestShortRevisionKeepsTheNameAndTwelveHexDigits(t *testing.T) {
	assert.Equal(t, "main@sha1:0123456789ab", shortRevision("main@sha1:0123456789abcdef0123456789abcdef01234567"))
	assert.Equal(t, "sha256:0123456789ab", shortRevision("sha256:0123456789abcdef"))
	assert.Equal(t, "v1.2.3", shortRevision("v1.2.3"))
}
