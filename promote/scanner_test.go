package promote_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
