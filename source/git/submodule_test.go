package git_test

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/source"
	"github.com/converge-dev/converge/source/git"
)

// TestSubmodules: a repository with a submodule whose own submodule is
// nested one level further, both with relative URLs, made with the git
// CLI and served over HTTP. Without the option the submodule path is
// absent; with it, both levels are in the snapshot, ignore rules reach into
// them, and a second Fetch of an unchanged remote costs one listing.
func TestSubmodules(t *testing.T) {
	srv := gittest.NewServer(t)
	leaf := srv.NewRepo(t, "leaf")
	leafHead := leaf.Commit(t, "leaf", map[string]string{"l.txt": "leaf"})
	lib := srv.NewRepo(t, "libs/lib")
	lib.Commit(t, "lib", map[string]string{"a.txt": "lib", "docs/d.md": "docs"})
	// From http://host/libs/lib.git, "../../leaf.git" is http://host/leaf.git.
	libHead := lib.AddSubmodule(t, "third_party/leaf", "../../leaf.git", leafHead)
	lib.Commit(t, "more lib", map[string]string{"b.txt": "b"})
	parent := srv.NewRepo(t, "parent")
	parent.Commit(t, "parent", map[string]string{"p.txt": "parent", ".sourceignore": "vendor/lib/docs/\n"})
	parent.AddSubmodule(t, "vendor/lib", "./../libs/lib.git", libHead)

	t.Run("off by default", func(t *testing.T) {
		snap, err := newSource(t, parent.URL, git.Reference{}).Fetch(ctx(t))
		require.NoError(t, err)
		_, err = fs.Stat(snap.FS, "vendor/lib")
		assert.ErrorIs(t, err, fs.ErrNotExist)
		assert.Equal(t, "parent", read(t, snap, "p.txt"))
	})

	for name, opts := range map[string][]git.Option{
		"memory": {git.WithSubmodules()},
		"disk":   {git.WithSubmodules(), git.WithCacheDir(t.TempDir())},
	} {
		t.Run(name, func(t *testing.T) {
			src := newSource(t, parent.URL, git.Reference{}, opts...)
			snap, err := src.Fetch(ctx(t))
			require.NoError(t, err)
			assert.Equal(t, "parent", read(t, snap, "p.txt"))
			assert.Equal(t, "lib", read(t, snap, "vendor/lib/a.txt"))
			assert.Equal(t, "leaf", read(t, snap, "vendor/lib/third_party/leaf/l.txt"), "nested submodule")
			_, err = fs.Stat(snap.FS, "vendor/lib/b.txt")
			assert.ErrorIs(t, err, fs.ErrNotExist, "the pinned commit, not the submodule's branch")
			_, err = fs.Stat(snap.FS, "vendor/lib/docs/d.md")
			assert.ErrorIs(t, err, fs.ErrNotExist, "the parent's ignore rules reach into the submodule")

			before := srv.Requests()
			again, err := src.Fetch(ctx(t))
			require.NoError(t, err)
			assert.Same(t, snap, again)
			assert.Equal(t, int64(1), srv.Requests()-before, "unchanged: one listing, submodules included")
		})
	}

	t.Run("limits count submodule files", func(t *testing.T) {
		_, err := newSource(t, parent.URL, git.Reference{}, git.WithSubmodules(),
			git.WithLimits(source.Limits{Files: 3})).Fetch(ctx(t))
		require.ErrorIs(t, err, source.ErrLimit)
	})

	t.Run("byte budget covers submodules", func(t *testing.T) {
		big := srv.NewRepo(t, "big")
		var sb strings.Builder
		rng := rand.New(rand.NewPCG(1, 2)) // incompressible content
		for range 4000 {
			fmt.Fprintf(&sb, "%016x%016x\n", rng.Uint64(), rng.Uint64())
		}
		bigHead := big.Commit(t, "big", map[string]string{"big.txt": sb.String()})
		holder := srv.NewRepo(t, "holder")
		holder.Commit(t, "small", map[string]string{"a.txt": "a"})
		holder.AddSubmodule(t, "big", "../big.git", bigHead)
		_, err := newSource(t, holder.URL, git.Reference{}, git.WithMaxFetchBytes(24<<10)).Fetch(ctx(t))
		require.NoError(t, err, "without submodules the budget is enough")
		_, err = newSource(t, holder.URL, git.Reference{}, git.WithSubmodules(), git.WithMaxFetchBytes(24<<10)).Fetch(ctx(t))
		require.ErrorIs(t, err, git.ErrTransferLimit)
	})
}

// TestSubmoduleURLs: every hostile or refused submodule URL fails the
// fetch with ErrInvalidURL (or ErrSubmodule), before anything is run.
func TestSubmoduleURLs(t *testing.T) {
	srv := gittest.NewServer(t)
	lib := srv.NewRepo(t, "lib")
	libHead := lib.Commit(t, "lib", map[string]string{"a.txt": "lib"})
	canary := filepath.Join(t.TempDir(), "pwned")

	tests := map[string]struct {
		url     string
		wantErr error
	}{
		"upload-pack option":     {url: "--upload-pack=touch " + canary, wantErr: git.ErrInvalidURL},
		"leading dash":           {url: "-oProxyCommand=touch " + canary, wantErr: git.ErrInvalidURL},
		"ssh proxy command":      {url: "ssh://-oProxyCommand=touch%20" + canary + "/x", wantErr: git.ErrInvalidURL},
		"ext transport":          {url: "ext::sh -c touch% " + canary, wantErr: git.ErrInvalidURL},
		"ftp":                    {url: "ftp://example.com/lib.git", wantErr: git.ErrInvalidURL},
		"git protocol":           {url: "git://example.com/lib.git", wantErr: git.ErrInvalidURL},
		"file not allowed":       {url: "file://" + lib.Bare, wantErr: git.ErrInvalidURL},
		"local path":             {url: lib.Bare, wantErr: git.ErrInvalidURL},
		"credentials":            {url: "https://alice:s3cret@example.com/lib.git", wantErr: git.ErrInvalidURL},
		"relative climbs out":    {url: "../../../../lib.git", wantErr: git.ErrInvalidURL},
		"relative to dash":       {url: "../-lib.git", wantErr: git.ErrInvalidURL},
		"relative with query":    {url: "../lib.git?x=1", wantErr: git.ErrInvalidURL},
		"empty":                  {url: "", wantErr: git.ErrSubmodule},
		"relative names no repo": {url: "./", wantErr: git.ErrInvalidURL},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			repo := srv.NewRepo(t, "bad-"+strings.NewReplacer(" ", "-", "/", "-").Replace(name))
			repo.Commit(t, "one", map[string]string{"a.txt": "a"})
			repo.AddSubmodule(t, "sub", tc.url, libHead)
			snap, err := newSource(t, repo.URL, git.Reference{}, git.WithSubmodules()).Fetch(ctx(t))
			require.ErrorIs(t, err, tc.wantErr)
			assert.ErrorIs(t, err, git.ErrSubmodule)
			assert.Nil(t, snap)
			assert.Contains(t, err.Error(), `"sub"`, "the error names the submodule")
			assert.NotContains(t, err.Error(), "s3cret")
			_, statErr := os.Stat(canary)
			assert.ErrorIs(t, statErr, fs.ErrNotExist, "nothing was run")
		})
	}

	t.Run("gitlink without .gitmodules", func(t *testing.T) {
		repo := srv.NewRepo(t, "no-modules")
		repo.Commit(t, "one", map[string]string{"a.txt": "a"})
		_, err := gittest.Git(repo.Work, "update-index", "--add", "--cacheinfo", "160000,"+libHead+",sub")
		require.NoError(t, err)
		_, err = gittest.Git(repo.Work, "commit", "--quiet", "-m", "gitlink")
		require.NoError(t, err)
		_, err = gittest.Git(repo.Work, "push", "--quiet", "origin", "HEAD")
		require.NoError(t, err)
		_, err = newSource(t, repo.URL, git.Reference{}, git.WithSubmodules()).Fetch(ctx(t))
		require.ErrorIs(t, err, git.ErrSubmodule)
		snap, err := newSource(t, repo.URL, git.Reference{}).Fetch(ctx(t))
		require.NoError(t, err, "without the option the gitlink is skipped")
		assert.Equal(t, "a", read(t, snap, "a.txt"))
	})

	t.Run("commit the submodule does not have", func(t *testing.T) {
		repo := srv.NewRepo(t, "missing-commit")
		repo.Commit(t, "one", map[string]string{"a.txt": "a"})
		repo.AddSubmodule(t, "sub", "../lib.git", strings.Repeat("ab", 20))
		_, err := newSource(t, repo.URL, git.Reference{}, git.WithSubmodules()).Fetch(ctx(t))
		require.ErrorIs(t, err, source.ErrNotFound)
		assert.ErrorIs(t, err, git.ErrSubmodule)
	})
}

// TestSubmoduleFileURLs: file URLs in .gitmodules, absolute or resolved
// from a file parent, work only when the host allows file URLs.
func TestSubmoduleFileURLs(t *testing.T) {
	srv := gittest.NewServer(t)
	lib := srv.NewRepo(t, "lib")
	libHead := lib.Commit(t, "lib", map[string]string{"a.txt": "lib"})
	abs := srv.NewRepo(t, "abs")
	abs.Commit(t, "one", map[string]string{"p.txt": "p"})
	abs.AddSubmodule(t, "sub", "file://"+lib.Bare, libHead)
	rel := srv.NewRepo(t, "rel")
	rel.Commit(t, "one", map[string]string{"p.txt": "p"})
	rel.AddSubmodule(t, "sub", "../lib.git", libHead)

	_, err := newSource(t, abs.URL, git.Reference{}, git.WithSubmodules()).Fetch(ctx(t))
	require.ErrorIs(t, err, git.ErrInvalidURL, "file submodule of an http repository, file not allowed")

	snap, err := newSource(t, abs.URL, git.Reference{}, git.WithSubmodules(), git.WithFileURLs()).Fetch(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, "lib", read(t, snap, "sub/a.txt"))

	snap, err = newSource(t, "file://"+rel.Bare, git.Reference{}, git.WithSubmodules(), git.WithFileURLs()).Fetch(ctx(t))
	require.NoError(t, err, "relative URL resolved against a file parent")
	assert.Equal(t, "lib", read(t, snap, "sub/a.txt"))
}

// TestSubmoduleCredentials: credentials go to the repository's own origin
// only; a submodule on another server is fetched without them.
func TestSubmoduleCredentials(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	other := gittest.NewServer(t, gittest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen = append(seen, r.Header.Get("Authorization"))
			mu.Unlock()
			next.ServeHTTP(w, r)
		})
	}))
	public := other.NewRepo(t, "public")
	publicHead := public.Commit(t, "public", map[string]string{"pub.txt": "public"})

	srv := gittest.NewServer(t, gittest.WithBasicAuth("alice", "s3cret"))
	private := srv.NewRepo(t, "private-lib")
	privateHead := private.Commit(t, "private", map[string]string{"priv.txt": "private"})
	parent := srv.NewRepo(t, "parent")
	parent.Commit(t, "one", map[string]string{"p.txt": "p"})
	parent.AddSubmodule(t, "same-origin", "../private-lib.git", privateHead)
	parent.AddSubmodule(t, "elsewhere", public.URL, publicHead)

	snap, err := newSource(t, parent.URL, git.Reference{}, git.WithSubmodules(), git.WithBasicAuth("alice", "s3cret")).Fetch(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, "private", read(t, snap, "same-origin/priv.txt"), "same origin: credentials sent")
	assert.Equal(t, "public", read(t, snap, "elsewhere/pub.txt"))
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, seen)
	for _, h := range seen {
		assert.Empty(t, h, "no credentials to another origin")
	}
}

// TestSubmoduleDepth: submodules nest at most git.MaxSubmoduleDepth deep;
// here each commit of one repository holds the previous one as submodule.
func TestSubmoduleDepth(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "chain")
	head := repo.Commit(t, "base", map[string]string{"base.txt": "base"})
	var heads []string
	for i := 0; i <= git.MaxSubmoduleDepth; i++ {
		// Replace the submodule entry: one gitlink "sub" to the previous commit.
		if i > 0 {
			require.NoError(t, os.Remove(filepath.Join(repo.Work, ".gitmodules")))
			_, err := gittest.Git(repo.Work, "rm", "--cached", "--quiet", "sub")
			require.NoError(t, err)
		}
		head = repo.AddSubmodule(t, "sub", repo.URL, head)
		heads = append(heads, head)
	}
	shallow := heads[2] // three levels
	snap, err := newSource(t, repo.URL, git.Reference{Commit: shallow}, git.WithSubmodules()).Fetch(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, "base", read(t, snap, "sub/sub/sub/base.txt"))

	_, err = newSource(t, repo.URL, git.Reference{}, git.WithSubmodules()).Fetch(ctx(t))
	require.ErrorIs(t, err, git.ErrSubmodule)
	assert.Contains(t, err.Error(), "nested more than")
}

func TestResolveSubmoduleURL(t *testing.T) {
	tests := map[string]struct {
		base, raw string
		want      string // "" means refused
	}{
		"sibling":             {"https://h/org/repo.git", "../lib.git", "https://h/org/lib.git"},
		"below the base":      {"https://h/org/repo.git", "./lib.git", "https://h/org/repo.git/lib.git"},
		"two up":              {"https://h/org/team/repo.git", "../../lib.git", "https://h/org/lib.git"},
		"trailing slash":      {"https://h/org/repo/", "../lib.git", "https://h/org/lib.git"},
		"ssh keeps user":      {"ssh://git@h:2222/org/repo.git", "../lib.git", "ssh://git@h:2222/org/lib.git"},
		"absolute":            {"https://h/org/repo.git", "https://other/x.git", "https://other/x.git"},
		"to the host root":    {"https://h/repo.git", "../lib.git", "https://h/lib.git"},
		"above the host":      {"https://h/repo.git", "../../lib.git", ""},
		"dot dot inside":      {"https://h/org/repo.git", "./a/../../../x.git", ""},
		"option after dotdot": {"https://h/org/repo.git", "../--upload-pack=x", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			base, err := git.ParseURL(tc.base, false)
			require.NoError(t, err)
			u, err := git.ResolveSubmoduleURL(base, tc.raw, false)
			if tc.want == "" {
				require.ErrorIs(t, err, git.ErrInvalidURL)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, u.String())
		})
	}
}

// TestResolveSubmoduleURLAgreesWithGit resolves relative submodule URLs
// with `git submodule init` as the oracle.
func TestResolveSubmoduleURLAgreesWithGit(t *testing.T) {
	cases := []struct{ base, raw string }{
		{"https://h/org/repo.git", "./lib.git"},
		{"https://h/org/repo.git", "../lib.git"},
		{"https://h/org/team/repo.git", "../../lib.git"},
		{"https://h/org/repo/", "../lib.git"},
		{"https://h/org/repo/", "./lib.git"},
		{"ssh://git@h:2222/org/repo.git", "../lib.git"},
		{"https://h/org/repo.git", "./../x/lib.git"},
	}
	for _, tc := range cases {
		t.Run(tc.base+" "+tc.raw, func(t *testing.T) {
			work := t.TempDir()
			for _, args := range [][]string{
				{"init", "--quiet"},
				{"remote", "add", "origin", tc.base},
				{"config", "--file", ".gitmodules", "submodule.s.path", "s"},
				{"config", "--file", ".gitmodules", "submodule.s.url", tc.raw},
				{"update-index", "--add", "--cacheinfo", "160000," + strings.Repeat("ab", 20) + ",s"},
				{"submodule", "--quiet", "init"},
			} {
				_, err := gittest.Git(work, args...)
				require.NoError(t, err)
			}
			want, err := gittest.Git(work, "config", "submodule.s.url")
			require.NoError(t, err)
			base, err := git.ParseURL(tc.base, false)
			require.NoError(t, err)
			got, err := git.ResolveSubmoduleURL(base, tc.raw, false)
			require.NoError(t, err)
			assert.Equal(t, want, got.String())
		})
	}
}

// TestSubmoduleOverSSH: a relative submodule of an SSH repository is
// fetched over SSH with the same key and the same strict known_hosts.
func TestSubmoduleOverSSH(t *testing.T) {
	srv := gittest.NewServer(t)
	lib := srv.NewRepo(t, "lib")
	libHead := lib.Commit(t, "lib", map[string]string{"a.txt": "lib over ssh"})
	parent := srv.NewRepo(t, "parent")
	parent.Commit(t, "one", map[string]string{"p.txt": "p"})
	parent.AddSubmodule(t, "vendor/lib", "../lib.git", libHead)
	key, pub := sshKey(t)
	sshd := srv.NewSSHServer(t, pub)

	snap, err := newSource(t, sshd.URL("git", "parent"), git.Reference{}, git.WithSubmodules(),
		git.WithSSHKey("git", key, nil, []byte(sshd.KnownHosts))).Fetch(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, "lib over ssh", read(t, snap, "vendor/lib/a.txt"))
}

// TestOversizedGitmodules: a .gitmodules file over the bound fails the
// fetch instead of being read whole.
func TestOversizedGitmodules(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "big-modules")
	repo.Commit(t, "one", map[string]string{".gitmodules": strings.Repeat("# padding\n", source.MaxIgnoreFileBytes/10+1)})
	_, err := newSource(t, repo.URL, git.Reference{}, git.WithSubmodules()).Fetch(ctx(t))
	require.ErrorIs(t, err, source.ErrLimit)
	_, err = newSource(t, repo.URL, git.Reference{}).Fetch(ctx(t))
	require.NoError(t, err, "without submodules .gitmodules is only a file")
}
