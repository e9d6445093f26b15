package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/gittest"
)

// examples/gitops-deploy passes every rule: its one finding is the info
// one of its layout, and the dev overlay's secretGenerator literals are
// turned off by an annotation whose reason the report quotes (see
// check's TestExampleRepository). A repository with a plaintext Secret
// fails at the default --fail-on high, in every format.
func TestCheckExampleRepository(t *testing.T) {
	repo := filepath.Join("..", "..", "gitops-deploy")
	r := converge(t, "check", "--repo", repo)
	assert.Equal(t, ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "100  No plain-text secrets committed to any Git repository")
	assert.Contains(t, r.stdout, "100  Environment promotion workflow defined (PR-based or automated)")
	assert.Contains(t, r.stdout, "secret-plaintext at apps/api/overlays/dev/kustomization.yaml:42:9 turned off by check.converge.dev/disable: a throwaway database for dev only")
	assert.Contains(t, r.stdout, "1 finding from 21 rules")
	assert.Empty(t, r.stderr)

	r = converge(t, "check", "--repo", repo, "--fail-on", "info")
	assert.Equal(t, ExitFailed, r.code, "the layout finding is info")

	r = converge(t, "check", "--repo", repo, "--disable", "layout-environments", "--fail-on", "info")
	assert.Equal(t, ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "0 findings from 20 rules")

	r = converge(t, "check", "--repo", repo, "--output", "json")
	assert.Equal(t, ExitOK, r.code)
	var report struct {
		Sections []struct {
			Score int `json:"score"`
		} `json:"sections"`
		Suppressed int `json:"suppressed"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &report), r.stdout)
	assert.Len(t, report.Sections, 11)
	assert.Equal(t, 1, report.Suppressed)

	leaky := gittest.NewServer(t).NewRepo(t, "leaky")
	leaky.Commit(t, "secret", map[string]string{"apps/api/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: not-for-git\n"})
	r = converge(t, "check", "--repo", leaky.Work, "--output", "sarif")
	assert.Equal(t, ExitFailed, r.code)
	assert.Equal(t, "converge check: 1 finding at or above high\n", r.stderr)
	assert.NotContains(t, r.stdout, "not-for-git")
	var sarif struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []struct {
				RuleID string `json:"ruleId"`
			} `json:"results"`
		} `json:"runs"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &sarif), r.stdout)
	assert.Equal(t, "2.1.0", sarif.Version)
	require.Len(t, sarif.Runs, 1)
	var ids []string
	for _, res := range sarif.Runs[0].Results {
		ids = append(ids, res.RuleID)
	}
	assert.Contains(t, ids, "secret-plaintext")
}

// A Secret committed and removed is not in the snapshot but is in the
// history: check passes without --history and fails with it, reading a
// local clone or the remote URL, and never prints the value.
func TestCheckHistory(t *testing.T) {
	const value = "cli-planted-history-value"
	repo := gittest.NewServer(t).NewRepo(t, "deploy")
	repo.Commit(t, "app", map[string]string{"apps/api/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api\ndata:\n  LOG_LEVEL: info\n"})
	added := repo.Commit(t, "secret", map[string]string{"apps/api/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: " + value + "\n"})
	repo.Commit(t, "remove the secret", map[string]string{"apps/api/secret.yaml": ""})

	r := converge(t, "check", "--repo", repo.Work)
	assert.Equal(t, ExitOK, r.code, r.stderr)
	assert.NotContains(t, r.stdout, "secret-history")

	for name, args := range map[string][]string{
		"local clone":      {"check", "--repo", repo.Work, "--history"},
		"local at a ref":   {"check", "--repo", repo.Work, "--ref", "HEAD~1", "--history"},
		"remote URL":       {"check", "--repo", repo.URL, "--history"},
		"remote as SARIF":  {"check", "--repo", repo.URL, "--history", "--output", "sarif"},
		"remote as JSON":   {"check", "--repo", repo.URL, "--history", "--output", "json"},
		"fail on critical": {"check", "--repo", repo.Work, "--history", "--fail-on", "critical"},
	} {
		t.Run(name, func(t *testing.T) {
			r := converge(t, args...)
			assert.Equal(t, ExitFailed, r.code, r.stderr)
			assert.Contains(t, r.stdout, "secret-history")
			assert.Contains(t, r.stdout, "apps/api/secret.yaml")
			assert.Contains(t, r.stdout, added[:12])
			assert.NotContains(t, r.stdout+r.stderr, value)
		})
	}
	r = converge(t, "check", "--repo", repo.Work, "--history")
	assert.Contains(t, r.stdout, "critical apps/api/secret.yaml:6:3: Secret/db holds 1 key in plaintext (password): it is not SOPS-encrypted, sealed or external; added in commit "+added[:12])
	assert.Contains(t, r.stdout, "removed since, but still in the history [secret-history]")
}

func TestCheckBadUsage(t *testing.T) {
	notGit := t.TempDir()
	for name, args := range map[string][]string{
		"no repo":                {"check"},
		"unknown flag":           {"check", "--repo", ".", "--local"},
		"context alone":          {"check", "--repo", ".", "--context", "kind"},
		"insecure alone":         {"check", "--repo", ".", "--insecure-registry"},
		"bad output":             {"check", "--repo", ".", "--output", "xml"},
		"bad fail-on":            {"check", "--repo", ".", "--fail-on", "severe"},
		"unknown rule":           {"check", "--repo", ".", "--disable", "image-latest,no-such-rule"},
		"an argument":            {"check", "--repo", ".", "extra"},
		"a bad remote reference": {"check", "--repo", "https://example.com/x.git", "--ref", "a..b"},
	} {
		t.Run(name, func(t *testing.T) {
			r := converge(t, args...)
			assert.Equal(t, ExitUsage, r.code, r.stderr)
			assert.True(t, strings.HasPrefix(r.stderr, "converge check: "), r.stderr)
		})
	}
	// A directory that is not a Git repository's root is the
	// repository's failure, as for plan: exit 1.
	r := converge(t, "check", "--repo", notGit, "--history")
	assert.Equal(t, ExitFailed, r.code)
	assert.Contains(t, r.stderr, "is not the root of a Git repository, which --history needs")
}
