package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/giteatest"
	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/promote"
)

const (
	stagingOverlay = "apps/web/overlays/staging/kustomization.yaml"
	prodOverlay    = "apps/web/overlays/prod/kustomization.yaml"
)

// remoteFile is path as branch main of the server's bare repository
// holds it.
func remoteFile(t *testing.T, repo *gittest.Repo, path string) string {
	t.Helper()
	out, err := gittest.Git(repo.Bare, "show", "main:"+path)
	require.NoError(t, err)
	return out
}

func remoteLog(t *testing.T, repo *gittest.Repo, format string) string {
	t.Helper()
	out, err := gittest.Git(repo.Bare, "log", "-1", "--format="+format, "main")
	require.NoError(t, err)
	return out
}

// TestPromoteTakesWhatRunsHealthyInDevToStagingAndRollbackUndoesIt is the
// promotion path of the quickstart's repository end to end: dev applied
// and healthy on the living plane, the gate planned against it, the
// commit pushed to the Git server with its provenance, a second promote
// a no-op, and a rollback a revert commit that a second rollback does not
// repeat.
func TestPromoteTakesWhatRunsHealthyInDevToStagingAndRollbackUndoesIt(t *testing.T) {
	repo, first := exampleRepo(t)
	require.Contains(t, remoteFile(t, repo, stagingOverlay), "newTag: 1.4.2")
	kube := []string{"--kubeconfig", env.Kubeconfig}
	t.Cleanup(func() {
		// Leave the shared plane as it was: everything dev applied.
		r := converge(t, append([]string{"delete", "--yes", "--repo", repo.URL, "--path", "clusters/dev"}, kube...)...)
		assert.Equal(t, ExitOK, r.code, r.stderr)
		waitNamespaceGone(t, "shop")
	})
	promoteArgs := append([]string{"promote", "--repo", repo.URL, "--from", "dev", "--to", "staging", "--app", "web"}, kube...)

	// Before dev is applied, the gate refuses: nothing is pushed.
	r := converge(t, promoteArgs...)
	require.Equal(t, ExitFailed, r.code)
	require.Contains(t, r.stderr, "gate health failed")
	require.Contains(t, r.stderr, "nothing promoted")
	require.Equal(t, first, remoteLog(t, repo, "%H"))

	r = converge(t, append([]string{"sync", "--once", "--repo", repo.URL, "--path", "clusters/dev"}, kube...)...)
	require.Equal(t, ExitOK, r.code, r.stderr)

	r = converge(t, append(slices.Clone(promoteArgs), "--dry-run")...)
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "gate: health passed: dev runs main@sha1:")
	assert.Contains(t, r.stdout, "promote shop-web 1.5.0 from dev to staging")
	assert.Contains(t, r.stdout, "-    newTag: 1.4.2\n+    newTag: 1.5.0")
	assert.Contains(t, r.stdout, "--dry-run: nothing committed")
	require.Equal(t, first, remoteLog(t, repo, "%H"), "--dry-run pushes nothing")

	r = converge(t, promoteArgs...)
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "pushed ")
	promotion := remoteLog(t, repo, "%H")
	require.NotEqual(t, first, promotion)
	assert.Contains(t, remoteFile(t, repo, stagingOverlay), "newTag: 1.5.0")
	msg := remoteLog(t, repo, "%B")
	p, err := promote.ParseProvenance(msg)
	require.NoError(t, err, msg)
	assert.Equal(t, "dev", p.From)
	assert.Equal(t, "staging", p.To)
	assert.Equal(t, "main@sha1:"+first, p.Revision)
	require.Len(t, p.Images, 1)
	assert.Equal(t, "ghcr.io/converge-dev/shop-web", p.Images[0].Name)
	assert.Equal(t, "1.5.0", p.Images[0].Tag)
	require.Len(t, p.Gates, 1)
	assert.True(t, p.Gates[0].Passed)
	author := remoteLog(t, repo, "%an <%ae>")
	assert.Equal(t, "converge <converge@localhost>", author)

	r = converge(t, promoteArgs...)
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "nothing to promote: staging already runs what dev runs")
	require.Equal(t, promotion, remoteLog(t, repo, "%H"))

	// A rollback is a revert commit; the next one has nothing left to undo.
	rollback := []string{"rollback", "--repo", repo.URL, "--env", "staging"}
	r = converge(t, rollback...)
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "rollback staging: revert "+promotion[:12])
	assert.Contains(t, r.stdout, "-    newTag: 1.5.0\n+    newTag: 1.4.2")
	assert.Contains(t, remoteFile(t, repo, stagingOverlay), "newTag: 1.4.2")
	assert.Contains(t, remoteLog(t, repo, "%B"), "This reverts commit "+promotion+".")
	_, err = promote.ParseProvenance(remoteLog(t, repo, "%B"))
	assert.Error(t, err, "a rollback carries no promotion trailers")

	r = converge(t, rollback...)
	require.Equal(t, ExitFailed, r.code)
	requireOneLine(t, r, "converge rollback: no promotion into staging to undo")

	// Promote again, then put staging back as it was at the first commit.
	r = converge(t, promoteArgs...)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Contains(t, remoteFile(t, repo, stagingOverlay), "newTag: 1.5.0")
	r = converge(t, append(slices.Clone(rollback), "--to", first, "--app", "web")...)
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "rollback staging to "+first)
	assert.Contains(t, remoteFile(t, repo, stagingOverlay), "newTag: 1.4.2")
	r = converge(t, append(slices.Clone(rollback), "--to", first, "--app", "web")...)
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "nothing to do")
}

// TestPromoteAndRollbackWorkOnALocalClone: a local work tree is committed
// to through git's receive-pack, and with receive.denyCurrentBranch
// updateInstead its checkout follows.
func TestPromoteAndRollbackWorkOnALocalClone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "deploy")
	for rel, content := range exampleFiles(t) {
		writeFile(t, dir, rel, content)
	}
	for _, args := range [][]string{
		{"init", "--quiet", "--initial-branch=main"},
		{"config", "receive.denyCurrentBranch", "updateInstead"},
		{"add", "--all"},
		{"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "first"},
	} {
		_, err := gittest.Git(dir, args...)
		require.NoError(t, err)
	}
	r := converge(t, "promote", "--repo", dir, "--from", "staging", "--to", "prod", "--no-gate",
		"--author", "Release Bot <release@example.com>")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "gate: none (--no-gate)")
	data, err := os.ReadFile(filepath.Join(dir, prodOverlay))
	require.NoError(t, err)
	assert.Contains(t, string(data), "newTag: 1.4.2", "the work tree follows the pushed commit")
	author, err := gittest.Git(dir, "log", "-1", "--format=%an <%ae>")
	require.NoError(t, err)
	assert.Equal(t, "Release Bot <release@example.com>", author)

	subject, err := gittest.Git(dir, "log", "-1", "--format=%s")
	require.NoError(t, err)
	assert.Equal(t, "promote 2 overlays from staging to prod", subject)
	data, err = os.ReadFile(filepath.Join(dir, "apps/api/overlays/prod/kustomization.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(data), "newTag: 2.2.1")

	// The promotion changed both apps: --app web cannot undo it alone.
	r = converge(t, "rollback", "--repo", dir, "--env", "prod", "--app", "web")
	require.Equal(t, ExitFailed, r.code)
	requireOneLine(t, r, "converge rollback: no promotion into prod to undo")
	assert.Contains(t, r.stderr, "also changed other apps' overlays")

	r = converge(t, "rollback", "--repo", dir, "--env", "prod", "--dry-run")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "--dry-run: nothing committed")
	r = converge(t, "rollback", "--repo", dir, "--env", "prod")
	require.Equal(t, ExitOK, r.code, r.stderr)
	data, err = os.ReadFile(filepath.Join(dir, prodOverlay))
	require.NoError(t, err)
	assert.Contains(t, string(data), "newTag: 1.4.1")
	status, err := gittest.Git(dir, "status", "--porcelain")
	require.NoError(t, err)
	assert.Empty(t, status, "the work tree is clean after both commits")
}

// TestRollbackRefusesAConflict: a file the promotion changed that changed
// again is left to a person.
func TestRollbackRefusesAConflict(t *testing.T) {
	repo, _ := exampleRepo(t)
	r := converge(t, "promote", "--repo", repo.URL, "--from", "dev", "--to", "staging", "--no-gate")
	require.Equal(t, ExitOK, r.code, r.stderr)
	_, err := gittest.Git(repo.Work, "pull", "--quiet", "origin", "main")
	require.NoError(t, err)
	repo.Commit(t, "staging: a hotfix tag", edit(t, repo, stagingOverlay, "newTag: 1.5.0", "newTag: 1.5.0-hotfix"))
	before := remoteLog(t, repo, "%H")
	r = converge(t, "rollback", "--repo", repo.URL, "--env", "staging")
	require.Equal(t, ExitFailed, r.code)
	requireOneLine(t, r, "converge rollback: ")
	assert.Contains(t, r.stderr, stagingOverlay+": changed again since")
	assert.Equal(t, before, remoteLog(t, repo, "%H"), "nothing committed")
}

func TestPromoteAndRollbackRefuseBadInput(t *testing.T) {
	repo, _ := exampleRepo(t)
	for name, args := range map[string][]string{
		"no from":            {"promote", "--repo", repo.URL, "--to", "staging"},
		"option as env":      {"promote", "--repo", repo.URL, "--from", "-f", "--to", "staging"},
		"path as env":        {"promote", "--repo", repo.URL, "--from", "../x", "--to", "staging"},
		"same envs":          {"promote", "--repo", repo.URL, "--from", "dev", "--to", "dev"},
		"shell in branch":    {"promote", "--repo", repo.URL, "--from", "dev", "--to", "staging", "--branch", "main;rm"},
		"option as branch":   {"promote", "--repo", repo.URL, "--from", "dev", "--to", "staging", "--branch", "-f"},
		"layout without env": {"promote", "--repo", repo.URL, "--from", "dev", "--to", "staging", "--layout", "apps/{app}"},
		"absolute layout":    {"promote", "--repo", repo.URL, "--from", "dev", "--to", "staging", "--layout", "/apps/{app}/{env}"},
		"app with slash":     {"promote", "--repo", repo.URL, "--from", "dev", "--to", "staging", "--app", "web/../api"},
		"pr without forge":   {"promote", "--repo", repo.URL, "--from", "dev", "--to", "staging", "--pr"},
		"forge without pr":   {"promote", "--repo", repo.URL, "--from", "dev", "--to", "staging", "--forge", "gitea"},
		"unknown forge":      {"promote", "--repo", repo.URL, "--from", "dev", "--to", "staging", "--pr", "--forge", "svn", "--forge-repo", "a/b"},
		"bad author":         {"promote", "--repo", repo.URL, "--from", "dev", "--to", "staging", "--author", "nobody"},
		"no env":             {"rollback", "--repo", repo.URL},
		"option as rev":      {"rollback", "--repo", repo.URL, "--env", "prod", "--to", "--help"},
		"zero history":       {"rollback", "--repo", repo.URL, "--env", "prod", "--history", "0"},
	} {
		t.Run(name, func(t *testing.T) {
			r := converge(t, args...)
			require.Equal(t, ExitUsage, r.code)
			requireOneLine(t, r, "converge "+args[0]+": ")
		})
	}
	t.Run("an app without the environment", func(t *testing.T) {
		r := converge(t, "promote", "--repo", repo.URL, "--from", "dev", "--to", "qa", "--app", "web", "--no-gate")
		require.Equal(t, ExitFailed, r.code)
		requireOneLine(t, r, "converge promote: no qa: the layout apps/{app}/overlays/{env} has no directory apps/web/overlays/qa")
	})
	t.Run("a token over plain http to another host", func(t *testing.T) {
		t.Setenv("CONVERGE_GIT_TOKEN", "s3cr3t-token")
		r := converge(t, "promote", "--repo", "http://git.example.com/deploy.git", "--from", "dev", "--to", "staging")
		require.Equal(t, ExitUsage, r.code)
		requireOneLine(t, r, "converge promote: http://git.example.com/deploy.git is plain http: converge sends no token over it")
		assert.NotContains(t, r.stderr, "s3cr3t-token")
	})
	t.Run("a token file that is not there", func(t *testing.T) {
		r := converge(t, "promote", "--repo", repo.URL, "--from", "dev", "--to", "staging", "--token-file", filepath.Join(t.TempDir(), "none"))
		require.Equal(t, ExitUsage, r.code)
		requireOneLine(t, r, "converge promote: --token-file: ")
	})
}

// TestPromotePullRequestOnGitea: --pr pushes the promotion to its own head
// branch of a real Gitea and opens one pull request, which a second run
// leaves as it is rather than opening another.
func TestPromotePullRequestOnGitea(t *testing.T) {
	s := giteatest.Start(t)
	repo := s.CreateRepo(t, "deploy")
	repo.Push(t, "main", "gitops-deploy as in examples/", exampleFiles(t))
	token := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(token, []byte(s.Token+"\n"), 0o600))
	args := []string{"promote", "--repo", s.URL + "/" + repo.FullName + ".git", "--from", "dev", "--to", "staging", "--app", "web", "--no-gate",
		"--pr", "--forge", "gitea", "--forge-url", s.URL, "--forge-repo", repo.FullName, "--insecure-forge",
		"--token-file", token, "--git-user", s.User, "--label", "promotion"}

	r := converge(t, args...)
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "to converge/promote/staging/web")
	assert.Contains(t, r.stdout, "pull request #1 opened: "+s.URL+"/"+repo.FullName+"/pulls/1")
	assert.NotContains(t, r.stdout+r.stderr, s.Token, "no output shows the token")
	head := repo.Head(t, "converge/promote/staging/web")
	require.NotEmpty(t, head)

	var pulls []struct {
		Number int    `json:"number"`
		Title  string `json:"title"`
		Body   string `json:"body"`
		Labels []struct {
			Name string `json:"name"`
		} `json:"labels"`
		Head struct {
			Ref string `json:"ref"`
			SHA string `json:"sha"`
		} `json:"head"`
	}
	s.Must(t, http.MethodGet, "repos/"+repo.FullName+"/pulls?state=all", nil, &pulls)
	require.Len(t, pulls, 1)
	assert.Equal(t, "promote shop-web 1.5.0 from dev to staging", pulls[0].Title)
	assert.Contains(t, pulls[0].Body, "+    newTag: 1.5.0")
	assert.Equal(t, head, pulls[0].Head.SHA)
	require.Len(t, pulls[0].Labels, 1)
	assert.Equal(t, "promotion", pulls[0].Labels[0].Name)

	r = converge(t, args...)
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "nothing pushed")
	assert.Contains(t, r.stdout, "pull request #1 unchanged")
	s.Must(t, http.MethodGet, "repos/"+repo.FullName+"/pulls?state=all", nil, &pulls)
	assert.Len(t, pulls, 1, "a second run opens no second pull request")
	assert.Equal(t, head, repo.Head(t, "converge/promote/staging/web"))

	// A token the forge refuses is a failure that does not show it.
	require.NoError(t, os.WriteFile(token, []byte("0123456789abcdef0123456789abcdef01234567"), 0o600))
	r = converge(t, append(args[:len(args):len(args)], "--to", "prod")...)
	require.Equal(t, ExitFailed, r.code)
	requireOneLine(t, r, "converge promote: ")
	assert.NotContains(t, r.stderr, "0123456789abcdef0123456789abcdef01234567")
}

// TestPromoteGatedOnAnAnalysis: --analysis runs an AnalysisTemplate (the
// web provider, against a real HTTP server) to its verdict; Failed stops
// the promotion, Successful is recorded in the commit's gate trailer.
func TestPromoteGatedOnAnAnalysis(t *testing.T) {
	var rate atomic.Value
	rate.Store("0.2")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":{"rate":` + rate.Load().(string) + `}}`))
	}))
	t.Cleanup(srv.Close)
	template := filepath.Join(t.TempDir(), "success-rate.yaml")
	require.NoError(t, os.WriteFile(template, []byte(`apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: success-rate}
spec:
  args:
  - name: env
  metrics:
  - name: success-rate
    count: 1
    successCondition: result >= 0.95
    failureCondition: result < 0.5
    provider:
      web:
        url: `+srv.URL+`/{{args.env}}
        jsonPath: "{$.data.rate}"
`), 0o600))
	repo, first := exampleRepo(t)
	args := []string{"promote", "--repo", repo.URL, "--from", "dev", "--to", "staging", "--app", "web", "--no-gate",
		"--analysis", template, "--analysis-arg", "env=dev"}

	r := converge(t, args...)
	require.Equal(t, ExitFailed, r.code)
	assert.Contains(t, r.stderr, "gate analysis failed: dev of success-rate: Failed")
	assert.Contains(t, r.stderr, "nothing promoted")
	assert.Equal(t, first, remoteLog(t, repo, "%H"))

	rate.Store("0.99")
	r = converge(t, args...)
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "gate: analysis passed: dev of success-rate: Successful")
	p, err := promote.ParseProvenance(remoteLog(t, repo, "%B"))
	require.NoError(t, err)
	require.Len(t, p.Gates, 1)
	assert.Equal(t, "analysis", p.Gates[0].Name)
	assert.True(t, p.Gates[0].Passed)

	for name, bad := range map[string][]string{
		"a template that is not there": {"promote", "--repo", repo.URL, "--from", "dev", "--to", "staging", "--no-gate", "--analysis", filepath.Join(t.TempDir(), "none.yaml")},
		"a missing argument":           {"promote", "--repo", repo.URL, "--from", "dev", "--to", "staging", "--no-gate", "--analysis", template},
		"an argument without analysis": {"promote", "--repo", repo.URL, "--from", "dev", "--to", "staging", "--no-gate", "--analysis-arg", "env=dev"},
	} {
		t.Run(name, func(t *testing.T) {
			r := converge(t, bad...)
			require.Equal(t, ExitUsage, r.code)
			requireOneLine(t, r, "converge promote: ")
		})
	}
}
