package git_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/source"
	"github.com/converge-dev/converge/source/git"
	"github.com/converge-dev/converge/source/sourcetest"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func newSource(t *testing.T, url string, ref git.Reference, opts ...git.Option) *git.Source {
	t.Helper()
	src, err := git.New(url, ref, opts...)
	require.NoError(t, err)
	return src
}

func read(t *testing.T, snap *source.Snapshot, p string) string {
	t.Helper()
	data, err := fs.ReadFile(snap.FS, p)
	require.NoError(t, err, p)
	return string(data)
}

func TestConformance(t *testing.T) {
	srv := gittest.NewServer(t)
	n := 0
	sourcetest.Run(t, func(t *testing.T) sourcetest.Harness {
		n++
		repo := srv.NewRepo(t, "conf"+string(rune('a'+n)))
		return sourcetest.Harness{
			Source: newSource(t, repo.URL, git.Reference{Branch: "main"}),
			Write: func(t testing.TB, files map[string]string) {
				repo.Commit(t, "write", files)
			},
		}
	})
}

func TestReferences(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "refs")
	c1 := repo.Commit(t, "one", map[string]string{"v.txt": "1.0.0"})
	repo.Tag(t, "v1.0.0", "release 1.0.0")
	c2 := repo.Commit(t, "two", map[string]string{"v.txt": "1.1.0"})
	repo.Tag(t, "v1.1.0", "") // lightweight
	c3 := repo.Commit(t, "three", map[string]string{"v.txt": "2.0.0-rc.1"})
	repo.Tag(t, "v2.0.0-rc.1", "release candidate")
	repo.Tag(t, "not-a-version", "")
	repo.Branch(t, "release/1.x")
	c4 := repo.Commit(t, "four", map[string]string{"v.txt": "release"})
	repo.Checkout(t, "main")
	_, err := gittest.Git(repo.Work, "push", "--quiet", "origin", "HEAD:refs/pull/7/head")
	require.NoError(t, err)

	tests := map[string]struct {
		ref      git.Reference
		revision string
		content  string
	}{
		"branch":                {git.Reference{Branch: "main"}, "main@sha1:" + c3, "2.0.0-rc.1"},
		"default is main":       {git.Reference{}, "main@sha1:" + c3, "2.0.0-rc.1"},
		"branch with slash":     {git.Reference{Branch: "release/1.x"}, "release/1.x@sha1:" + c4, "release"},
		"annotated tag":         {git.Reference{Tag: "v1.0.0"}, "v1.0.0@sha1:" + c1, "1.0.0"},
		"lightweight tag":       {git.Reference{Tag: "v1.1.0"}, "v1.1.0@sha1:" + c2, "1.1.0"},
		"semver skips rc":       {git.Reference{SemVer: ">=1.0.0"}, "v1.1.0@sha1:" + c2, "1.1.0"},
		"semver asks for rc":    {git.Reference{SemVer: ">=1.0.0-0"}, "v2.0.0-rc.1@sha1:" + c3, "2.0.0-rc.1"},
		"semver tilde":          {git.Reference{SemVer: "~1.0"}, "v1.0.0@sha1:" + c1, "1.0.0"},
		"exact commit":          {git.Reference{Commit: c2}, "sha1:" + c2, "1.1.0"},
		"commit on branch":      {git.Reference{Branch: "main", Commit: c1}, "main@sha1:" + c1, "1.0.0"},
		"any ref name":          {git.Reference{Name: "refs/pull/7/head"}, "refs/pull/7/head@sha1:" + c3, "2.0.0-rc.1"},
		"tag through ref name":  {git.Reference{Name: "refs/tags/v1.0.0"}, "refs/tags/v1.0.0@sha1:" + c1, "1.0.0"},
		"commit on side branch": {git.Reference{Commit: c4}, "sha1:" + c4, "release"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			snap, err := newSource(t, repo.URL, tc.ref).Fetch(ctx(t))
			require.NoError(t, err)
			assert.Equal(t, tc.revision, snap.Revision)
			assert.Equal(t, tc.content, read(t, snap, "v.txt"))
			require.NotNil(t, snap.Commit)
			assert.Equal(t, "converge test", snap.Commit.Author.Name)
			assert.Len(t, snap.Commit.Hash, 40)
		})
	}
}

func TestNotFound(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "gone")
	repo.Commit(t, "one", map[string]string{"a.txt": "a"})
	repo.Tag(t, "v1.0.0", "")
	empty := srv.NewRepo(t, "empty")

	tests := map[string]struct {
		url string
		ref git.Reference
	}{
		"missing branch":   {repo.URL, git.Reference{Branch: "nope"}},
		"missing tag":      {repo.URL, git.Reference{Tag: "v9.9.9"}},
		"no tag in range":  {repo.URL, git.Reference{SemVer: ">=2.0.0"}},
		"missing commit":   {repo.URL, git.Reference{Commit: strings.Repeat("ab", 20)}},
		"empty repository": {empty.URL, git.Reference{Branch: "main"}},
		"missing ref name": {repo.URL, git.Reference{Name: "refs/pull/1/head"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			snap, err := newSource(t, tc.url, tc.ref).Fetch(ctx(t))
			require.ErrorIs(t, err, source.ErrNotFound)
			assert.Nil(t, snap)
		})
	}
}

func TestDeletedRefIsAnError(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "deleted")
	repo.Commit(t, "one", map[string]string{"a.txt": "a"})
	repo.Branch(t, "feature")
	repo.Tag(t, "v1.0.0", "")
	branch := newSource(t, repo.URL, git.Reference{Branch: "feature"})
	tag := newSource(t, repo.URL, git.Reference{Tag: "v1.0.0"})
	_, err := branch.Fetch(ctx(t))
	require.NoError(t, err)
	_, err = tag.Fetch(ctx(t))
	require.NoError(t, err)

	repo.DeleteRef(t, "feature")
	repo.DeleteRef(t, "refs/tags/v1.0.0")
	snap, err := branch.Fetch(ctx(t))
	assert.ErrorIs(t, err, source.ErrNotFound)
	assert.Nil(t, snap)
	snap, err = tag.Fetch(ctx(t))
	assert.ErrorIs(t, err, source.ErrNotFound)
	assert.Nil(t, snap)
}

func TestFastPathAndIncrementalFetch(t *testing.T) {
	srv := gittest.NewServer(t)
	files := map[string]string{}
	for i := range 50 {
		files[fmt.Sprintf("apps/%c/%d.yaml", 'a'+i%26, i)] = strings.Repeat("data ", 200+i)
	}

	for name, opts := range map[string][]git.Option{
		"memory": nil,
		"disk":   {git.WithCacheDir(t.TempDir())},
	} {
		t.Run(name, func(t *testing.T) {
			repo := srv.NewRepo(t, "fast-"+name)
			repo.Commit(t, "many files", files)
			src := newSource(t, repo.URL, git.Reference{Branch: "main"}, opts...)
			first, err := src.Fetch(ctx(t))
			require.NoError(t, err)

			before := srv.Requests()
			again, err := src.Fetch(ctx(t))
			require.NoError(t, err)
			assert.Equal(t, int64(1), srv.Requests()-before, "an unchanged remote costs one reference listing")
			assert.Same(t, first, again, "the cached snapshot is returned")

			next := repo.Commit(t, "one more", map[string]string{"apps/new.yaml": "new"})
			before = srv.Requests()
			updated, err := src.Fetch(ctx(t))
			require.NoError(t, err)
			assert.Equal(t, "main@sha1:"+next, updated.Revision)
			assert.Equal(t, int64(2), srv.Requests()-before, "a change costs the listing and one pack request")
			assert.Equal(t, "new", read(t, updated, "apps/new.yaml"))
			assert.Equal(t, 51, updated.Files)
			assert.Equal(t, 50, first.Files)
		})
	}
}

func TestDiskCacheSurvivesRestart(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "restart")
	head := repo.Commit(t, "one", map[string]string{"a.txt": "a"})
	cache := t.TempDir()

	_, err := newSource(t, repo.URL, git.Reference{Branch: "main"}, git.WithCacheDir(cache)).Fetch(ctx(t))
	require.NoError(t, err)

	before := srv.Requests()
	snap, err := newSource(t, repo.URL, git.Reference{Branch: "main"}, git.WithCacheDir(cache)).Fetch(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, "main@sha1:"+head, snap.Revision)
	assert.Equal(t, int64(1), srv.Requests()-before, "a restarted source with the same cache sends no pack request")
	assert.Equal(t, "a", read(t, snap, "a.txt"))
}

func TestExactCommitIsCached(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "commit")
	c1 := repo.Commit(t, "one", map[string]string{"a.txt": "a"})
	repo.Commit(t, "two", map[string]string{"a.txt": "b"})
	_, err := gittest.Git(repo.Bare, "config", "uploadpack.allowReachableSHA1InWant", "true")
	require.NoError(t, err)

	src := newSource(t, repo.URL, git.Reference{Commit: c1})
	snap, err := src.Fetch(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, "a", read(t, snap, "a.txt"))
	before := srv.Requests()
	again, err := src.Fetch(ctx(t))
	require.NoError(t, err)
	assert.Same(t, snap, again)
	assert.Equal(t, before, srv.Requests(), "a commit never changes: no request")
}

func TestForcePush(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "force")
	first := repo.Commit(t, "one", map[string]string{"a.txt": "1"})
	second := repo.Commit(t, "two", map[string]string{"a.txt": "2"})

	src := newSource(t, repo.URL, git.Reference{Branch: "main"})
	_, err := src.Fetch(ctx(t))
	require.NoError(t, err)

	repo.ForcePush(t, first)
	snap, err := src.Fetch(ctx(t))
	require.ErrorIs(t, err, source.ErrHistoryRewritten)
	assert.Nil(t, snap)
	var rw *git.RewriteError
	require.ErrorAs(t, err, &rw)
	assert.Equal(t, "main@sha1:"+second, rw.Previous)
	assert.Equal(t, "main@sha1:"+first, rw.Current)

	// Still refused on the next call: the host must opt in.
	_, err = src.Fetch(ctx(t))
	assert.ErrorIs(t, err, source.ErrHistoryRewritten)

	// An unrelated history is a rewrite too.
	_, err = gittest.Git(repo.Work, "checkout", "--quiet", "--orphan", "other")
	require.NoError(t, err)
	orphan := repo.Commit(t, "unrelated", map[string]string{"a.txt": "x"})
	_, err = gittest.Git(repo.Work, "push", "--quiet", "--force", "origin", "other:main")
	require.NoError(t, err)
	_, err = src.Fetch(ctx(t))
	require.ErrorAs(t, err, &rw)
	assert.Equal(t, "main@sha1:"+orphan, rw.Current)

	accepting := newSource(t, repo.URL, git.Reference{Branch: "main"}, git.WithHistoryRewrites())
	_, err = accepting.Fetch(ctx(t))
	require.NoError(t, err)
	repo.ForcePush(t, first)
	_, err = gittest.Git(repo.Work, "push", "--quiet", "--force", "origin", first+":refs/heads/main")
	require.NoError(t, err)
	snap, err = accepting.Fetch(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, "main@sha1:"+first, snap.Revision)
}

func TestFastForwardIsNotARewrite(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "ff")
	repo.Commit(t, "one", map[string]string{"a.txt": "1"})
	src := newSource(t, repo.URL, git.Reference{Branch: "main"})
	_, err := src.Fetch(ctx(t))
	require.NoError(t, err)
	for i := range 3 {
		repo.Commit(t, "more", map[string]string{"a.txt": string(rune('2' + i))})
	}
	snap, err := src.Fetch(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, "4", read(t, snap, "a.txt"))
}

func TestIgnoreAndInclude(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "ignore")
	repo.Commit(t, "files", map[string]string{
		".sourceignore":   "*.md\n",
		"README.md":       "r",
		"apps/api/a.yaml": "a",
		"apps/web/w.yaml": "w",
		"apps/api/x.tmp":  "t",
	})
	snap, err := newSource(t, repo.URL, git.Reference{}, git.WithInclude("apps/api"), git.WithIgnore("*.tmp")).Fetch(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, "a", read(t, snap, "apps/api/a.yaml"))
	for _, p := range []string{"README.md", "apps/web/w.yaml", "apps/api/x.tmp"} {
		_, err := fs.Stat(snap.FS, p)
		assert.ErrorIs(t, err, fs.ErrNotExist, p)
	}
	assert.Equal(t, 1, snap.Files)
}

func TestLimits(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "limits")
	repo.Commit(t, "files", map[string]string{"a": strings.Repeat("a", 100), "b": "b", "c": "c"})

	tests := map[string]source.Limits{
		"files":     {Files: 2},
		"file size": {FileBytes: 99},
		"total":     {Bytes: 101},
	}
	for name, l := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := newSource(t, repo.URL, git.Reference{}, git.WithLimits(l)).Fetch(ctx(t))
			assert.ErrorIs(t, err, source.ErrLimit)
		})
	}
}

func TestSymlinks(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "links")
	repo.Commit(t, "base", map[string]string{"base/a.yaml": "a"})
	require.NoError(t, os.Symlink("base/a.yaml", filepath.Join(repo.Work, "inside.yaml")))
	require.NoError(t, os.Symlink("../base", filepath.Join(repo.Work, "base", "loop")))
	inside := repo.Commit(t, "inside link", nil)
	_ = inside

	_, err := newSource(t, repo.URL, git.Reference{}).Fetch(ctx(t))
	require.ErrorIs(t, err, source.ErrUnsafePath, "a link to its own ancestor is refused")

	require.NoError(t, os.Remove(filepath.Join(repo.Work, "base", "loop")))
	repo.Commit(t, "drop loop", nil)
	snap, err := newSource(t, repo.URL, git.Reference{}).Fetch(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, "a", read(t, snap, "inside.yaml"))

	require.NoError(t, os.Symlink("/etc", filepath.Join(repo.Work, "etc")))
	repo.Commit(t, "outside link", nil)
	_, err = newSource(t, repo.URL, git.Reference{}).Fetch(ctx(t))
	require.ErrorIs(t, err, source.ErrUnsafePath)
}

func TestReadWhileFetching(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "concurrent")
	repo.Commit(t, "one", map[string]string{"a.txt": "a", "b/c.txt": "c"})
	src := newSource(t, repo.URL, git.Reference{}, git.WithCacheDir(t.TempDir()))
	first, err := src.Fetch(ctx(t))
	require.NoError(t, err)

	done := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(done)
		for i := range 5 {
			repo.Commit(t, "more", map[string]string{"a.txt": fmt.Sprint(i)})
			if _, err := src.Fetch(ctx(t)); err != nil {
				errs <- err
				return
			}
		}
	}()
	reads := 0
	for running := true; running; reads++ {
		select {
		case <-done:
			running = false
		default:
		}
		assert.Equal(t, "a", read(t, first, "a.txt"), "an old snapshot keeps its content")
		assert.Equal(t, "c", read(t, first, "b/c.txt"))
	}
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	last, err := src.Fetch(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, "4", read(t, last, "a.txt"))
	assert.Positive(t, reads)
}
