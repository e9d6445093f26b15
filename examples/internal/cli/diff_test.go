package cli

import (
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDiffMasksSecretValuesAndStillSaysWhatChanged(t *testing.T) {
	t.Setenv("KUBECONFIG", "/nonexistent")
	repo, first := exampleRepo(t)
	second := repo.Commit(t, "rotate the dev database password and turn on the new checkout",
		mergeFiles(
			edit(t, repo, "apps/api/overlays/dev/kustomization.yaml", "DATABASE_PASSWORD=dev-only-password", "DATABASE_PASSWORD=rotated-in-git"),
			edit(t, repo, "apps/web/base/configmap.yaml", `FEATURE_NEW_CHECKOUT: "false"`, `FEATURE_NEW_CHECKOUT: "true"`),
		))
	r := converge(t, "diff", "--repo", repo.URL, "--base", first, "--head", second, "--path", "clusters/dev")
	require.Equal(t, ExitOK, r.code, "changes exit 0 without --exit-code")
	for _, secret := range []string{"dev-only-password", "rotated-in-git", "shop"} {
		if secret != "shop" {
			assert.NotContains(t, r.stdout, secret)
		}
		assert.NotContains(t, r.stdout, base64.StdEncoding.EncodeToString([]byte(secret)), "no Secret value, even base64-encoded")
	}
	assert.Contains(t, r.stdout, "clusters/dev: 1 to add, 2 to update, 1 to remove", "a new Secret name, the Deployment that refers to it, the ConfigMap; the old Secret goes")
	assert.Regexp(t, `\+ add +Secret/shop/api-database-`, r.stdout)
	assert.Regexp(t, `- remove +Secret/shop/api-database-`, r.stdout)
	assert.Regexp(t, `\n +\+ +DATABASE_PASSWORD: '\*\*\*'\n`, r.stdout)
	assert.Regexp(t, `\n +- +FEATURE_NEW_CHECKOUT: "false"\n`, r.stdout)
	assert.Regexp(t, `\n +\+ +FEATURE_NEW_CHECKOUT: "true"\n`, r.stdout)
	assert.Contains(t, r.stdout, "Diff: 4 objects change in 1 environment of 1.")
}
