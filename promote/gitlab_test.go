package promote_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/promote"
)

// The GitLab client's contract tests replay recorded exchanges of
// GitLab's REST API v4 (testdata/forge/gitlab), the project addressed by
// its URL-encoded path.

const gitlabToken = "glpat-R3c0rd3dT0k3nF0rT3sts"

func newGitLabReplay(t *testing.T, exchanges ...exchange) (*promote.GitLab, *replay) {
	t.Helper()
	r := newReplay(t, "https://gitlab.com", map[string]string{"PRIVATE-TOKEN": gitlabToken}, exchanges...)
	gl, err := promote.NewGitLab(r.srv.URL, "acme/platform/deploy", gitlabToken, promote.WithForgeInsecure())
	require.NoError(t, err)
	return gl, r
}

func gitlabSpec(tag string) promote.PullRequestSpec {
	return promote.PullRequestSpec{
		Head: "converge/promote/staging/web", Base: "main",
		Title: "Promote web " + tag + " to staging",
		Body:  "Promotes `registry.gitlab.com/acme/web` from dev to staging.\n\n| image | from | to |\n|---|---|---|\n| registry.gitlab.com/acme/web | 1.4.1 | " + tag + " |\n",
	}
}

// TestGitLabLifecycle: open with a label in one request, find unchanged,
// update and add a label, wait through running and pending jobs (a
// manual job that may fail does not hold the wait), squash-merge pinned
// to the head, wait merged.
func TestGitLabLifecycle(t *testing.T) {
	gl, _ := newGitLabReplay(t, loadRecording(t, "gitlab", "lifecycle").Exchanges...)
	ctx := forgeCtx(t)
	prs := promote.NewPullRequester(gl)
	promote.SetPollFloor(prs, time.Millisecond)

	spec := gitlabSpec("1.4.2")
	spec.Labels = []string{"promotion"}
	opened, err := prs.Ensure(ctx, spec)
	require.NoError(t, err)
	assert.Equal(t, promote.PullOpened, opened.Action)
	assert.Equal(t, promote.PullRequest{
		Number: 7, URL: "https://gitlab.com/acme/platform/deploy/-/merge_requests/7",
		Head: "converge/promote/staging/web", Base: "main", HeadSHA: "6dcb09b5b57875f334f61aebed695e2e4193db5e",
		Title: spec.Title, Body: spec.Body, Labels: []string{"promotion"}, State: promote.PullOpen,
	}, opened.PullRequest)

	again, err := prs.Ensure(ctx, spec)
	require.NoError(t, err)
	assert.Equal(t, promote.PullUnchanged, again.Action)

	spec = gitlabSpec("1.4.3")
	spec.Labels = []string{"promotion", "env/staging"}
	updated, err := prs.Ensure(ctx, spec)
	require.NoError(t, err)
	assert.Equal(t, promote.PullUpdated, updated.Action)
	assert.Equal(t, 7, updated.PullRequest.Number)
	assert.Equal(t, spec.Title, updated.PullRequest.Title)
	assert.ElementsMatch(t, spec.Labels, updated.PullRequest.Labels)

	summary, err := prs.WaitChecks(ctx, 7, promote.PullWaitOptions{Required: []string{"kustomize-build", "kubeconform"}})
	require.NoError(t, err)
	assert.Equal(t, promote.CheckSuccess, summary.State)
	assert.Equal(t, "8f3a1c0e5d9b2a7f4e6c1b0d3a5f7e9c2b4d6a81", summary.SHA)
	require.Len(t, summary.Checks, 3)
	assert.Equal(t, promote.Check{Name: "deploy-preview", State: promote.CheckSuccess,
		URL: "https://gitlab.com/acme/platform/deploy/-/jobs/8815002103"}, summary.Checks[2])

	merged, err := prs.Merge(ctx, 7, promote.MergeOptions{Method: promote.MergeSquash, SHA: summary.SHA})
	require.NoError(t, err)
	assert.Equal(t, promote.PullMerged, merged.State)
	waited, err := prs.WaitMerged(ctx, 7, promote.PullWaitOptions{})
	require.NoError(t, err)
	assert.Equal(t, promote.PullMerged, waited.State)
}

// TestGitLabEnsureRace: the open is refused with 409 and GitLab's
// list-valued message; Ensure pages with X-Next-Page past a fork's merge
// request to the other run's and keeps it.
func TestGitLabEnsureRace(t *testing.T) {
	gl, _ := newGitLabReplay(t, loadRecording(t, "gitlab", "ensure-race").Exchanges...)
	res, err := promote.NewPullRequester(gl).Ensure(forgeCtx(t), gitlabSpec("1.4.2"))
	require.NoError(t, err)
	assert.Equal(t, promote.PullUnchanged, res.Action)
	assert.Equal(t, 7, res.PullRequest.Number)
}

// TestGitLabChecksPaginated: 103 statuses over two X-Next-Page pages; a
// failed job that may fail passes, a canceled one fails, a skipped one
// passes.
func TestGitLabChecksPaginated(t *testing.T) {
	gl, r := newGitLabReplay(t, loadRecording(t, "gitlab", "checks-paginated").Exchanges...)
	sha := "8f3a1c0e5d9b2a7f4e6c1b0d3a5f7e9c2b4d6a81"
	checks, err := gl.Checks(forgeCtx(t), sha)
	require.NoError(t, err)
	assert.Equal(t, 2, r.count())
	require.Len(t, checks, 103)
	states := map[string]promote.CheckState{}
	for _, c := range checks[100:] {
		states[c.Name] = c.State
	}
	assert.Equal(t, map[string]promote.CheckState{"e2e": promote.CheckSuccess, "smoke": promote.CheckFailure, "lint": promote.CheckSuccess}, states)
	assert.Equal(t, promote.CheckFailure, promote.SummarizeChecks(sha, checks, nil).State)
}

// TestGitLabErrors: GitLab's error answers (string, list, field-map and
// "error" messages, a text/plain rate limit, an HTML sign-in page) as
// typed errors.
func TestGitLabErrors(t *testing.T) {
	ctx := context.Background()
	read := func(f promote.Forge) error { _, err := f.PullRequest(ctx, 7); return err }
	update := func(f promote.Forge) error {
		s := gitlabSpec("1.4.3")
		_, err := f.UpdatePullRequest(ctx, 7, s.Title, s.Body)
		return err
	}
	merge := func(f promote.Forge) error { return f.Merge(ctx, 7, promote.MergeOptions{}) }
	runErrorCases(t, loadRecording(t, "gitlab", "errors"), gitlabToken,
		func(t *testing.T, ex exchange) promote.Forge { gl, _ := newGitLabReplay(t, ex); return gl },
		map[string]errorCase{
			"unauthorized": {reason: "401", call: read, kind: promote.ErrForgeUnauthorized, status: http.StatusUnauthorized, says: "401 Unauthorized"},
			"forbidden": {
				reason: "403",
				call:   func(f promote.Forge) error { return f.AddLabels(ctx, 7, []string{"promotion"}) },
				kind:   promote.ErrForgeUnauthorized, status: http.StatusForbidden, says: "403 Forbidden",
			},
			"project-not-found": {reason: "404", call: read, kind: promote.ErrForgeNotFound, status: http.StatusNotFound, says: "404 Project Not Found"},
			"branch-missing": {
				reason: "422 with a list-valued message",
				call: func(f promote.Forge) error {
					_, err := f.OpenPullRequest(ctx, gitlabSpec("1.4.2"))
					return err
				},
				kind: promote.ErrForgeRejected, status: http.StatusUnprocessableEntity, says: `Source branch "converge/promote/staging/web" does not exist`,
			},
			"field-errors": {
				reason: "400 with a field-map message, fields in order",
				call:   update, kind: promote.ErrForgeRejected, status: http.StatusBadRequest,
				says: "description is too long (maximum is 1048576 characters); title is too long (maximum is 255 characters)",
			},
			"missing-param": {reason: `400 with {"error": ...}`, call: update, kind: promote.ErrForgeRejected, status: http.StatusBadRequest, says: "title is missing"},
			"not-mergeable": {reason: "405", call: merge, kind: promote.ErrForgeRejected, status: http.StatusMethodNotAllowed, says: "405 Method Not Allowed"},
			"sha-mismatch": {
				reason: "409",
				call: func(f promote.Forge) error {
					return f.Merge(ctx, 7, promote.MergeOptions{SHA: "6dcb09b5b57875f334f61aebed695e2e4193db5e"})
				},
				kind: promote.ErrForgeRejected, status: http.StatusConflict, says: "SHA does not match HEAD of source branch",
			},
			"cannot-merge": {reason: "422", call: merge, kind: promote.ErrForgeRejected, status: http.StatusUnprocessableEntity, says: "Branch cannot be merged"},
			"rate-limited": {reason: "429, text/plain", call: read, kind: promote.ErrForgeRateLimited, status: http.StatusTooManyRequests, says: "Retry later"},
			"sign-in-html": {reason: "a 200 HTML sign-in page", call: read, kind: promote.ErrForgeBadResponse, status: http.StatusOK, says: "an HTML page (Sign in · GitLab)"},
		})
}
