package git_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/source/git"
)

// TestSemVerTies: tags of equal semver precedence resolve as Flux's
// GitRepository resolves them, by the committer time of their commits (the
// latest wins, whatever the names), and, on the same commit or the same
// second, to the greatest tag name, the same every time.
func TestSemVerTies(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "ties")
	day := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	// 1.2.x: "v1.2.0" (the greater name) on the older commit.
	repo.CommitAt(t, day, "older", map[string]string{"v.txt": "older"})
	repo.Tag(t, "v1.2.0", "annotated, older commit")
	newer := repo.CommitAt(t, day.Add(time.Hour), "newer", map[string]string{"v.txt": "newer"})
	repo.Tag(t, "1.2.0", "")
	// 1.3.x: build metadata only; "+build.2" is older than "+build.10".
	repo.CommitAt(t, day.Add(2*time.Hour), "build 2", map[string]string{"v.txt": "build 2"})
	repo.Tag(t, "1.3.0+build.2", "")
	b10 := repo.CommitAt(t, day.Add(3*time.Hour), "build 10", map[string]string{"v.txt": "build 10"})
	repo.Tag(t, "1.3.0+build.10", "annotated")
	// 1.4.x: two names for one commit.
	same := repo.CommitAt(t, day.Add(4*time.Hour), "same", map[string]string{"v.txt": "same"})
	repo.Tag(t, "1.4.0", "")
	repo.Tag(t, "v1.4.0", "annotated")
	// 1.5.x: different commits made in the same second.
	secondA := repo.CommitAt(t, day.Add(5*time.Hour), "same second a", map[string]string{"v.txt": "a"})
	repo.Tag(t, "v1.5.0", "")
	repo.CommitAt(t, day.Add(5*time.Hour), "same second b", map[string]string{"v.txt": "b"})
	repo.Tag(t, "1.5.0", "")

	tests := map[string]struct {
		reason   string
		semver   string
		revision string
		content  string
	}{
		"later commit beats greater name": {
			reason: "1.2.0 is on the newer commit; Flux orders equal versions by commit time",
			semver: "~1.2", revision: "1.2.0@sha1:" + newer, content: "newer",
		},
		"build metadata by commit time": {
			reason: "semver ignores build metadata; +build.10 is the newer commit though it sorts lower by name",
			semver: "~1.3", revision: "1.3.0+build.10@sha1:" + b10, content: "build 10",
		},
		"same commit by name": {
			reason: "one commit, two names: the greatest name, v1.4.0",
			semver: "~1.4", revision: "v1.4.0@sha1:" + same, content: "same",
		},
		"same second by name": {
			reason: "equal commit times: the greatest name, v1.5.0, not the newer commit",
			semver: "~1.5", revision: "v1.5.0@sha1:" + secondA, content: "a",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for i := range 3 { // fresh caches: the same answer each time
				opts := []git.Option{}
				if i == 1 {
					opts = append(opts, git.WithCacheDir(t.TempDir()))
				}
				src := newSource(t, repo.URL, git.Reference{SemVer: tc.semver}, opts...)
				snap, err := src.Fetch(ctx(t))
				require.NoError(t, err, tc.reason)
				assert.Equal(t, tc.revision, snap.Revision, tc.reason)
				assert.Equal(t, tc.content, read(t, snap, "v.txt"), tc.reason)
				// Unchanged remote: the tie is broken from the cache, and
				// the fast path holds (one listing, no pack).
				before := srv.Requests()
				again, err := src.Fetch(ctx(t))
				require.NoError(t, err)
				assert.Same(t, snap, again)
				assert.Equal(t, int64(1), srv.Requests()-before)
			}
		})
	}
}
