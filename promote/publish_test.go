package promote_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/promote"
)

const webKustomization = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
images:
  - name: ghcr.io/org/web # promoted by converge
    newTag: "1.0.0"
  - name: ghcr.io/org/worker
    newTag: "2.0.0"
`

var bot = promote.Identity{Name: "converge bot", Email: "bot@converge.dev"}

// seedRepo creates a repository on srv with one commit holding the web
// overlay, and returns it with that commit's hash.
func seedRepo(t *testing.T, srv *gittest.Server) (*gittest.Repo, string) {
	t.Helper()
	repo := srv.NewRepo(t, "deploy")
	head := repo.Commit(t, "first", map[string]string{
		"apps/web/kustomization.yaml": webKustomization,
		"apps/web/deployment.yaml":    "kind: Deployment\n",
		"README.md":                   "deploy\n",
	})
	return repo, head
}

func newPublisher(t *testing.T, url string, opts ...promote.PublisherOption) *promote.Publisher {
	t.Helper()
	p, err := promote.NewPublisher(url, bot, append([]promote.PublisherOption{promote.WithPushInsecure(), promote.WithPushRetryDelay(0)}, opts...)...)
	require.NoError(t, err)
	return p
}

// setTag is the edit that sets the web image's tag.
func setTag(tag string) promote.Edit {
	return promote.SetImage{File: "apps/web", Images: []promote.Image{{Name: "ghcr.io/org/web", NewTag: tag}}}
}

// gitOut runs the git CLI, the oracle for what the server holds.
func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := gittest.Git(dir, args...)
	require.NoError(t, err)
	return out
}

// concurrentCommit commits and pushes a change to the server's branch from
// the repository's own work tree, as another person or pipeline would. It
// is safe to call from a server handler: it reports failures instead of
// failing the test.
func concurrentCommit(repo *gittest.Repo, file, content string) error {
	steps := [][]string{{"fetch", "--quiet", "origin"}, {"reset", "--quiet", "--hard", "origin/main"}}
	for _, s := range steps {
		if _, err := gittest.Git(repo.Work, s...); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(repo.Work, filepath.FromSlash(file)), []byte(content), 0o644); err != nil {
		return err
	}
	for _, s := range [][]string{{"add", "--all"}, {"commit", "--quiet", "--allow-empty", "-m", "concurrent change"}, {"push", "--quiet", "origin", "HEAD:main"}} {
		if _, err := gittest.Git(repo.Work, s...); err != nil {
			return err
		}
	}
	return nil
}

// racer is server middleware that lands a concurrent commit just before
// each of the first n pushes reaches git receive-pack: after the
// publisher fetched and built its commit, before its push is applied.
type racer struct {
	n      int32
	count  atomic.Int32
	change func(i int32) error
	mu     sync.Mutex
	errs   []error
}

func (r *racer) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/git-receive-pack") {
			if i := r.count.Add(1); i <= r.n {
				if err := r.change(i); err != nil {
					r.mu.Lock()
					r.errs = append(r.errs, err)
					r.mu.Unlock()
				}
			}
		}
		next.ServeHTTP(w, req)
	})
}

func (r *racer) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Empty(t, r.errs, "the concurrent commits failed")
}

func TestPublishCommitsAndPushes(t *testing.T) {
	srv := gittest.NewServer(t)
	repo, head := seedRepo(t, srv)
	p := newPublisher(t, repo.URL)
	prov := promote.Provenance{
		From: "dev", To: "staging", Revision: head,
		Images: []promote.ImageRef{{Name: "ghcr.io/org/web", Tag: "1.5.0", Digest: "sha256:" + strings.Repeat("ab", 32)}},
		Gates:  []promote.GateResult{{Name: "health", Passed: true, Detail: "dev is Synced and Healthy"}},
	}
	notes := promote.EditFunc(func(ctx context.Context, fsys fs.FS) (promote.Result, error) {
		return promote.Result{Files: []promote.FileChange{{Path: "apps/web/PROMOTED", New: []byte("1.5.0\n")}}}, nil
	})
	pub, err := p.Publish(context.Background(), promote.Change{
		Branch:     "main",
		Message:    "promote web 1.5.0 from dev to staging\n\nThe body says why.\n",
		Author:     promote.Identity{Name: "Ada Lovelace", Email: "ada@example.com"},
		Provenance: prov,
		Edit:       promote.Edits(setTag("1.5.0"), notes),
	})
	require.NoError(t, err)

	remoteHead := gitOut(t, repo.Bare, "rev-parse", "main")
	assert.Equal(t, promote.Pushed, pub.Action)
	assert.Equal(t, remoteHead, pub.Commit, "the result names the commit the server holds")
	assert.Equal(t, head, pub.Base)
	assert.Equal(t, head, gitOut(t, repo.Bare, "rev-parse", "main^"), "one commit on top of the head")
	assert.Equal(t, []string{"apps/web/kustomization.yaml", "apps/web/PROMOTED"}, pub.Files)
	assert.Equal(t, 1, pub.Attempts)
	assert.Contains(t, pub.Edit.Diff(), `+    newTag: "1.5.0"`)

	// What git reads back: identities, files, content, trailers.
	assert.Equal(t, "Ada Lovelace|ada@example.com|converge bot|bot@converge.dev",
		gitOut(t, repo.Bare, "log", "-1", "--format=%an|%ae|%cn|%ce", "main"))
	assert.Equal(t, "apps/web/PROMOTED\napps/web/kustomization.yaml",
		gitOut(t, repo.Bare, "diff-tree", "--no-commit-id", "--name-only", "-r", "main"))
	assert.Equal(t, strings.TrimSuffix(strings.Replace(webKustomization, `"1.0.0"`, `"1.5.0"`, 1), "\n"),
		gitOut(t, repo.Bare, "show", "main:apps/web/kustomization.yaml"))
	assert.Equal(t, "deploy", gitOut(t, repo.Bare, "show", "main:README.md"), "untouched files stay")
	assert.Equal(t, strings.Join([]string{
		"Promoted-From: dev",
		"Promoted-To: staging",
		"Promoted-Revision: " + head,
		"Promoted-Image: ghcr.io/org/web:1.5.0@sha256:" + strings.Repeat("ab", 32),
		"Promoted-Gate: health passed: dev is Synced and Healthy",
	}, "\n"), gitOut(t, repo.Bare, "log", "-1", "--format=%(trailers:only,unfold)", "main"))
	message := gitOut(t, repo.Bare, "log", "-1", "--format=%B", "main")
	assert.True(t, strings.HasPrefix(message, "promote web 1.5.0 from dev to staging\n\nThe body says why.\n\nPromoted-From: dev\n"), message)
	got, err := promote.ParseProvenance(message)
	require.NoError(t, err)
	assert.Equal(t, prov, got, "the trailers read back as written")
	assert.Equal(t, "", gitOut(t, repo.Bare, "fsck", "--no-progress", "--strict"), "git finds the objects sound")
}

func TestPublishUnchangedMakesNoCommit(t *testing.T) {
	srv := gittest.NewServer(t)
	repo, head := seedRepo(t, srv)
	p := newPublisher(t, repo.URL)
	for name, edit := range map[string]promote.Edit{
		"same tag": setTag("1.0.0"),
		"same bytes written": promote.EditFunc(func(ctx context.Context, fsys fs.FS) (promote.Result, error) {
			old, err := fs.ReadFile(fsys, "README.md")
			return promote.Result{Files: []promote.FileChange{{Path: "README.md", Old: old, New: old}}}, err
		}),
		"nothing": promote.EditFunc(func(context.Context, fs.FS) (promote.Result, error) { return promote.Result{}, nil }),
	} {
		t.Run(name, func(t *testing.T) {
			pub, err := p.Publish(context.Background(), promote.Change{Branch: "main", Message: "promote", Edit: edit})
			require.NoError(t, err)
			assert.Equal(t, promote.Unchanged, pub.Action)
			assert.Empty(t, pub.Commit)
			assert.Empty(t, pub.Files)
			assert.Equal(t, head, pub.Base)
			assert.Equal(t, 1, pub.Attempts)
			assert.Equal(t, head, gitOut(t, repo.Bare, "rev-parse", "main"), "no commit reached the server")
		})
	}
}

// The race the retry exists for, for real: a commit lands on the server
// between the publisher's fetch and its push.
func TestPublishRetriesAPushRace(t *testing.T) {
	var repo *gittest.Repo
	bumpWorker := strings.Replace(webKustomization, `"2.0.0"`, `"2.1.0"`, 1)
	r := &racer{n: 1, change: func(int32) error { return concurrentCommit(repo, "apps/web/kustomization.yaml", bumpWorker) }}
	srv := gittest.NewServer(t, gittest.WithMiddleware(r.wrap))
	repo, head := seedRepo(t, srv)
	p := newPublisher(t, repo.URL)

	pub, err := p.Publish(context.Background(), promote.Change{Branch: "main", Message: "promote web 1.5.0", Edit: setTag("1.5.0")})
	require.NoError(t, err)
	r.check(t)

	concurrent := gitOut(t, repo.Bare, "rev-parse", "main^")
	assert.NotEqual(t, head, concurrent, "the concurrent commit landed first")
	assert.Equal(t, promote.Pushed, pub.Action)
	assert.Equal(t, 2, pub.Attempts)
	assert.Equal(t, concurrent, pub.Base, "the retry built on the new head")
	assert.Equal(t, gitOut(t, repo.Bare, "rev-parse", "main"), pub.Commit)
	// The edit ran again on the new head: both changes are in the file,
	// which a patch computed on the old head would have lost.
	want := strings.Replace(bumpWorker, `"1.0.0"`, `"1.5.0"`, 1)
	assert.Equal(t, strings.TrimSuffix(want, "\n"), gitOut(t, repo.Bare, "show", "main:apps/web/kustomization.yaml"))
	assert.Equal(t, "concurrent change", gitOut(t, repo.Bare, "log", "-1", "--format=%s", "main^"))
}

// A history rewrite between fetch and push (the branch force-pushed back
// a commit): the push is leased on the head the commit was built on, so
// it is refused rather than resurrecting the dropped commit, and the
// retry builds on the rewritten history.
func TestPublishRetriesOverAHistoryRewrite(t *testing.T) {
	var repo *gittest.Repo
	rewrite := func(int32) error {
		for _, s := range [][]string{{"reset", "--quiet", "--hard", "HEAD~1"}, {"push", "--quiet", "--force", "origin", "HEAD:main"}} {
			if _, err := gittest.Git(repo.Work, s...); err != nil {
				return err
			}
		}
		return nil
	}
	r := &racer{n: 1, change: rewrite}
	srv := gittest.NewServer(t, gittest.WithMiddleware(r.wrap))
	repo, first := seedRepo(t, srv)
	dropped := repo.Commit(t, "to be dropped", map[string]string{"DROPPED": "x\n"})

	pub, err := newPublisher(t, repo.URL).Publish(context.Background(), promote.Change{Branch: "main", Message: "promote", Edit: setTag("1.5.0")})
	require.NoError(t, err)
	r.check(t)
	assert.Equal(t, 2, pub.Attempts)
	assert.Equal(t, first, pub.Base)
	assert.Equal(t, first, gitOut(t, repo.Bare, "rev-parse", "main^"))
	_, err = gittest.Git(repo.Bare, "merge-base", "--is-ancestor", dropped, "main")
	assert.Error(t, err, "the dropped commit stays dropped")
	_, err = gittest.Git(repo.Bare, "cat-file", "-e", "main:DROPPED")
	assert.Error(t, err)
}

func TestPublishRaceMakesTheEditANoOp(t *testing.T) {
	var repo *gittest.Repo
	same := strings.Replace(webKustomization, `"1.0.0"`, `"1.5.0"`, 1)
	r := &racer{n: 1, change: func(int32) error { return concurrentCommit(repo, "apps/web/kustomization.yaml", same) }}
	srv := gittest.NewServer(t, gittest.WithMiddleware(r.wrap))
	repo, _ = seedRepo(t, srv)

	pub, err := newPublisher(t, repo.URL).Publish(context.Background(), promote.Change{Branch: "main", Message: "promote web 1.5.0", Edit: setTag("1.5.0")})
	require.NoError(t, err)
	r.check(t)
	assert.Equal(t, promote.Unchanged, pub.Action, "someone else promoted the same tag first")
	assert.Equal(t, 2, pub.Attempts)
	assert.Equal(t, gitOut(t, repo.Bare, "rev-parse", "main"), pub.Base)
	assert.Equal(t, "concurrent change", gitOut(t, repo.Bare, "log", "-1", "--format=%s", "main"))
}

func TestPublishGivesUpWhenTheBranchKeepsMoving(t *testing.T) {
	var repo *gittest.Repo
	r := &racer{n: 1000, change: func(i int32) error {
		return concurrentCommit(repo, "README.md", strings.Repeat("x", int(i))+"\n")
	}}
	srv := gittest.NewServer(t, gittest.WithMiddleware(r.wrap))
	repo, _ = seedRepo(t, srv)
	p := newPublisher(t, repo.URL, promote.WithPushAttempts(3))

	pub, err := p.Publish(context.Background(), promote.Change{Branch: "main", Message: "promote web 1.5.0", Edit: setTag("1.5.0")})
	r.check(t)
	require.ErrorIs(t, err, promote.ErrBranchMoved)
	var pe *promote.PublishError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, 3, pe.Attempts)
	assert.Equal(t, 3, pub.Attempts)
	assert.Contains(t, err.Error(), "publish main on http://127.0.0.1")
	assert.Contains(t, err.Error(), "(3 attempts)")
	assert.EqualValues(t, 3, r.count.Load(), "one push per attempt")
	assert.Equal(t, "concurrent change", gitOut(t, repo.Bare, "log", "-1", "--format=%s", "main"), "nothing of ours landed")
	assert.Equal(t, strings.TrimSuffix(webKustomization, "\n"), gitOut(t, repo.Bare, "show", "main:apps/web/kustomization.yaml"))
}

func TestPublishDoesNotRetryARefusal(t *testing.T) {
	srv := gittest.NewServer(t)
	repo, head := seedRepo(t, srv)
	hook := filepath.Join(repo.Bare, "hooks", "pre-receive")
	require.NoError(t, os.WriteFile(hook, []byte("#!/bin/sh\necho 'refused by policy' >&2\nexit 1\n"), 0o755))
	var edits atomic.Int32
	edit := promote.EditFunc(func(ctx context.Context, fsys fs.FS) (promote.Result, error) {
		edits.Add(1)
		return setTag("1.5.0").Apply(ctx, fsys)
	})

	pub, err := newPublisher(t, repo.URL).Publish(context.Background(), promote.Change{Branch: "main", Message: "promote", Edit: edit})
	require.Error(t, err)
	assert.NotErrorIs(t, err, promote.ErrBranchMoved)
	assert.Contains(t, err.Error(), "push")
	assert.Equal(t, 1, pub.Attempts)
	assert.EqualValues(t, 1, edits.Load())
	assert.Equal(t, head, gitOut(t, repo.Bare, "rev-parse", "main"))
}

func TestPublishRefusesBadInputBeforeAnyRequest(t *testing.T) {
	srv := gittest.NewServer(t)
	repo, head := seedRepo(t, srv)
	p := newPublisher(t, repo.URL)
	ok := promote.Change{Branch: "main", Message: "promote web", Edit: setTag("1.5.0")}
	with := func(f func(*promote.Change)) promote.Change { c := ok; f(&c); return c }
	cases := map[string]struct {
		change promote.Change
		want   error
	}{
		"option-like branch":        {with(func(c *promote.Change) { c.Branch = "-f" }), promote.ErrInvalidBranch},
		"shell in branch":           {with(func(c *promote.Change) { c.Branch = "main;rm" }), promote.ErrInvalidBranch},
		"traversal branch":          {with(func(c *promote.Change) { c.Branch = "../x" }), promote.ErrInvalidBranch},
		"dotdot inside branch":      {with(func(c *promote.Change) { c.Branch = "a/../x" }), promote.ErrInvalidBranch},
		"control char in branch":    {with(func(c *promote.Change) { c.Branch = "ma\x01in" }), promote.ErrInvalidBranch},
		"newline in branch":         {with(func(c *promote.Change) { c.Branch = "main\nx" }), promote.ErrInvalidBranch},
		"escape in branch":          {with(func(c *promote.Change) { c.Branch = "main\x1b[31m" }), promote.ErrInvalidBranch},
		"space in branch":           {with(func(c *promote.Change) { c.Branch = "my branch" }), promote.ErrInvalidBranch},
		"lock branch":               {with(func(c *promote.Change) { c.Branch = "main.lock" }), promote.ErrInvalidBranch},
		"reflog syntax branch":      {with(func(c *promote.Change) { c.Branch = "main@{1}" }), promote.ErrInvalidBranch},
		"HEAD":                      {with(func(c *promote.Change) { c.Branch = "HEAD" }), promote.ErrInvalidBranch},
		"empty branch":              {with(func(c *promote.Change) { c.Branch = "" }), promote.ErrInvalidBranch},
		"non-ASCII branch":          {with(func(c *promote.Change) { c.Branch = "mаin" }), promote.ErrInvalidBranch},
		"carriage return":           {with(func(c *promote.Change) { c.Message = "promote\r\nbody" }), promote.ErrInvalidMessage},
		"NUL":                       {with(func(c *promote.Change) { c.Message = "promote\x00" }), promote.ErrInvalidMessage},
		"terminal escape":           {with(func(c *promote.Change) { c.Message = "promote \x1b[2Jweb" }), promote.ErrInvalidMessage},
		"C1 control":                {with(func(c *promote.Change) { c.Message = "promote \u0085web" }), promote.ErrInvalidMessage},
		"bidi override":             {with(func(c *promote.Change) { c.Message = "promote \u202eweb" }), promote.ErrInvalidMessage},
		"invalid UTF-8":             {with(func(c *promote.Change) { c.Message = "promote \xff" }), promote.ErrInvalidMessage},
		"empty message":             {with(func(c *promote.Change) { c.Message = " \n\n" }), promote.ErrInvalidMessage},
		"empty subject":             {with(func(c *promote.Change) { c.Message = "\nbody" }), promote.ErrInvalidMessage},
		"huge message":              {with(func(c *promote.Change) { c.Message = "x" + strings.Repeat("y", 70<<10) }), promote.ErrInvalidMessage},
		"forged trailer":            {with(func(c *promote.Change) { c.Message = "promote\n\nPromoted-From: prod" }), promote.ErrInvalidMessage},
		"forged trailer, any case":  {with(func(c *promote.Change) { c.Message = "promote\n\npromoted-gate:health passed" }), promote.ErrInvalidMessage},
		"author with angle bracket": {with(func(c *promote.Change) { c.Author = promote.Identity{Name: "x>", Email: "x@y"} }), promote.ErrInvalidMessage},
		"author with newline":       {with(func(c *promote.Change) { c.Author = promote.Identity{Name: "x\ny", Email: "x@y"} }), promote.ErrInvalidMessage},
		"author without email":      {with(func(c *promote.Change) { c.Author = promote.Identity{Name: "x"} }), promote.ErrInvalidMessage},
		"provenance with newline": {with(func(c *promote.Change) {
			c.Provenance = promote.Provenance{From: "dev\nPromoted-To: prod"}
		}), promote.ErrInvalidProvenance},
		"provenance with a bad image": {with(func(c *promote.Change) {
			c.Provenance = promote.Provenance{Images: []promote.ImageRef{{Name: "web", Tag: "1.0\"; x"}}}
		}), promote.ErrInvalidProvenance},
	}
	before := srv.Requests()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			pub, err := p.Publish(context.Background(), tc.change)
			require.ErrorIs(t, err, tc.want)
			var pe *promote.PublishError
			require.ErrorAs(t, err, &pe)
			assert.Zero(t, pub.Attempts)
			assert.NotContains(t, err.Error(), "\x1b", "no control character reaches the error text")
		})
	}
	_, err := p.Publish(context.Background(), promote.Change{Branch: "main", Message: "promote"})
	assert.ErrorContains(t, err, "no edit")
	assert.Equal(t, before, srv.Requests(), "nothing was fetched, let alone pushed")
	assert.Equal(t, head, gitOut(t, repo.Bare, "rev-parse", "main"))
}

func TestPublishRefusesBadEditPaths(t *testing.T) {
	srv := gittest.NewServer(t)
	repo, head := seedRepo(t, srv)
	p := newPublisher(t, repo.URL)
	for _, path := range []string{".git/config", "apps/.GIT/hooks/pre-commit", "../outside", "/abs", "apps//web", "."} {
		t.Run(path, func(t *testing.T) {
			edit := promote.EditFunc(func(context.Context, fs.FS) (promote.Result, error) {
				return promote.Result{Files: []promote.FileChange{{Path: path, New: []byte("x")}}}, nil
			})
			_, err := p.Publish(context.Background(), promote.Change{Branch: "main", Message: "promote", Edit: edit})
			require.Error(t, err)
			assert.Equal(t, head, gitOut(t, repo.Bare, "rev-parse", "main"))
		})
	}
}

func TestPublishRefusesWritingThroughLinks(t *testing.T) {
	srv := gittest.NewServer(t)
	repo, _ := seedRepo(t, srv)
	require.NoError(t, os.Symlink("web", filepath.Join(repo.Work, "apps", "link")))
	require.NoError(t, os.Symlink("README.md", filepath.Join(repo.Work, "README.link")))
	head := repo.Commit(t, "links", nil)
	p := newPublisher(t, repo.URL)
	for _, path := range []string{"apps/link/kustomization.yaml", "README.link"} {
		t.Run(path, func(t *testing.T) {
			edit := promote.EditFunc(func(context.Context, fs.FS) (promote.Result, error) {
				return promote.Result{Files: []promote.FileChange{{Path: path, New: []byte("x\n")}}}, nil
			})
			_, err := p.Publish(context.Background(), promote.Change{Branch: "main", Message: "promote", Edit: edit})
			require.ErrorContains(t, err, "symbolic link")
			assert.Equal(t, head, gitOut(t, repo.Bare, "rev-parse", "main"))
		})
	}
}

func TestPublishKeepsFileModes(t *testing.T) {
	srv := gittest.NewServer(t)
	repo, _ := seedRepo(t, srv)
	repo.Commit(t, "script", map[string]string{"hack/run.sh": "#!/bin/sh\necho 1\n"})
	require.NoError(t, os.Chmod(filepath.Join(repo.Work, "hack", "run.sh"), 0o755))
	repo.Commit(t, "executable", nil)
	require.True(t, strings.HasPrefix(gitOut(t, repo.Bare, "ls-tree", "main", "hack/run.sh"), "100755 "))
	edit := promote.FileEdit{Path: "hack/run.sh", Change: func(old []byte) ([]byte, error) {
		return []byte(strings.Replace(string(old), "echo 1", "echo 2", 1)), nil
	}}
	_, err := newPublisher(t, repo.URL).Publish(context.Background(), promote.Change{Branch: "main", Message: "bump", Edit: edit})
	require.NoError(t, err)
	assert.Equal(t, "#!/bin/sh\necho 2", gitOut(t, repo.Bare, "show", "main:hack/run.sh"))
	assert.True(t, strings.HasPrefix(gitOut(t, repo.Bare, "ls-tree", "main", "hack/run.sh"), "100755 "), "still executable")
	assert.True(t, strings.HasPrefix(gitOut(t, repo.Bare, "ls-tree", "main", "README.md"), "100644 "))
}

func TestPublishEditErrorsAndMissingBranch(t *testing.T) {
	srv := gittest.NewServer(t)
	repo, head := seedRepo(t, srv)
	p := newPublisher(t, repo.URL)

	_, err := p.Publish(context.Background(), promote.Change{Branch: "main", Message: "promote",
		Edit: promote.SetImage{File: "apps/nope", Images: []promote.Image{{Name: "web", NewTag: "1"}}}})
	require.ErrorIs(t, err, promote.ErrNotFound, "the edit's error, wrapped")
	assert.Contains(t, err.Error(), "edit on "+head[:12])

	_, err = p.Publish(context.Background(), promote.Change{Branch: "release/1.x", Message: "promote", Edit: setTag("1.5.0")})
	require.ErrorIs(t, err, promote.ErrBranchNotFound)

	empty := srv.NewRepo(t, "empty")
	_, err = newPublisher(t, empty.URL).Publish(context.Background(), promote.Change{Branch: "main", Message: "promote", Edit: setTag("1.5.0")})
	require.ErrorIs(t, err, promote.ErrBranchNotFound)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = p.Publish(ctx, promote.Change{Branch: "main", Message: "promote", Edit: setTag("1.5.0")})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, head, gitOut(t, repo.Bare, "rev-parse", "main"))
}

func TestPublishOverHTTPSWithCredentials(t *testing.T) {
	const user, password = "bot", "s3cret-pa55word-value"
	srv := gittest.NewServer(t, gittest.WithTLS(), gittest.WithBasicAuth(user, password))
	repo, head := seedRepo(t, srv)
	url := strings.Replace(repo.URL, "http://", "https://", 1)
	change := promote.Change{Branch: "main", Message: "promote web 1.5.0", Edit: setTag("1.5.0")}

	wrong, err := promote.NewPublisher(url, bot, promote.WithPushCABundle(srv.CertPEM),
		promote.WithPushCredentials(promote.Credentials{Username: user, Password: "wrong-pa55word-value"}))
	require.NoError(t, err)
	_, err = wrong.Publish(context.Background(), change)
	require.ErrorIs(t, err, promote.ErrUnauthorized)
	assert.NotContains(t, err.Error(), "wrong-pa55word-value")

	untrusted, err := promote.NewPublisher(url, bot, promote.WithPushCredentials(promote.Credentials{Username: user, Password: password}))
	require.NoError(t, err)
	_, err = untrusted.Publish(context.Background(), change)
	require.Error(t, err, "a certificate nobody said to trust is refused")
	assert.NotContains(t, err.Error(), password)

	p, err := promote.NewPublisher(url, bot, promote.WithPushCABundle(srv.CertPEM),
		promote.WithPushCredentials(promote.Credentials{Username: user, Password: password}))
	require.NoError(t, err)
	pub, err := p.Publish(context.Background(), change)
	require.NoError(t, err)
	assert.Equal(t, promote.Pushed, pub.Action)
	assert.Equal(t, head, gitOut(t, repo.Bare, "rev-parse", "main^"))
	assert.Equal(t, pub.Commit, gitOut(t, repo.Bare, "rev-parse", "main"))
}

func TestNewPublisherRefuses(t *testing.T) {
	cases := map[string]struct {
		url    string
		ident  promote.Identity
		opts   []promote.PublisherOption
		secret string
	}{
		"password in the URL":   {url: "https://bot:hunter2-secret@git.example/deploy.git", ident: bot, secret: "hunter2-secret"},
		"plain http":            {url: "http://git.example/deploy.git", ident: bot},
		"ssh":                   {url: "ssh://git@git.example/deploy.git", ident: bot},
		"local path":            {url: "/srv/git/deploy.git", ident: bot},
		"option-like URL":       {url: "--upload-pack=touch /tmp/x", ident: bot},
		"no committer":          {url: "https://git.example/deploy.git"},
		"zero attempts":         {url: "https://git.example/deploy.git", ident: bot, opts: []promote.PublisherOption{promote.WithPushAttempts(0)}},
		"negative delay":        {url: "https://git.example/deploy.git", ident: bot, opts: []promote.PublisherOption{promote.WithPushRetryDelay(-1)}},
		"half basic credential": {url: "https://git.example/deploy.git", ident: bot, opts: []promote.PublisherOption{promote.WithPushCredentials(promote.Credentials{Password: "only-a-password"})}, secret: "only-a-password"},
		"docker config": {url: "https://git.example/deploy.git", ident: bot, opts: []promote.PublisherOption{promote.WithPushCredentials(promote.Credentials{
			DockerConfigJSON: []byte(`{"auths":{"git.example":{"auth":"Ym90OnNlY3JldC12YWx1ZQ=="}}}`)})}, secret: "secret-value"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := promote.NewPublisher(tc.url, tc.ident, tc.opts...)
			require.Error(t, err)
			if tc.secret != "" {
				assert.NotContains(t, err.Error(), tc.secret)
			}
		})
	}
	_, err := promote.NewPublisher("/srv/git/deploy.git", bot, promote.WithLocalRemote())
	assert.NoError(t, err, "a local path WithLocalRemote")
}

func TestPublishErrorRedactsCredentials(t *testing.T) {
	// A remote that quotes the token back in a Git protocol error, as a
	// misconfigured proxy might: the error names the failure and still
	// does not show the token.
	const token = "ghp_0123456789abcdefSECRET"
	srv := gittest.NewServer(t, gittest.WithMiddleware(func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			line := "ERR bad token " + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") + "\n"
			w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
			fmt.Fprintf(w, "%04x%s", len(line)+4, line)
		})
	}))
	repo := srv.NewRepo(t, "deploy")
	p := newPublisher(t, repo.URL, promote.WithPushCredentials(promote.Credentials{Token: token}))
	_, err := p.Publish(context.Background(), promote.Change{Branch: "main", Message: "promote", Edit: setTag("1.5.0")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bad token ***")
	for e := err; e != nil; e = errors.Unwrap(e) {
		assert.NotContains(t, e.Error(), token, "nor in what the error wraps")
	}
	assert.NotErrorIs(t, err, promote.ErrBranchMoved)
}

// headBranch is the pull request branch the head-branch tests push to.
const headBranch = "converge/promote/staging"

// pushCommitTo makes a commit on top of the server's main that changes
// nothing, as someone else's work would, and pushes it to branch with
// git, forcing. It returns the commit's hash and is safe to call from a
// server handler.
func pushCommitTo(repo *gittest.Repo, branch, message string) (string, error) {
	if _, err := gittest.Git(repo.Work, "fetch", "--quiet", "origin"); err != nil {
		return "", err
	}
	commit, err := gittest.Git(repo.Work, "commit-tree", "-p", "origin/main", "-m", message, "origin/main^{tree}")
	if err != nil {
		return "", err
	}
	_, err = gittest.Git(repo.Work, "push", "--quiet", "--force", "origin", commit+":refs/heads/"+branch)
	return commit, err
}

func TestPublishToAHeadBranch(t *testing.T) {
	pushes := &racer{} // n is 0: it counts pushes and changes nothing
	srv := gittest.NewServer(t, gittest.WithMiddleware(pushes.wrap))
	repo, head := seedRepo(t, srv)
	p := newPublisher(t, repo.URL)
	change := promote.Change{Branch: headBranch, Base: "main", Message: "promote web 1.5.0", Edit: setTag("1.5.0")}

	// The first run creates the branch: one commit on main's head.
	first, err := p.Publish(context.Background(), change)
	require.NoError(t, err)
	assert.Equal(t, promote.Pushed, first.Action)
	assert.Equal(t, headBranch, first.Branch)
	assert.Equal(t, head, first.Base)
	assert.Empty(t, first.Replaced, "the branch was created")
	assert.Equal(t, []string{"apps/web/kustomization.yaml"}, first.Files)
	assert.Equal(t, first.Commit, gitOut(t, repo.Bare, "rev-parse", headBranch))
	assert.Equal(t, head, gitOut(t, repo.Bare, "rev-parse", headBranch+"^"))
	assert.Equal(t, head, gitOut(t, repo.Bare, "rev-parse", "main"), "the base is not touched")
	assert.Contains(t, gitOut(t, repo.Bare, "show", headBranch+":apps/web/kustomization.yaml"), `newTag: "1.5.0"`)
	assert.EqualValues(t, 1, pushes.count.Load())

	// The same promotion again: the branch holds it, nothing is pushed.
	again, err := p.Publish(context.Background(), change)
	require.NoError(t, err)
	assert.Equal(t, promote.Unchanged, again.Action)
	assert.Equal(t, first.Commit, again.Commit, "the commit that holds the change")
	assert.Equal(t, head, again.Base)
	assert.Equal(t, 1, again.Attempts)
	assert.EqualValues(t, 1, pushes.count.Load(), "no second push")

	// The base moves on: the branch is rebuilt on its new head, replacing
	// the old commit, so the pull request shows one commit on main.
	moved := repo.Commit(t, "docs", map[string]string{"README.md": "deploy, documented\n"})
	rebuilt, err := p.Publish(context.Background(), change)
	require.NoError(t, err)
	assert.Equal(t, promote.Pushed, rebuilt.Action)
	assert.Equal(t, moved, rebuilt.Base)
	assert.Equal(t, first.Commit, rebuilt.Replaced)
	assert.Equal(t, rebuilt.Commit, gitOut(t, repo.Bare, "rev-parse", headBranch))
	assert.Equal(t, moved, gitOut(t, repo.Bare, "rev-parse", headBranch+"^"))
	assert.Equal(t, "deploy, documented", gitOut(t, repo.Bare, "show", headBranch+":README.md"))

	// Another tag on the same base replaces the branch's commit too.
	next, err := p.Publish(context.Background(), promote.Change{Branch: headBranch, Base: "main", Message: "promote web 1.6.0", Edit: setTag("1.6.0")})
	require.NoError(t, err)
	assert.Equal(t, promote.Pushed, next.Action)
	assert.Equal(t, rebuilt.Commit, next.Replaced)
	assert.Equal(t, moved, gitOut(t, repo.Bare, "rev-parse", headBranch+"^"))
	assert.Contains(t, gitOut(t, repo.Bare, "show", headBranch+":apps/web/kustomization.yaml"), `newTag: "1.6.0"`)

	// An edit that changes nothing on the base leaves the branch alone.
	none, err := p.Publish(context.Background(), promote.Change{Branch: headBranch, Base: "main", Message: "promote web 1.0.0", Edit: setTag("1.0.0")})
	require.NoError(t, err)
	assert.Equal(t, promote.Unchanged, none.Action)
	assert.Empty(t, none.Commit)
	assert.Equal(t, next.Commit, gitOut(t, repo.Bare, "rev-parse", headBranch))
	assert.EqualValues(t, 3, pushes.count.Load())
	assert.Equal(t, moved, gitOut(t, repo.Bare, "rev-parse", "main"), "main never moved but by its own commit")

	_, err = p.Publish(context.Background(), promote.Change{Branch: headBranch, Base: "release/9", Message: "promote", Edit: setTag("1.7.0")})
	require.ErrorIs(t, err, promote.ErrBranchNotFound, "the base must exist")
}

// wrapAdvert is racer.wrap one step earlier: the concurrent change lands
// before the push's reference advertisement, after the publisher fetched.
// There, only the publisher's lease can tell the branch moved; racer.wrap,
// after the advertisement, leaves it to git receive-pack's own check of
// the old value.
func (r *racer) wrapAdvert(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/info/refs") && req.URL.Query().Get("service") == "git-receive-pack" {
			if i := r.count.Add(1); i <= r.n {
				if err := r.change(i); err != nil {
					r.mu.Lock()
					r.errs = append(r.errs, err)
					r.mu.Unlock()
				}
			}
		}
		next.ServeHTTP(w, req)
	})
}

// racePoints are where in a push the tests land a concurrent change.
var racePoints = map[string]func(*racer) func(http.Handler) http.Handler{
	"before the advertisement": func(r *racer) func(http.Handler) http.Handler { return r.wrapAdvert },
	"before the update":        func(r *racer) func(http.Handler) http.Handler { return r.wrap },
}

// The head branch's compare-and-swap, for real: someone pushes to it
// between the publisher's fetch and its push.
func TestPublishHeadBranchRace(t *testing.T) {
	cases := map[string]struct {
		exists bool // the head branch exists before the run
	}{
		"created concurrently": {},
		"pushed concurrently":  {exists: true},
	}
	for name, tc := range cases {
		for point, wrap := range racePoints {
			t.Run(name+" "+point, func(t *testing.T) {
				var repo *gittest.Repo
				var concurrent atomic.Value
				r := &racer{n: 1, change: func(int32) error {
					c, err := pushCommitTo(repo, headBranch, "someone else's commit")
					concurrent.Store(c)
					return err
				}}
				srv := gittest.NewServer(t, gittest.WithMiddleware(wrap(r)))
				repo, head := seedRepo(t, srv)
				if tc.exists {
					_, err := pushCommitTo(repo, headBranch, "an earlier commit")
					require.NoError(t, err)
				}
				pub, err := newPublisher(t, repo.URL).Publish(context.Background(),
					promote.Change{Branch: headBranch, Base: "main", Message: "promote web 1.5.0", Edit: setTag("1.5.0")})
				require.NoError(t, err)
				r.check(t)
				assert.Equal(t, promote.Pushed, pub.Action)
				assert.Equal(t, 2, pub.Attempts, "the first push was refused")
				assert.EqualValues(t, 2, r.count.Load())
				assert.Equal(t, concurrent.Load(), pub.Replaced, "the retry saw the concurrent commit, and replaced it knowingly")
				assert.Equal(t, pub.Commit, gitOut(t, repo.Bare, "rev-parse", headBranch))
				assert.Equal(t, head, gitOut(t, repo.Bare, "rev-parse", headBranch+"^"))
			})
		}
	}
}

// A force-push that rewinds the branch between the fetch and the push:
// the push is refused, and the retry builds on the rewound head without
// bringing back the commit that was taken away.
func TestPublishRetriesAfterAForcePush(t *testing.T) {
	for point, wrap := range racePoints {
		t.Run(point, func(t *testing.T) {
			var repo *gittest.Repo
			var first string
			r := &racer{n: 1, change: func(int32) error {
				_, err := gittest.Git(repo.Work, "push", "--quiet", "--force", "origin", first+":refs/heads/main")
				return err
			}}
			srv := gittest.NewServer(t, gittest.WithMiddleware(wrap(r)))
			repo, first = seedRepo(t, srv)
			second := repo.Commit(t, "a change that is taken back", map[string]string{"README.md": "taken back\n"})

			pub, err := newPublisher(t, repo.URL).Publish(context.Background(), promote.Change{Branch: "main", Message: "promote web 1.5.0", Edit: setTag("1.5.0")})
			require.NoError(t, err)
			r.check(t)
			assert.Equal(t, 2, pub.Attempts)
			assert.Equal(t, first, pub.Base, "built on the rewound head")
			assert.Equal(t, first, gitOut(t, repo.Bare, "rev-parse", "main^"))
			assert.Equal(t, "deploy", gitOut(t, repo.Bare, "show", "main:README.md"), "the rewound commit stays gone")
			_, err = gittest.Git(repo.Bare, "merge-base", "--is-ancestor", second, "main")
			assert.Error(t, err, "the taken-back commit is not in main's history")
		})
	}
}

func TestPublishRefusesABadBase(t *testing.T) {
	srv := gittest.NewServer(t)
	repo, head := seedRepo(t, srv)
	p := newPublisher(t, repo.URL)
	before := srv.Requests()
	for _, base := range []string{"-f", "main;rm", "../x", "ma\x01in", "my branch", "main\n"} {
		t.Run(base, func(t *testing.T) {
			pub, err := p.Publish(context.Background(), promote.Change{Branch: headBranch, Base: base, Message: "promote", Edit: setTag("1.5.0")})
			require.ErrorIs(t, err, promote.ErrInvalidBranch)
			assert.Contains(t, err.Error(), "base: ")
			assert.Zero(t, pub.Attempts)
		})
	}
	assert.Equal(t, before, srv.Requests(), "nothing was fetched")
	assert.Equal(t, head, gitOut(t, repo.Bare, "rev-parse", "main"))
}
