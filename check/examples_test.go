package check

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExampleRepository runs every repository rule over
// examples/gitops-deploy and asserts the exact findings.
func TestExampleRepository(t *testing.T) {
	tgt := NewTarget(os.DirFS("../examples/gitops-deploy"), "HEAD", DefaultLimits())
	rep, err := Run(context.Background(), tgt, RepositoryRules(DefaultRepositoryOptions()), DefaultOptions())
	require.NoError(t, err)
	var got []string
	for _, f := range rep.Findings() {
		got = append(got, f.Rule+" "+f.Severity.String()+" "+f.Location.String()+": "+f.Message)
	}
	assert.Equal(t, []string{
		// The layout, info: the repository keeps a directory per
		// environment for each app and cluster.
		"layout-environments info : directory per environment: apps/api/overlays/{dev,prod,staging}, apps/web/overlays/{dev,prod,staging}, clusters/{dev,prod,staging}",
	}, got)
	// The other rules pass, and why each applies or does not:
	// secret-plaintext: the dev overlay generates its throwaway
	// database's Secret from literals on purpose, and its kustomization
	// turns the rule off with a reason, which the notes quote;
	// credential-in-config: ConfigMaps hold settings only; image-latest:
	// the bases pin tags and every overlay pins its own with images:;
	// ci-push-deploy: the repository has no CI files (converge applies
	// it from inside the cluster); argocd-*, flux-* and the notification
	// rules: the repository holds no Application, Flux Kustomization or
	// Alert (its units are converge's own, which UnitRules check from
	// the host's settings); layout-promotion-path: every directory of
	// environments has dev, staging and prod; layout-prod-drift: prod
	// differs from staging in image tags, replicas, resources and its
	// HorizontalPodAutoscaler only; yaml-invalid: it parses.
	for _, s := range rep.Sections {
		assert.Equal(t, 100, s.Score, s.Section)
	}
	assert.Equal(t, 1, rep.Suppressed)
	assert.Equal(t, []string{"secret-plaintext at apps/api/overlays/dev/kustomization.yaml:42:9 turned off by check.converge.dev/disable: a throwaway database for dev only, reachable from nothing else; staging and prod read theirs from the cluster's secret store"}, rep.Notes)
}
