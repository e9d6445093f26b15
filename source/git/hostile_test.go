package git_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-logr/logr/funcr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/source"
	"github.com/converge-dev/converge/source/git"
)

// treeEntry is one entry of a hand-made tree: a blob when content is
// non-nil, a subtree when sub is non-nil.
type treeEntry struct {
	name    string
	mode    filemode.FileMode
	content []byte
	sub     []treeEntry
}

// pushTree writes a commit whose tree holds entries that the git CLI would
// refuse to make, straight into the bare repository, as a hostile server
// would serve it.
func pushTree(t *testing.T, repo *gittest.Repo, branch string, entries []treeEntry) {
	t.Helper()
	r, err := gogit.PlainOpen(repo.Bare)
	require.NoError(t, err)
	var write func([]treeEntry) plumbing.Hash
	write = func(es []treeEntry) plumbing.Hash {
		tree := &object.Tree{}
		for _, e := range es {
			var h plumbing.Hash
			if e.sub != nil {
				h = write(e.sub)
			} else {
				obj := r.Storer.NewEncodedObject()
				obj.SetType(plumbing.BlobObject)
				w, err := obj.Writer()
				require.NoError(t, err)
				_, err = w.Write(e.content)
				require.NoError(t, err)
				require.NoError(t, w.Close())
				h, err = r.Storer.SetEncodedObject(obj)
				require.NoError(t, err)
			}
			tree.Entries = append(tree.Entries, object.TreeEntry{Name: e.name, Mode: e.mode, Hash: h})
		}
		obj := r.Storer.NewEncodedObject()
		require.NoError(t, tree.Encode(obj))
		h, err := r.Storer.SetEncodedObject(obj)
		require.NoError(t, err)
		return h
	}
	sig := object.Signature{Name: "mallory", Email: "m@example.com", When: time.Unix(1700000000, 0)}
	c := &object.Commit{Author: sig, Committer: sig, Message: "hostile\n", TreeHash: write(entries)}
	obj := r.Storer.NewEncodedObject()
	require.NoError(t, c.Encode(obj))
	h, err := r.Storer.SetEncodedObject(obj)
	require.NoError(t, err)
	require.NoError(t, r.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(branch), h)))
}

func TestHostileTrees(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "hostile")
	repo.Commit(t, "fine", map[string]string{"ok.txt": "ok"})
	hook := []byte("#!/bin/sh\necho pwned\n")
	file := func(name string) treeEntry {
		return treeEntry{name: name, mode: filemode.Regular, content: []byte("x")}
	}

	tests := map[string][]treeEntry{
		"dot dot slash":      {file("../evil")},
		"dot dot":            {{name: "..", mode: filemode.Dir, sub: []treeEntry{file("passwd")}}},
		"absolute":           {file("/etc/passwd")},
		"git hooks":          {{name: ".git", mode: filemode.Dir, sub: []treeEntry{{name: "hooks", mode: filemode.Dir, sub: []treeEntry{{name: "post-checkout", mode: filemode.Executable, content: hook}}}}}},
		"upper case GIT":     {{name: ".GIT", mode: filemode.Dir, sub: []treeEntry{file("config")}}},
		"8.3 short name":     {{name: "git~1", mode: filemode.Dir, sub: []treeEntry{file("config")}}},
		"trailing dot":       {{name: ".git.", mode: filemode.Dir, sub: []treeEntry{file("config")}}},
		"nested git":         {{name: "apps", mode: filemode.Dir, sub: []treeEntry{{name: ".Git", mode: filemode.Dir, sub: []treeEntry{file("HEAD")}}}}},
		"backslash":          {file(`..\..\evil`)},
		"link out":           {{name: "etc", mode: filemode.Symlink, content: []byte("/etc")}},
		"link up":            {{name: "up", mode: filemode.Symlink, content: []byte("../../..")}},
		"write through link": {{name: "evil", mode: filemode.Symlink, content: []byte("/tmp")}, {name: "evil", mode: filemode.Dir, sub: []treeEntry{file("x")}}},
		"link into git":      {{name: "cfg", mode: filemode.Symlink, content: []byte(".git/config")}},
		"duplicate entry":    {file("a"), file("a")},
		"control char":       {file("a\x1bb")},
	}
	for name, entries := range tests {
		t.Run(name, func(t *testing.T) {
			branch := "hostile-" + strings.ReplaceAll(name, " ", "-")
			pushTree(t, repo, branch, entries)
			snap, err := newSource(t, repo.URL, git.Reference{Branch: branch}).Fetch(ctx(t))
			require.ErrorIs(t, err, source.ErrUnsafePath)
			assert.Nil(t, snap)
		})
	}
}

func TestParseURL(t *testing.T) {
	tests := map[string]struct {
		url       string
		allowFile bool
		want      string // "" means refused
	}{
		"https":                {url: "https://example.com/org/repo.git", want: "https://example.com/org/repo.git"},
		"http with port":       {url: "http://127.0.0.1:8080/repo.git", want: "http://127.0.0.1:8080/repo.git"},
		"ssh":                  {url: "ssh://git@example.com:2222/org/repo.git", want: "ssh://git@example.com:2222/org/repo.git"},
		"scp-like":             {url: "git@example.com:org/repo.git", want: "ssh://git@example.com/org/repo.git"},
		"file allowed":         {url: "file:///srv/repo.git", allowFile: true, want: "file:///srv/repo.git"},
		"file refused":         {url: "file:///srv/repo.git"},
		"local path refused":   {url: "/srv/repo.git"},
		"upload-pack":          {url: "--upload-pack=touch /tmp/pwned"},
		"upload-pack in url":   {url: "ssh://example.com/repo.git --upload-pack=sh"},
		"upload-pack no space": {url: "https://example.com/--upload-pack=sh"},
		"leading dash":         {url: "-oProxyCommand=sh"},
		"proxy command host":   {url: "ssh://-oProxyCommand=sh/repo"},
		"dash host scp":        {url: "-x@example.com:repo"},
		"dash user":            {url: "ssh://-oProxyCommand@example.com/repo"},
		"dash path":            {url: "ssh://example.com/-repo"},
		"ext scheme":           {url: "ext::sh -c touch% /tmp/pwned"},
		"ftp":                  {url: "ftp://example.com/repo.git"},
		"git protocol":         {url: "git://example.com/repo.git"},
		"password":             {url: "https://alice:s3cret@example.com/repo.git"},
		"http user":            {url: "https://alice@example.com/repo.git"},
		"query token":          {url: "https://example.com/repo.git?token=s3cret"},
		"fragment":             {url: "https://example.com/repo.git#x"},
		"no host":              {url: "https:///repo.git"},
		"no path":              {url: "https://example.com"},
		"newline":              {url: "https://example.com/repo.git\n--upload-pack=x"},
		"space":                {url: "https://example.com/a repo.git"},
		"empty":                {url: ""},
		"bad port":             {url: "https://example.com:99999/repo.git"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			u, err := git.ParseURL(tc.url, tc.allowFile)
			if tc.want == "" {
				require.ErrorIs(t, err, git.ErrInvalidURL)
				assert.NotContains(t, err.Error(), "s3cret")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, u.String())
		})
	}
}

func TestCheckRefNameAgreesWithGit(t *testing.T) {
	names := []string{
		"refs/heads/main", "refs/heads/release/1.x", "refs/tags/v1.0.0", "refs/pull/7/head",
		"refs/heads/.hidden", "refs/heads/a..b", "refs/heads/a.lock", "refs/heads/a/", "refs/heads//a",
		"refs/heads/a b", "refs/heads/a~1", "refs/heads/a^", "refs/heads/a:b", "refs/heads/a?", "refs/heads/a*",
		"refs/heads/a[b", `refs/heads/a\b`, "refs/heads/a@{1}", "@", "refs/heads/a.", "main", "/refs/heads/a",
		"refs/heads/a\x7f", "refs/heads/a\tb", "refs/heads/-dash", "refs/heads/@", "refs/heads/ü",
	}
	for _, n := range names {
		t.Run(fmt.Sprintf("%q", n), func(t *testing.T) {
			cmd := exec.Command("git", "check-ref-format", n)
			gitOK := cmd.Run() == nil
			err := git.CheckRefName(n)
			assert.Equal(t, gitOK, err == nil, "git says valid=%v, CheckRefName says %v", gitOK, err)
			if err != nil {
				assert.ErrorIs(t, err, git.ErrInvalidReference)
			}
		})
	}
}

func TestInvalidReferences(t *testing.T) {
	for name, ref := range map[string]git.Reference{
		"bad branch":     {Branch: "a..b"},
		"bad tag":        {Tag: "v1^"},
		"bad semver":     {SemVer: ">=x.y"},
		"short commit":   {Commit: "abc123"},
		"upper commit":   {Commit: strings.Repeat("AB", 20)},
		"name no refs":   {Name: "heads/main"},
		"tag and branch": {Tag: "v1", Branch: "main"},
		"tag and semver": {Tag: "v1", SemVer: "1.x"},
		"option branch":  {Branch: "--upload-pack=sh"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := git.New("https://example.com/repo.git", ref)
			assert.ErrorIs(t, err, git.ErrInvalidReference)
		})
	}
}

// stall is a middleware that holds matching requests until the client
// gives up.
func stall(match string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.String(), match) {
				w.Header().Set("Content-Type", "application/x-git-upload-pack-result")
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush()
				<-r.Context().Done()
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// endless is a middleware that answers the reference listing with an
// advertisement that never ends.
func endless(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Path, "info/refs") {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
		fmt.Fprint(w, "001e# service=git-upload-pack\n0000")
		first := strings.Repeat("a", 40) + " refs/heads/main\x00multi_ack ofs-delta\n"
		fmt.Fprintf(w, "%04x%s", len(first)+4, first)
		for i := 0; r.Context().Err() == nil; i++ {
			line := fmt.Sprintf("%s refs/heads/b%09d\n", strings.Repeat("b", 40), i)
			if _, err := fmt.Fprintf(w, "%04x%s", len(line)+4, line); err != nil {
				return
			}
		}
	})
}

func TestServerMisbehaves(t *testing.T) {
	tests := map[string]struct {
		wrap    func(http.Handler) http.Handler
		opts    []git.Option
		wantErr error
	}{
		"stalled listing":          {wrap: stall("info/refs"), opts: []git.Option{git.WithTimeout(2 * time.Second)}, wantErr: context.DeadlineExceeded},
		"stalled pack":             {wrap: stall("git-upload-pack"), opts: []git.Option{git.WithTimeout(2 * time.Second)}, wantErr: context.DeadlineExceeded},
		"endless listing":          {wrap: endless, opts: []git.Option{git.WithMaxFetchBytes(1 << 20)}, wantErr: git.ErrTransferLimit},
		"endless listing, timeout": {wrap: endless, opts: []git.Option{git.WithMaxFetchBytes(0), git.WithTimeout(2 * time.Second)}, wantErr: context.DeadlineExceeded},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srv := gittest.NewServer(t, gittest.WithMiddleware(tc.wrap))
			repo := srv.NewRepo(t, "bad")
			repo.Commit(t, "one", map[string]string{"a.txt": "a"})
			start := time.Now()
			snap, err := newSource(t, repo.URL, git.Reference{}, tc.opts...).Fetch(ctx(t))
			require.ErrorIs(t, err, tc.wantErr)
			assert.Nil(t, snap)
			assert.Less(t, time.Since(start), 50*time.Second, "the bound holds")
		})
	}
}

func TestPackOverByteLimit(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "big")
	var big strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&big, "%d-%x\n", i, i*7919)
	}
	repo.Commit(t, "big", map[string]string{"big.txt": big.String()})
	_, err := newSource(t, repo.URL, git.Reference{}, git.WithMaxFetchBytes(16<<10)).Fetch(ctx(t))
	assert.ErrorIs(t, err, git.ErrTransferLimit)
	_, err = newSource(t, repo.URL, git.Reference{}).Fetch(ctx(t))
	assert.NoError(t, err, "the default limit lets it through")
}

func TestAuth(t *testing.T) {
	const user, password, token = "alice", "s3cret-pass", "s3cret-token"
	srv := gittest.NewServer(t, gittest.WithBasicAuth(user, password))
	repo := srv.NewRepo(t, "private")
	repo.Commit(t, "one", map[string]string{"a.txt": "a"})

	var logs bytes.Buffer
	var mu sync.Mutex
	logger := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		logs.WriteString(prefix + args + "\n")
	}, funcr.Options{Verbosity: 10})

	snap, err := newSource(t, repo.URL, git.Reference{}, git.WithBasicAuth(user, password), git.WithLogger(logger)).Fetch(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, "a", read(t, snap, "a.txt"))

	for name, opt := range map[string]git.Option{
		"wrong password": git.WithBasicAuth(user, "s3cret-wrong"),
		"bearer token":   git.WithBearerToken(token),
		"none":           git.WithLogger(logger),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := newSource(t, repo.URL, git.Reference{}, opt, git.WithLogger(logger)).Fetch(ctx(t))
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "s3cret")
		})
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Contains(t, logs.String(), "fetched", "the logger is used")
	assert.NotContains(t, logs.String(), "s3cret")
}

func TestBearerToken(t *testing.T) {
	const token = "s3cret-token"
	srv := gittest.NewServer(t, gittest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+token {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	repo := srv.NewRepo(t, "bearer")
	repo.Commit(t, "one", map[string]string{"a.txt": "a"})
	_, err := newSource(t, repo.URL, git.Reference{}, git.WithBearerToken(token)).Fetch(ctx(t))
	require.NoError(t, err)
	_, err = newSource(t, repo.URL, git.Reference{}, git.WithBearerToken("s3cret-other")).Fetch(ctx(t))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret")
}

func TestRedirectToAnotherHostDropsCredentials(t *testing.T) {
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
	repo := other.NewRepo(t, "moved")
	repo.Commit(t, "one", map[string]string{"a.txt": "a"})
	origin := gittest.NewServer(t, gittest.WithMiddleware(func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusFound)
		})
	}))

	for name, opt := range map[string]git.Option{
		"basic":  git.WithBasicAuth("alice", "s3cret"),
		"bearer": git.WithBearerToken("s3cret"),
	} {
		t.Run(name, func(t *testing.T) {
			_, _ = newSource(t, origin.URL+"/moved.git", git.Reference{}, opt).Fetch(ctx(t))
			mu.Lock()
			defer mu.Unlock()
			require.NotEmpty(t, seen, "the redirect was followed")
			for _, h := range seen {
				assert.Empty(t, h, "no credentials at the other host")
			}
			seen = nil
		})
	}
}
