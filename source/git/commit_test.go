package git_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/source"
	"github.com/converge-dev/converge/source/git"
)

// cachedCommits counts the commits a source's on-disk cache holds.
func cachedCommits(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	sto := filesystem.NewStorage(osfs.New(filepath.Join(dir, entries[0].Name())), cache.NewObjectLRUDefault())
	iter, err := sto.IterEncodedObjects(plumbing.CommitObject)
	require.NoError(t, err)
	seen := map[plumbing.Hash]bool{} // a commit may be in several packs
	require.NoError(t, iter.ForEach(func(o plumbing.EncodedObject) error { seen[o.Hash()] = true; return nil }))
	return len(seen)
}

// TestExactCommitServerSettings fetches commits at several depths from a
// server that lets clients want any reachable commit by hash and from one
// that does not (git's default), and checks what each fetch brings into
// the cache: one commit when the server allows it; otherwise only as much
// history, from the branch tips, as it takes to reach the commit.
func TestExactCommitServerSettings(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "history")
	const total = 150
	hashes := make([]string, total) // hashes[0] is the oldest
	for i := range total {
		files := map[string]string{"n.txt": fmt.Sprint(i)}
		if i%10 == 0 {
			files[fmt.Sprintf("dir%d/f.yaml", i)] = strings.Repeat("x", 100+i)
		}
		hashes[i] = commitLocal(t, repo, fmt.Sprint("commit ", i), files)
	}
	_, err := gittest.Git(repo.Work, "push", "--quiet", "origin", "HEAD")
	require.NoError(t, err)
	repo.Branch(t, "release")
	side := repo.Commit(t, "side", map[string]string{"n.txt": "side"})
	repo.Checkout(t, "main")

	tests := map[string]struct {
		reason   string
		bySHA    bool // the server allows want-by-hash
		ref      git.Reference
		content  string
		requests int64 // HTTP requests of the fetch
		maxKept  int   // most commits the cache may hold afterwards
		minKept  int
		notFound bool
	}{
		"by hash, deep": {
			reason: "allowReachableSHA1InWant: one shallow pack of the one commit",
			bySHA:  true, ref: git.Reference{Commit: hashes[20]}, content: "20",
			requests: 2, minKept: 1, maxKept: 1,
		},
		"by hash, missing": {
			reason: "a hash the server does not have is not found",
			bySHA:  true, ref: git.Reference{Commit: strings.Repeat("ab", 20)}, notFound: true,
		},
		"default, tip": {
			reason: "a branch tip is advertised, so any server gives it by hash",
			ref:    git.Reference{Commit: hashes[total-1]}, content: fmt.Sprint(total - 1),
			requests: 2, minKept: 1, maxKept: 1,
		},
		"default, near the tip": {
			reason: "depth 1 misses, depth 10 from both tips finds it; the rest of the history stays on the server",
			ref:    git.Reference{Commit: hashes[total-5]}, content: fmt.Sprint(total - 5),
			requests: 4, minKept: 5, maxKept: 21,
		},
		"default, on the named branch": {
			reason: "only the named branch's tip is deepened",
			ref:    git.Reference{Branch: "main", Commit: hashes[total-50]}, content: fmt.Sprint(total - 50),
			requests: 6, minKept: 50, maxKept: 100,
		},
		"default, side branch": {
			reason: "a commit on another branch than main",
			ref:    git.Reference{Commit: side}, content: "side",
			requests: 2, minKept: 1, maxKept: 1,
		},
		"default, oldest": {
			reason: "the root commit takes the steps up to 1000, which bring all of the history",
			ref:    git.Reference{Commit: hashes[0]}, content: "0",
			requests: 8, minKept: total + 1, maxKept: total + 1,
		},
		"default, missing": {
			reason: "a hash on no branch: every step, then not found",
			ref:    git.Reference{Commit: strings.Repeat("ab", 20)}, notFound: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := gittest.Git(repo.Bare, "config", "uploadpack.allowReachableSHA1InWant", fmt.Sprint(tc.bySHA))
			require.NoError(t, err)
			dir := t.TempDir()
			src := newSource(t, repo.URL, tc.ref, git.WithCacheDir(dir))
			before := srv.Requests()
			snap, err := src.Fetch(ctx(t))
			if tc.notFound {
				require.ErrorIs(t, err, source.ErrNotFound, tc.reason)
				assert.Nil(t, snap)
				return
			}
			require.NoError(t, err, tc.reason)
			assert.Equal(t, tc.content, read(t, snap, "n.txt"), tc.reason)
			assert.Equal(t, tc.requests, srv.Requests()-before, tc.reason)
			kept := cachedCommits(t, dir)
			assert.GreaterOrEqual(t, kept, tc.minKept, tc.reason)
			assert.LessOrEqual(t, kept, tc.maxKept, tc.reason)
		})
	}
}

// TestExactCommitOverSSH: the deepening steps each need a session of
// their own over SSH, where a session ends with its pack.
func TestExactCommitOverSSH(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "ssh-history")
	var hashes []string
	for i := range 15 {
		hashes = append(hashes, commitLocal(t, repo, fmt.Sprint("commit ", i), map[string]string{"n.txt": fmt.Sprint(i)}))
	}
	_, err := gittest.Git(repo.Work, "push", "--quiet", "origin", "HEAD")
	require.NoError(t, err)
	key, pub := sshKey(t)
	sshd := srv.NewSSHServer(t, pub)
	auth := git.WithSSHKey("git", key, nil, []byte(sshd.KnownHosts))
	for _, i := range []int{13, 2} { // depth 10, then the whole history
		dir := t.TempDir()
		snap, err := newSource(t, sshd.URL("git", "ssh-history"), git.Reference{Commit: hashes[i]}, auth, git.WithCacheDir(dir)).Fetch(ctx(t))
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprint(i), read(t, snap, "n.txt"))
		assert.Equal(t, "sha1:"+hashes[i], snap.Revision)
	}
}

// commitLocal commits in the work tree without pushing.
func commitLocal(t *testing.T, repo *gittest.Repo, message string, files map[string]string) string {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(repo.Work, filepath.FromSlash(p))
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, []byte(c), 0o644))
	}
	_, err := gittest.Git(repo.Work, "add", "--all")
	require.NoError(t, err)
	_, err = gittest.Git(repo.Work, "commit", "--quiet", "-m", message)
	require.NoError(t, err)
	h, err := gittest.Git(repo.Work, "rev-parse", "HEAD")
	require.NoError(t, err)
	return h
}
