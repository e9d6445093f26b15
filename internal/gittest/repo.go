package gittest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Repo is a bare repository on a [Server] and a work tree whose origin is
// that repository. Commit, Branch and Tag push as they go.
type Repo struct {
	URL  string // clone URL through the server
	Bare string // path of the bare repository
	Work string // path of the work tree
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
	run(t, r.Work, "commit", "--quiet", "--allow-empty", "-m", message)
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
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	home := os.TempDir()
	cmd.Env = gitEnv(home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}
