package promote_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/giteatest"
	"github.com/converge-dev/converge/promote"
)

// These tests run against a real Gitea (v1.26.0, SQLite, loopback),
// shared by the package's tests; each works in a repository of its own,
// pushed to with the git CLI.

// newGitea returns the shared server, a repository of t's own, and a
// client of it.
func newGitea(t *testing.T, name string) (*giteatest.Server, *giteatest.Repo, *promote.Gitea) {
	t.Helper()
	s := gitea.Server(t)
	repo := s.CreateRepo(t, name)
	g, err := promote.NewGitea(s.URL, repo.FullName, s.Token, promote.WithForgeInsecure())
	require.NoError(t, err)
	return s, repo, g
}

func giteaCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func kustomization(tag string) string {
	return "images:\n- name: ghcr.io/acme/web\n  newTag: " + tag + " # promoted by converge\n"
}

// setStatus reports a commit status from any goroutine (no t.Fatal).
func setStatus(ctx context.Context, s *giteatest.Server, repo, sha, name, state string) error {
	data, _ := json.Marshal(map[string]string{"state": state, "context": name, "description": name + " is " + state})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/api/v1/repos/"+repo+"/statuses/"+sha, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "token "+s.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("set status %s: HTTP %d", name, resp.StatusCode)
	}
	return nil
}

// giteaPulls lists every pull request of repo, whatever its state, as
// Gitea records them.
func giteaPulls(t *testing.T, s *giteatest.Server, repo string) []int {
	t.Helper()
	var all []struct {
		Number int `json:"number"`
	}
	s.Must(t, http.MethodGet, "repos/"+repo+"/pulls?state=all&limit=50", nil, &all)
	var numbers []int
	for _, p := range all {
		numbers = append(numbers, p.Number)
	}
	return numbers
}

// TestGiteaPullRequestLifecycle drives a promotion's pull request through
// a real Gitea: open it with a label, find it again unchanged, update it
// on a new push with a new label (never a second pull request, never a
// label created twice), wait out a failing, a pending and a missing
// required check, refuse a merge pinned to the old head, merge the
// checked head and see the promoted file on main.
func TestGiteaPullRequestLifecycle(t *testing.T) {
	s, repo, g := newGitea(t, "lifecycle")
	ctx := giteaCtx(t)
	head, err := promote.PromotionBranch("staging", "web")
	require.NoError(t, err)
	file := "apps/web/overlays/staging/kustomization.yaml"
	sha1 := repo.Push(t, head, "promote web 1.4.2 to staging", map[string]string{file: kustomization("1.4.2")})

	prs := promote.NewPullRequester(g)
	promote.SetPollFloor(prs, 20*time.Millisecond)
	spec := promote.PullRequestSpec{
		Head: head, Base: "main",
		Title:  "Promote web 1.4.2 to staging",
		Body:   "Promotes `ghcr.io/acme/web` from dev to staging.\n\n| image | from | to |\n|---|---|---|\n| ghcr.io/acme/web | 1.4.1 | 1.4.2 |\n",
		Labels: []string{"promotion"},
	}
	opened, err := prs.Ensure(ctx, spec)
	require.NoError(t, err)
	assert.Equal(t, promote.PullOpened, opened.Action)
	pr := opened.PullRequest
	require.Positive(t, pr.Number)
	assert.Equal(t, head, pr.Head)
	assert.Equal(t, "main", pr.Base)
	assert.Equal(t, sha1, pr.HeadSHA)
	assert.Equal(t, promote.PullOpen, pr.State)
	assert.Equal(t, []string{"promotion"}, pr.Labels)
	assert.Equal(t, fmt.Sprintf("%s/%s/pulls/%d", s.URL, repo.FullName, pr.Number), pr.URL)

	again, err := prs.Ensure(ctx, spec)
	require.NoError(t, err)
	assert.Equal(t, promote.PullUnchanged, again.Action, "a second run with the same promotion changes nothing")
	assert.Equal(t, pr.Number, again.PullRequest.Number)

	// A newer promotion onto the same branch updates the same pull request.
	sha2 := repo.Push(t, head, "promote web 1.4.3 to staging", map[string]string{file: kustomization("1.4.3")})
	spec.Title = "Promote web 1.4.3 to staging"
	spec.Body = strings.ReplaceAll(spec.Body, "1.4.2", "1.4.3")
	spec.Labels = []string{"promotion", "env/staging"}
	updated, err := prs.Ensure(ctx, spec)
	require.NoError(t, err)
	assert.Equal(t, promote.PullUpdated, updated.Action)
	assert.Equal(t, pr.Number, updated.PullRequest.Number)
	assert.Equal(t, []int{pr.Number}, giteaPulls(t, s, repo.FullName), "one pull request, never a second")

	read, err := g.PullRequest(ctx, pr.Number)
	require.NoError(t, err)
	assert.Equal(t, spec.Title, read.Title)
	assert.Equal(t, spec.Body, read.Body)
	assert.Equal(t, sha2, read.HeadSHA)
	assert.ElementsMatch(t, spec.Labels, read.Labels)
	var labels []struct {
		Name string `json:"name"`
	}
	s.Must(t, http.MethodGet, "repos/"+repo.FullName+"/labels", nil, &labels)
	var names []string
	for _, l := range labels {
		names = append(names, l.Name)
	}
	slices.Sort(names)
	assert.Equal(t, []string{"env/staging", "promotion"}, names, "each label created once")

	// A failing check fails the wait; the latest status of a context wins.
	require.NoError(t, setStatus(ctx, s, repo.FullName, sha2, "ci/lint", "failure"))
	failed, err := prs.WaitChecks(ctx, pr.Number, promote.PullWaitOptions{})
	require.ErrorIs(t, err, promote.ErrChecksFailed)
	assert.Contains(t, err.Error(), "ci/lint")
	assert.Equal(t, promote.CheckFailure, failed.State)
	require.NoError(t, setStatus(ctx, s, repo.FullName, sha2, "ci/lint", "success"))

	// A pending check and a required one not reported yet hold the wait
	// until both pass.
	require.NoError(t, setStatus(ctx, s, repo.FullName, sha2, "ci/build", "pending"))
	pending, err := prs.Checks(ctx, pr.Number, []string{"ci/build", "ci/e2e"})
	require.NoError(t, err)
	assert.Equal(t, promote.CheckPending, pending.State)
	assert.Equal(t, []string{"ci/e2e"}, pending.Missing)
	reported := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		err := setStatus(ctx, s, repo.FullName, sha2, "ci/build", "success")
		if err == nil {
			time.Sleep(200 * time.Millisecond)
			err = setStatus(ctx, s, repo.FullName, sha2, "ci/e2e", "success")
		}
		reported <- err
	}()
	start := time.Now()
	passed, err := prs.WaitChecks(ctx, pr.Number, promote.PullWaitOptions{Required: []string{"ci/build", "ci/e2e"}})
	require.NoError(t, err)
	require.NoError(t, <-reported)
	assert.GreaterOrEqual(t, time.Since(start), 500*time.Millisecond, "the wait returned before the checks passed")
	assert.Equal(t, promote.CheckSuccess, passed.State)
	assert.Equal(t, sha2, passed.SHA)
	assert.Empty(t, passed.Missing)
	assert.Len(t, passed.Checks, 3)

	// A merge pinned to the head that was pushed over is refused.
	_, err = prs.Merge(ctx, pr.Number, promote.MergeOptions{SHA: sha1})
	require.ErrorIs(t, err, promote.ErrForgeRejected)
	var fe *promote.ForgeError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, http.StatusConflict, fe.Status)

	merged, err := prs.Merge(ctx, pr.Number, promote.MergeOptions{Method: promote.MergeCommit, SHA: passed.SHA})
	require.NoError(t, err)
	assert.Equal(t, promote.PullMerged, merged.State)
	waited, err := prs.WaitMerged(ctx, pr.Number, promote.PullWaitOptions{})
	require.NoError(t, err)
	assert.Equal(t, promote.PullMerged, waited.State)
	twice, err := prs.Merge(ctx, pr.Number, promote.MergeOptions{})
	require.NoError(t, err, "merging a merged pull request is not an error")
	assert.Equal(t, promote.PullMerged, twice.State)

	status, content := s.Do(t, http.MethodGet, "repos/"+repo.FullName+"/raw/"+file+"?ref=main", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, kustomization("1.4.3"), string(content))
	_, found, err := g.FindPullRequest(ctx, head, "main")
	require.NoError(t, err)
	assert.False(t, found, "a merged pull request is never found as the open one")
}

// TestGiteaPullRequestClosed: a pull request closed by a person ends the
// waits and refuses a merge with ErrPullRequestClosed, and the next run
// opens a new one rather than reopening it.
func TestGiteaPullRequestClosed(t *testing.T) {
	s, repo, g := newGitea(t, "closed")
	ctx := giteaCtx(t)
	head := "converge/promote/prod"
	repo.Push(t, head, "promote", map[string]string{"prod.yaml": "tag: 2\n"})
	prs := promote.NewPullRequester(g)
	promote.SetPollFloor(prs, 20*time.Millisecond)
	spec := promote.PullRequestSpec{Head: head, Base: "main", Title: "Promote to prod"}
	first, err := prs.Ensure(ctx, spec)
	require.NoError(t, err)
	require.Equal(t, promote.PullOpened, first.Action)
	n := first.PullRequest.Number

	s.Must(t, http.MethodPatch, fmt.Sprintf("repos/%s/pulls/%d", repo.FullName, n), map[string]string{"state": "closed"}, nil)
	_, err = prs.WaitMerged(ctx, n, promote.PullWaitOptions{})
	assert.ErrorIs(t, err, promote.ErrPullRequestClosed)
	_, err = prs.WaitChecks(ctx, n, promote.PullWaitOptions{})
	assert.ErrorIs(t, err, promote.ErrPullRequestClosed)
	_, err = prs.Merge(ctx, n, promote.MergeOptions{})
	assert.ErrorIs(t, err, promote.ErrPullRequestClosed)

	next, err := prs.Ensure(ctx, spec)
	require.NoError(t, err)
	assert.Equal(t, promote.PullOpened, next.Action)
	assert.NotEqual(t, n, next.PullRequest.Number)
	assert.ElementsMatch(t, []int{n, next.PullRequest.Number}, giteaPulls(t, s, repo.FullName))
}

// TestGiteaOpenTwice: Gitea refuses a second pull request for the same
// branches (409, ErrForgeRejected), which is what lets Ensure, racing
// another run, find and keep the one that run opened.
func TestGiteaOpenTwice(t *testing.T) {
	s, repo, g := newGitea(t, "twice")
	ctx := giteaCtx(t)
	head := "converge/promote/staging"
	repo.Push(t, head, "promote", map[string]string{"a.yaml": "a: 1\n"})
	spec := promote.PullRequestSpec{Head: head, Base: "main", Title: "Promote to staging"}
	pr, err := g.OpenPullRequest(ctx, spec)
	require.NoError(t, err)
	_, err = g.OpenPullRequest(ctx, spec)
	require.ErrorIs(t, err, promote.ErrForgeRejected)
	var fe *promote.ForgeError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, http.StatusConflict, fe.Status)
	assert.Equal(t, "gitea", fe.Forge)

	res, err := promote.NewPullRequester(g).Ensure(ctx, spec)
	require.NoError(t, err)
	assert.Equal(t, promote.PullUnchanged, res.Action)
	assert.Equal(t, pr.Number, res.PullRequest.Number)
	assert.Equal(t, []int{pr.Number}, giteaPulls(t, s, repo.FullName))
}

// TestGiteaChecksPaginated reads 60 statuses, more than Gitea's 50 a
// page, through a base URL naming another host than Gitea's ROOT_URL
// (localhost, not 127.0.0.1): the pages follow Gitea's Link header by
// page number and stay on the configured host.
func TestGiteaChecksPaginated(t *testing.T) {
	s, repo, _ := newGitea(t, "paginated")
	ctx := giteaCtx(t)
	sha := repo.Push(t, "converge/promote/qa", "promote", map[string]string{"qa.yaml": "q: 1\n"})
	for i := range 60 {
		state := "success"
		if i == 57 {
			state = "error"
		}
		require.NoError(t, setStatus(ctx, s, repo.FullName, sha, fmt.Sprintf("overlay-%02d", i), state))
	}
	base := strings.Replace(s.URL, "127.0.0.1", "localhost", 1)
	g, err := promote.NewGitea(base, repo.FullName, s.Token, promote.WithForgeInsecure())
	require.NoError(t, err)
	checks, err := g.Checks(ctx, sha)
	require.NoError(t, err)
	require.Len(t, checks, 60)
	summary := promote.SummarizeChecks(sha, checks, nil)
	assert.Equal(t, promote.CheckFailure, summary.State)
	var failed []string
	for _, c := range summary.Checks {
		if c.State == promote.CheckFailure {
			failed = append(failed, c.Name)
		}
	}
	assert.Equal(t, []string{"overlay-57"}, failed)

	// Bounded: two pages are more than a limit of one allows.
	one, err := promote.NewGitea(s.URL, repo.FullName, s.Token, promote.WithForgeInsecure(), promote.WithForgeMaxPages(1))
	require.NoError(t, err)
	_, err = one.Checks(ctx, sha)
	assert.ErrorIs(t, err, promote.ErrForgeBadResponse)
}

// TestGiteaErrors: the real server's refusals arrive as typed errors
// that never show the token.
func TestGiteaErrors(t *testing.T) {
	s, repo, g := newGitea(t, "errors")
	ctx := giteaCtx(t)
	wrongToken := "0123456789abcdef0123456789abcdef01234567"
	badToken, err := promote.NewGitea(s.URL, repo.FullName, wrongToken, promote.WithForgeInsecure())
	require.NoError(t, err)
	noRepo, err := promote.NewGitea(s.URL, s.User+"/no-such-repo", s.Token, promote.WithForgeInsecure())
	require.NoError(t, err)

	for name, tc := range map[string]struct {
		reason string
		call   func() error
		kind   error
		status int
	}{
		"wrong token": {
			reason: "401 is ErrForgeUnauthorized",
			call:   func() error { _, err := badToken.PullRequest(ctx, 1); return err },
			kind:   promote.ErrForgeUnauthorized, status: http.StatusUnauthorized,
		},
		"no repository": {
			reason: "404 is ErrForgeNotFound",
			call:   func() error { _, _, err := noRepo.FindPullRequest(ctx, "converge/promote/x", "main"); return err },
			kind:   promote.ErrForgeNotFound, status: http.StatusNotFound,
		},
		"no pull request": {
			reason: "404 is ErrForgeNotFound",
			call:   func() error { _, err := g.PullRequest(ctx, 999); return err },
			kind:   promote.ErrForgeNotFound, status: http.StatusNotFound,
		},
		"no head branch": {
			reason: "a promotion whose branch was never pushed",
			call: func() error {
				_, err := g.OpenPullRequest(ctx, promote.PullRequestSpec{Head: "converge/promote/none", Base: "main", Title: "x"})
				return err
			},
			kind: promote.ErrForgeNotFound, status: http.StatusNotFound,
		},
		"no commit": {
			reason: "statuses of a commit that does not exist",
			call:   func() error { _, err := g.Checks(ctx, "fedcba9876543210fedcba9876543210fedcba98"); return err },
			kind:   promote.ErrForgeNotFound, status: http.StatusNotFound,
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.call()
			require.Error(t, err, tc.reason)
			assert.ErrorIs(t, err, tc.kind, tc.reason)
			var fe *promote.ForgeError
			require.True(t, errors.As(err, &fe), "%T is not a *ForgeError", err)
			assert.Equal(t, tc.status, fe.Status)
			assert.NotContains(t, err.Error(), s.Token)
			assert.NotContains(t, err.Error(), wrongToken)
			assert.Contains(t, err.Error(), "gitea")
		})
	}
}
