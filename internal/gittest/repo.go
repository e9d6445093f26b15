package gittest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Repo is a bare repository on a [Server] and a work tree whose origin is
// that repository. Commit, Branch and Tag push as they go.
type Repo struct {
	URL  string // clone URL through the server
	Bare string // path of the bare repository
	Work string // path of the work tree

	env []string // extra environment of the next commit
}

// Commit writes files (path → content; "" content deletes the file) in the
// work tree on the current branch, commits them and pushes. It returns the
// commit hash.
func (r *Repo) Commit(t testing.TB, message string, files map[string]string) string {
	t.Helper()
	for path, content := range files {
		full := filepath.Join(r.Work, filepath.FromSlash(path))
		if content == "" {
			if err := os.Remove(full); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, r.Work, "add", "--all")
	runEnv(t, r.Work, r.env, "commit", "--quiet", "--allow-empty", "-m", message)
	run(t, r.Work, "push", "--quiet", "origin", "HEAD")
	return r.Head(t)
}

// CommitAt is [Repo.Commit] with the author and committer dates set to
// when instead of the fixed date every other commit gets.
func (r *Repo) CommitAt(t testing.TB, when time.Time, message string, files map[string]string) string {
	t.Helper()
	date := when.UTC().Format(time.RFC3339)
	r.env = []string{"GIT_AUTHOR_DATE=" + date, "GIT_COMMITTER_DATE=" + date}
	defer func() { r.env = nil }()
	return r.Commit(t, message, files)
}

// AddSubmodule records a submodule at path in the work tree, as
// `git submodule add` would but without cloning it: an entry with url
// (written as given, so relative and hostile URLs can be tested) in
// .gitmodules, and a gitlink to commit. It commits and pushes, and returns
// the new commit's hash.
func (r *Repo) AddSubmodule(t testing.TB, path, url, commit string) string {
	t.Helper()
	quote := func(v string) string {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
	}
	f, err := os.OpenFile(filepath.Join(r.Work, ".gitmodules"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fmt.Fprintf(f, "[submodule %s]\n\tpath = %s\n\turl = %s\n", quote(path), quote(path), quote(url))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	run(t, r.Work, "update-index", "--add", "--cacheinfo", "160000,"+commit+","+path)
	run(t, r.Work, "add", ".gitmodules")
	run(t, r.Work, "commit", "--quiet", "-m", "submodule "+path)
	run(t, r.Work, "push", "--quiet", "origin", "HEAD")
	return r.Head(t)
}

// Head returns the hash of the work tree's HEAD.
func (r *Repo) Head(t testing.TB) string {
	t.Helper()
	return run(t, r.Work, "rev-parse", "HEAD")
}

// Branch creates branch name at the current commit, checks it out and
// pushes it.
func (r *Repo) Branch(t testing.TB, name string) {
	t.Helper()
	run(t, r.Work, "checkout", "--quiet", "-B", name)
	run(t, r.Work, "push", "--quiet", "origin", name)
}

// Checkout switches the work tree to an existing branch.
func (r *Repo) Checkout(t testing.TB, branch string) {
	t.Helper()
	run(t, r.Work, "checkout", "--quiet", branch)
}

// Tag tags the current commit and pushes the tag: annotated with message,
// or lightweight when message is empty.
func (r *Repo) Tag(t testing.TB, name, message string) {
	t.Helper()
	if message == "" {
		run(t, r.Work, "tag", name)
	} else {
		run(t, r.Work, "tag", "-a", name, "-m", message)
	}
	run(t, r.Work, "push", "--quiet", "origin", "refs/tags/"+name)
}

// DeleteRef deletes a branch or tag on the server.
func (r *Repo) DeleteRef(t testing.TB, ref string) {
	t.Helper()
	run(t, r.Work, "push", "--quiet", "origin", "--delete", ref)
}

// ForcePush moves the current branch back to rev (a hash or "HEAD~1") and
// force-pushes it, rewriting the server's history.
func (r *Repo) ForcePush(t testing.TB, rev string) {
	t.Helper()
	run(t, r.Work, "reset", "--quiet", "--hard", rev)
	run(t, r.Work, "push", "--quiet", "--force", "origin", "HEAD")
}

// Git runs the git CLI in dir with an isolated configuration and returns
// its trimmed standard output. Tests use it to run git as an oracle.
func Git(dir string, args ...string) (string, error) {
	return gitWithEnv(dir, nil, args...)
}

func gitWithEnv(dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	home := os.TempDir()
	cmd.Env = append(gitEnv(home), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}
