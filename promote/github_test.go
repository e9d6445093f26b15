package promote_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/promote"
)

// The GitHub client's contract tests replay recorded exchanges of
// GitHub's REST API (testdata/forge/github): every request must be the
// recorded one, token and API version included, and every recorded
// exchange must be requested.

const githubToken = "ghp_R3c0rd3dT0k3nF0rC0ntr4ctT3sts00000000"

func newGitHubReplay(t *testing.T, exchanges ...exchange) (*promote.GitHub, *replay) {
	t.Helper()
	r := newReplay(t, "https://api.github.com", map[string]string{
		"Authorization":        "Bearer " + githubToken,
		"Accept":               "application/vnd.github+json",
		"X-GitHub-Api-Version": "2022-11-28",
	}, exchanges...)
	gh, err := promote.NewGitHub(r.srv.URL, "acme/deploy", githubToken, promote.WithForgeInsecure())
	require.NoError(t, err)
	return gh, r
}

func githubSpec(tag string) promote.PullRequestSpec {
	return promote.PullRequestSpec{
		Head: "converge/promote/staging/web", Base: "main",
		Title: "Promote web " + tag + " to staging",
		Body:  "Promotes `ghcr.io/acme/web` from dev to staging.\n\n| image | from | to |\n|---|---|---|\n| ghcr.io/acme/web | 1.4.1 | " + tag + " |\n",
	}
}

func forgeCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestGitHubLifecycle: open (then label), find unchanged, update on a new
// head and add a label, wait through a pending status and an in-progress
// check run, squash-merge pinned to the checked head, wait merged.
func TestGitHubLifecycle(t *testing.T) {
	gh, _ := newGitHubReplay(t, loadRecording(t, "github", "lifecycle").Exchanges...)
	ctx := forgeCtx(t)
	prs := promote.NewPullRequester(gh)
	promote.SetPollFloor(prs, time.Millisecond)

	spec := githubSpec("1.4.2")
	spec.Labels = []string{"promotion"}
	opened, err := prs.Ensure(ctx, spec)
	require.NoError(t, err)
	assert.Equal(t, promote.PullOpened, opened.Action)
	assert.Equal(t, promote.PullRequest{
		Number: 42, URL: "https://github.com/acme/deploy/pull/42",
		Head: "converge/promote/staging/web", Base: "main", HeadSHA: "6dcb09b5b57875f334f61aebed695e2e4193db5e",
		Title: spec.Title, Body: spec.Body, Labels: []string{"promotion"}, State: promote.PullOpen,
	}, opened.PullRequest)

	again, err := prs.Ensure(ctx, spec)
	require.NoError(t, err)
	assert.Equal(t, promote.PullUnchanged, again.Action)
	assert.Equal(t, 42, again.PullRequest.Number)

	spec = githubSpec("1.4.3")
	spec.Labels = []string{"promotion", "env/staging"}
	updated, err := prs.Ensure(ctx, spec)
	require.NoError(t, err)
	assert.Equal(t, promote.PullUpdated, updated.Action)
	assert.Equal(t, 42, updated.PullRequest.Number)
	assert.Equal(t, spec.Title, updated.PullRequest.Title)
	assert.Equal(t, "8f3a1c0e5d9b2a7f4e6c1b0d3a5f7e9c2b4d6a81", updated.PullRequest.HeadSHA)
	assert.Equal(t, []string{"promotion", "env/staging"}, updated.PullRequest.Labels)

	summary, err := prs.WaitChecks(ctx, 42, promote.PullWaitOptions{Required: []string{"ci/kustomize-build", "validate"}})
	require.NoError(t, err)
	assert.Equal(t, promote.CheckSummary{
		SHA: "8f3a1c0e5d9b2a7f4e6c1b0d3a5f7e9c2b4d6a81", State: promote.CheckSuccess,
		Checks: []promote.Check{
			{Name: "ci/kustomize-build", State: promote.CheckSuccess, URL: "https://ci.acme.example/builds/5521", Description: "Build passed"},
			{Name: "validate", State: promote.CheckSuccess, URL: "https://github.com/acme/deploy/actions/runs/119024002/job/24002", Description: "All manifests valid"},
		},
	}, summary)

	merged, err := prs.Merge(ctx, 42, promote.MergeOptions{Method: promote.MergeSquash, SHA: summary.SHA})
	require.NoError(t, err)
	assert.Equal(t, promote.PullMerged, merged.State)
	waited, err := prs.WaitMerged(ctx, 42, promote.PullWaitOptions{})
	require.NoError(t, err)
	assert.Equal(t, promote.PullMerged, waited.State)
}

// TestGitHubEnsureRace: the open is refused because another run opened
// the pull request a moment before (422 "A pull request already
// exists"); Ensure pages to it, past a fork's pull request from a branch
// of the same name, and keeps it.
func TestGitHubEnsureRace(t *testing.T) {
	gh, _ := newGitHubReplay(t, loadRecording(t, "github", "ensure-race").Exchanges...)
	res, err := promote.NewPullRequester(gh).Ensure(forgeCtx(t), githubSpec("1.4.2"))
	require.NoError(t, err)
	assert.Equal(t, promote.PullUnchanged, res.Action)
	assert.Equal(t, 42, res.PullRequest.Number)
	assert.Equal(t, "https://github.com/acme/deploy/pull/42", res.PullRequest.URL)
}

// TestGitHubChecksPaginated: 101 statuses over two pages of the Link
// header, then the check runs; a cancelled run fails, a skipped one
// passes.
func TestGitHubChecksPaginated(t *testing.T) {
	gh, r := newGitHubReplay(t, loadRecording(t, "github", "checks-paginated").Exchanges...)
	sha := "8f3a1c0e5d9b2a7f4e6c1b0d3a5f7e9c2b4d6a81"
	checks, err := gh.Checks(forgeCtx(t), sha)
	require.NoError(t, err)
	assert.Equal(t, 3, r.count())
	require.Len(t, checks, 103)
	assert.Equal(t, "ci/overlay-000", checks[0].Name)
	assert.Equal(t, "ci/overlay-100", checks[100].Name)
	summary := promote.SummarizeChecks(sha, checks, nil)
	assert.Equal(t, promote.CheckFailure, summary.State)
	assert.Equal(t, promote.Check{Name: "deploy-preview", State: promote.CheckFailure,
		URL: "https://github.com/acme/deploy/actions/runs/119025100/job/25100", Description: "Cancelled by octocat"}, checks[101])
	assert.Equal(t, promote.CheckSuccess, checks[102].State, "a skipped check run passes")
}

// TestGitHubErrors: GitHub's error answers as typed errors.
func TestGitHubErrors(t *testing.T) {
	pull := func(f promote.Forge) error { _, err := f.PullRequest(context.Background(), 42); return err }
	runErrorCases(t, loadRecording(t, "github", "errors"), githubToken,
		func(t *testing.T, ex exchange) promote.Forge { gh, _ := newGitHubReplay(t, ex); return gh },
		map[string]errorCase{
			"bad-credentials": {reason: "401", call: pull, kind: promote.ErrForgeUnauthorized, status: http.StatusUnauthorized, says: "Bad credentials"},
			"not-found":       {reason: "404", call: pull, kind: promote.ErrForgeNotFound, status: http.StatusNotFound, says: "Not Found"},
			"no-permission": {
				reason: "403 without a spent rate limit is a refused token",
				call: func(f promote.Forge) error {
					return f.AddLabels(context.Background(), 42, []string{"promotion"})
				},
				kind: promote.ErrForgeUnauthorized, status: http.StatusForbidden, says: "Resource not accessible by personal access token",
			},
			"rate-limited": {reason: "403 with X-RateLimit-Remaining: 0", call: pull, kind: promote.ErrForgeRateLimited, status: http.StatusForbidden, says: "API rate limit exceeded"},
			"head-invalid": {
				reason: "422 with GitHub's field errors",
				call: func(f promote.Forge) error {
					_, err := f.OpenPullRequest(context.Background(), githubSpec("1.4.2"))
					return err
				},
				kind: promote.ErrForgeRejected, status: http.StatusUnprocessableEntity, says: "Validation Failed: PullRequest head invalid",
			},
			"not-mergeable": {
				reason: "405",
				call: func(f promote.Forge) error {
					return f.Merge(context.Background(), 42, promote.MergeOptions{})
				},
				kind: promote.ErrForgeRejected, status: http.StatusMethodNotAllowed, says: "Pull Request is not mergeable",
			},
			"head-moved": {
				reason: "409: the head is not the commit that passed",
				call: func(f promote.Forge) error {
					return f.Merge(context.Background(), 42, promote.MergeOptions{SHA: "6dcb09b5b57875f334f61aebed695e2e4193db5e"})
				},
				kind: promote.ErrForgeRejected, status: http.StatusConflict, says: "Head branch was modified",
			},
			"sso-html": {
				reason: "a 200 HTML sign-in page is not the API; its title's escape sequence is removed",
				call:   pull, kind: promote.ErrForgeBadResponse, status: http.StatusOK, says: "an HTML page (Sign in to Acme SSO [31m)",
			},
			"bad-gateway-html": {reason: "a proxy's 502 page", call: pull, kind: promote.ErrForgeBadResponse, status: http.StatusBadGateway, says: "an HTML page (502 Bad Gateway)"},
		})
}

// TestGitHubNoTokenInErrors: a GitHub answer that quotes the token
// (a proxy echoing the request) never shows it.
func TestGitHubNoTokenInErrors(t *testing.T) {
	var ex exchange
	ex.Request.Method, ex.Request.Path = http.MethodGet, "/repos/acme/deploy/pulls/42"
	ex.Response.Status = http.StatusUnauthorized
	ex.Response.Headers = map[string]string{"Content-Type": "application/json"}
	ex.Response.Body = []byte(`{"message":"token Bearer ` + githubToken + ` is not valid","documentation_url":"https://docs.github.com/rest"}`)
	gh, _ := newGitHubReplay(t, ex)
	_, err := gh.PullRequest(forgeCtx(t), 42)
	require.ErrorIs(t, err, promote.ErrForgeUnauthorized)
	assert.NotContains(t, err.Error(), githubToken)
	assert.Contains(t, err.Error(), "token Bearer *** is not valid")
	var fe *promote.ForgeError
	require.ErrorAs(t, err, &fe)
	assert.False(t, strings.Contains(fe.Message, githubToken), "the Message field holds the token")
}
