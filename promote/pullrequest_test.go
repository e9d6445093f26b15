package promote_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/promote"
)

// memForge is an in-memory Forge for the PullRequester's own logic; the
// clients are tested against Gitea and recorded exchanges.
type memForge struct {
	mu     sync.Mutex
	pulls  []promote.PullRequest
	checks map[string][]promote.Check
	// onRead runs on each PullRequest read (under the lock), to change
	// the forge between two polls.
	onRead func(f *memForge, reads int)
	reads  int
	// openErr, when set, is what OpenPullRequest fails with, after
	// openRace (when set) ran: another run opening the same pull request.
	openErr  error
	openRace func(f *memForge)
	calls    []string
}

var _ promote.Forge = (*memForge)(nil)

func (f *memForge) FindPullRequest(_ context.Context, head, base string) (promote.PullRequest, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "find")
	for _, p := range f.pulls {
		if p.Head == head && p.Base == base && p.State == promote.PullOpen {
			return p, true, nil
		}
	}
	return promote.PullRequest{}, false, nil
}

func (f *memForge) OpenPullRequest(_ context.Context, s promote.PullRequestSpec) (promote.PullRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "open")
	if f.openErr != nil {
		if f.openRace != nil {
			f.openRace(f)
		}
		return promote.PullRequest{}, f.openErr
	}
	p := promote.PullRequest{Number: len(f.pulls) + 1, Head: s.Head, Base: s.Base, HeadSHA: "aaaaaaa", Title: s.Title, Body: s.Body, Labels: s.Labels, State: promote.PullOpen}
	f.pulls = append(f.pulls, p)
	return p, nil
}

func (f *memForge) UpdatePullRequest(_ context.Context, n int, title, body string) (promote.PullRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "update")
	f.pulls[n-1].Title, f.pulls[n-1].Body = title, body
	return f.pulls[n-1], nil
}

func (f *memForge) AddLabels(_ context.Context, n int, labels []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "label")
	f.pulls[n-1].Labels = append(f.pulls[n-1].Labels, labels...)
	return nil
}

func (f *memForge) PullRequest(_ context.Context, n int) (promote.PullRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.onRead != nil {
		f.onRead(f, f.reads)
	}
	return f.pulls[n-1], nil
}

func (f *memForge) Checks(_ context.Context, sha string) ([]promote.Check, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]promote.Check(nil), f.checks[sha]...), nil
}

func (f *memForge) Merge(_ context.Context, n int, opts promote.MergeOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "merge")
	if opts.SHA != "" && opts.SHA != f.pulls[n-1].HeadSHA {
		return &promote.ForgeError{Forge: "mem", Op: "merge", Status: 409, Kind: promote.ErrForgeRejected}
	}
	f.pulls[n-1].State = promote.PullMerged
	return nil
}

func fastRequester(f promote.Forge) *promote.PullRequester {
	r := promote.NewPullRequester(f)
	promote.SetPollFloor(r, time.Millisecond)
	return r
}

var memSpec = promote.PullRequestSpec{Head: "converge/promote/staging", Base: "main", Title: "Promote", Body: "body\n", Labels: []string{"promotion"}}

// TestPullRequesterEnsure: opened, unchanged (a body the forge stored
// with CRLF and trailing space included), updated, labels only added.
func TestPullRequesterEnsure(t *testing.T) {
	f := &memForge{}
	r := fastRequester(f)
	ctx := context.Background()
	res, err := r.Ensure(ctx, memSpec)
	require.NoError(t, err)
	assert.Equal(t, promote.PullOpened, res.Action)

	f.pulls[0].Body = "body\r\n  "
	res, err = r.Ensure(ctx, memSpec)
	require.NoError(t, err)
	assert.Equal(t, promote.PullUnchanged, res.Action)

	f.pulls[0].Labels = append(f.pulls[0].Labels, "reviewed")
	spec := memSpec
	spec.Labels = []string{"promotion", "env/staging", "env/staging"}
	res, err = r.Ensure(ctx, spec)
	require.NoError(t, err)
	assert.Equal(t, promote.PullUpdated, res.Action)
	assert.Equal(t, []string{"promotion", "reviewed", "env/staging"}, f.pulls[0].Labels, "labels are added once, none removed")
	assert.Equal(t, []string{"find", "open", "find", "find", "label"}, f.calls, "no update without a changed title or body")
	assert.Len(t, f.pulls, 1)

	_, err = r.Ensure(ctx, promote.PullRequestSpec{Head: "-f", Base: "main", Title: "x"})
	assert.ErrorIs(t, err, promote.ErrInvalidPullRequest)
}

// TestPullRequesterEnsureRace: a refused open is followed by a second
// look; the other run's pull request is updated, and when there is none
// the refusal is returned.
func TestPullRequesterEnsureRace(t *testing.T) {
	rejected := &promote.ForgeError{Forge: "mem", Op: "open", Status: 422, Kind: promote.ErrForgeRejected}
	f := &memForge{openErr: rejected, openRace: func(f *memForge) {
		f.pulls = append(f.pulls, promote.PullRequest{Number: 1, Head: memSpec.Head, Base: memSpec.Base, Title: "other run", State: promote.PullOpen})
	}}
	res, err := fastRequester(f).Ensure(context.Background(), memSpec)
	require.NoError(t, err)
	assert.Equal(t, promote.PullUpdated, res.Action)
	assert.Equal(t, memSpec.Title, f.pulls[0].Title)

	lone := &memForge{openErr: rejected}
	_, err = fastRequester(lone).Ensure(context.Background(), memSpec)
	assert.ErrorIs(t, err, promote.ErrForgeRejected)
	var fe *promote.ForgeError
	require.True(t, errors.As(err, &fe))
	assert.Same(t, rejected, fe, "the forge's refusal, not the second look's outcome")
}

// TestPullRequesterWaitChecks: a push while waiting restarts the wait on
// the new head, whose checks alone decide; a failure names the check.
func TestPullRequesterWaitChecks(t *testing.T) {
	f := &memForge{
		pulls: []promote.PullRequest{{Number: 1, HeadSHA: "aaaaaaa", State: promote.PullOpen}},
		checks: map[string][]promote.Check{
			"aaaaaaa": {{Name: "ci", State: promote.CheckPending}},
			"bbbbbbb": {{Name: "ci", State: promote.CheckSuccess}, {Name: "ci", State: promote.CheckFailure}},
		},
		onRead: func(f *memForge, reads int) {
			if reads == 3 {
				f.pulls[0].HeadSHA = "bbbbbbb"
			}
		},
	}
	s, err := fastRequester(f).WaitChecks(context.Background(), 1, promote.PullWaitOptions{})
	require.NoError(t, err)
	assert.Equal(t, "bbbbbbb", s.SHA)
	assert.Equal(t, promote.CheckSuccess, s.State, "the first status of a name is the latest")
	assert.Equal(t, 3, f.reads)

	f.checks["ccccccc"] = []promote.Check{{Name: "lint", State: promote.CheckFailure}, {Name: "ci", State: promote.CheckSuccess}}
	f.onRead = func(f *memForge, _ int) { f.pulls[0].HeadSHA = "ccccccc" }
	_, err = fastRequester(f).WaitChecks(context.Background(), 1, promote.PullWaitOptions{})
	require.ErrorIs(t, err, promote.ErrChecksFailed)
	assert.Contains(t, err.Error(), "lint")
	assert.NotContains(t, err.Error(), "ci")
}

// TestPullRequesterWaitEnds: the waits end with ctx, and a merge pinned
// to a moved head is refused.
func TestPullRequesterWaitEnds(t *testing.T) {
	f := &memForge{
		pulls:  []promote.PullRequest{{Number: 1, HeadSHA: "aaaaaaa", State: promote.PullOpen}},
		checks: map[string][]promote.Check{"aaaaaaa": {{Name: "ci", State: promote.CheckPending}}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	last, err := fastRequester(f).WaitChecks(ctx, 1, promote.PullWaitOptions{})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, promote.CheckPending, last.State)
	_, err = fastRequester(f).WaitMerged(ctx, 1, promote.PullWaitOptions{})
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	_, err = fastRequester(f).Merge(context.Background(), 1, promote.MergeOptions{SHA: "bbbbbbb"})
	assert.ErrorIs(t, err, promote.ErrForgeRejected)
	pr, err := fastRequester(f).Merge(context.Background(), 1, promote.MergeOptions{SHA: "aaaaaaa"})
	require.NoError(t, err)
	assert.Equal(t, promote.PullMerged, pr.State)
}

// TestPullRequesterSummarizeChecks: how checks combine.
func TestPullRequesterSummarizeChecks(t *testing.T) {
	ok := promote.Check{Name: "a", State: promote.CheckSuccess}
	for name, tc := range map[string]struct {
		reason   string
		checks   []promote.Check
		required []string
		want     promote.CheckState
		missing  []string
	}{
		"none":               {"no checks and none required pass", nil, nil, promote.CheckSuccess, nil},
		"required missing":   {"a required check that has not reported holds", []promote.Check{ok}, []string{"a", "b", "b"}, promote.CheckPending, []string{"b"}},
		"pending":            {"one pending holds", []promote.Check{ok, {Name: "b", State: promote.CheckPending}}, nil, promote.CheckPending, nil},
		"failure wins":       {"a failure beats a pending", []promote.Check{{Name: "b", State: promote.CheckPending}, {Name: "c", State: promote.CheckFailure}}, []string{"d"}, promote.CheckFailure, []string{"d"}},
		"latest first":       {"an older failure of the same name is ignored", []promote.Check{ok, {Name: "a", State: promote.CheckFailure}}, nil, promote.CheckSuccess, nil},
		"unknown is pending": {"a state converge does not know never passes", []promote.Check{{Name: "a", State: "weird"}}, nil, promote.CheckPending, nil},
	} {
		t.Run(name, func(t *testing.T) {
			s := promote.SummarizeChecks("abc1234", tc.checks, tc.required)
			assert.Equal(t, tc.want, s.State, tc.reason)
			assert.Equal(t, tc.missing, s.Missing, tc.reason)
			assert.Equal(t, "abc1234", s.SHA)
		})
	}
}
