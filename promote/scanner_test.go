package promote_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/promote"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestScanner(t *testing.T) {
	srv := startServer(t, serverOpts{auth: true})
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := promote.NewScanner(5*time.Minute, promote.WithClock(clk.now))
	creds := promote.WithCredentials(promote.Credentials{Username: testUser, Password: testPassword})
	repo, err := promote.NewImageRepository(srv.Host+"/team/app", promote.WithInsecure(), creds)
	require.NoError(t, err)
	ctx := context.Background()

	first, err := s.Scan(ctx, repo)
	require.NoError(t, err)
	assert.False(t, first.Cached)
	assert.Equal(t, visibleTags(), first.Tags)
	listed := srv.requests.Load()
	require.Positive(t, listed)

	first.Tags[0] = "mutated"
	clk.add(4 * time.Minute)
	again, err := s.Scan(ctx, repo)
	require.NoError(t, err)
	assert.True(t, again.Cached, "within the interval the last list answers")
	assert.Equal(t, listed, srv.requests.Load(), "no request within the interval")
	assert.Equal(t, visibleTags(), again.Tags, "the caller's copy is its own")
	assert.Equal(t, first.Time, again.Time)

	other, err := promote.NewImageRepository(srv.Host+"/team/app", promote.WithInsecure(), creds, promote.WithExclusions(`^latest$`))
	require.NoError(t, err)
	changed, err := s.Scan(ctx, other)
	require.NoError(t, err)
	assert.False(t, changed.Cached, "a changed exclusion list lists again")
	assert.NotContains(t, changed.Tags, "latest")

	clk.add(time.Minute)
	due, err := s.Scan(ctx, repo)
	require.NoError(t, err)
	assert.False(t, due.Cached, "the interval passed")
	assert.Equal(t, clk.now(), due.Time)

	s.Forget(repo)
	forgot, err := s.Scan(ctx, repo)
	require.NoError(t, err)
	assert.False(t, forgot.Cached, "Forget drops the cached list")

	anon, err := promote.NewImageRepository(srv.Host+"/team/app", promote.WithInsecure())
	require.NoError(t, err)
	_, err = s.Scan(ctx, anon)
	assert.ErrorIs(t, err, promote.ErrUnauthorized, "another repository's credentials never answer for it")
	before := srv.requests.Load()
	_, err = s.Scan(ctx, anon)
	assert.ErrorIs(t, err, promote.ErrUnauthorized)
	assert.Greater(t, srv.requests.Load(), before, "a failure is not cached: the next call tries again")
}

func TestScannerZeroInterval(t *testing.T) {
	srv := startServer(t, serverOpts{})
	repo, err := promote.NewImageRepository(srv.Host+"/team/app", promote.WithInsecure())
	require.NoError(t, err)
	s := promote.NewScanner(0)
	for range 2 {
		scan, err := s.Scan(context.Background(), repo)
		require.NoError(t, err)
		assert.False(t, scan.Cached)
	}
	assert.Equal(t, int64(2), srv.pages.Load())
}

// TestScannerGitTagsAndHelmCharts: Git tags (a real git http-backend) and
// a Helm repository's index are listed once per interval too, each by
// what its listing depends on.
func TestScannerGitTagsAndHelmCharts(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := promote.NewScanner(time.Minute, promote.WithClock(clk.now))
	ctx := context.Background()

	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "app")
	repo.Commit(t, "one", map[string]string{"a": "1"})
	repo.Tag(t, "v1.0.0", "")
	tags, err := promote.NewGitTags(repo.URL, promote.WithInsecure())
	require.NoError(t, err)
	first, err := s.Scan(ctx, tags)
	require.NoError(t, err)
	assert.Equal(t, []string{"v1.0.0"}, first.Tags)
	requests := srv.Requests()
	repo.Tag(t, "v1.1.0", "")
	cached, err := s.Scan(ctx, tags)
	require.NoError(t, err)
	assert.True(t, cached.Cached)
	assert.Equal(t, []string{"v1.0.0"}, cached.Tags, "the interval has not passed")
	assert.Equal(t, requests, srv.Requests(), "a cached scan sends nothing")
	clk.add(time.Minute)
	again, err := s.Scan(ctx, tags)
	require.NoError(t, err)
	assert.False(t, again.Cached)
	assert.ElementsMatch(t, []string{"v1.0.0", "v1.1.0"}, again.Tags)

	var listed atomic.Int32
	index := readFixture(t)
	helmSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		listed.Add(1)
		_, _ = io.WriteString(w, index)
	}))
	t.Cleanup(helmSrv.Close)
	chart, err := promote.NewHelmChart(helmSrv.URL, "web", promote.WithInsecure())
	require.NoError(t, err)
	other, err := promote.NewHelmChart(helmSrv.URL, "api", promote.WithInsecure())
	require.NoError(t, err)
	for range 3 {
		_, err = s.Scan(ctx, chart)
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, listed.Load())
	_, _ = s.Scan(ctx, other) // another chart is another listing, whatever it finds
	assert.EqualValues(t, 2, listed.Load())
	s.Forget(chart)
	_, err = s.Scan(ctx, chart)
	require.NoError(t, err)
	assert.EqualValues(t, 3, listed.Load())
}
