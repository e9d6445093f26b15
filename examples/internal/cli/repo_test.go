package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestOwnerForDerivesAValidOwnerFromThePath(t *testing.T) {
	for path, want := range map[string]string{
		"clusters/dev":          "clusters-dev",
		"clusters/prod-eu/":     "clusters-prod-eu",
		"Apps/Shop_Web/overlay": "apps-shop-web-overlay",
		".":                     "converge",
		"a/very-long-environment-name-that-goes-on-and-on-and-on-forever": "a-very-long-environment-name-that-goes-on-and-on-and-o", // cut at 54
	} {
		got := ownerFor(path)
		assert.Equal(t, want, got, path)
		assert.LessOrEqual(t, len(got), 54)
	}
}

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
