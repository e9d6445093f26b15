package giteatest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Do sends method to /api/v1/path with the admin's token and body (when
// not nil) as JSON, and returns the status and the answer's body. It fails
// t when the request cannot be sent.
func (s *Server) Do(t testing.TB, method, path string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("giteatest: encode %s %s: %v", method, path, err)
		}
		r = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.URL+"/api/v1/"+strings.TrimPrefix(path, "/"), r)
	if err != nil {
		t.Fatalf("giteatest: %s %s: %v", method, path, err)
	}
	req.Header.Set("Authorization", "token "+s.Token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("giteatest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("giteatest: %s %s: read answer: %v", method, path, err)
	}
	return resp.StatusCode, data
}

// Must is Do that fails t unless the answer is 2xx, and decodes a JSON
// answer into out (when not nil).
func (s *Server) Must(t testing.TB, method, path string, body, out any) {
	t.Helper()
	status, data := s.Do(t, method, path, body)
	if status/100 != 2 {
		t.Fatalf("giteatest: %s %s: %d %s", method, path, status, data)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("giteatest: %s %s: decode answer: %v", method, path, err)
		}
	}
}

// Repo is a repository on a [Server] and a clone of it to push from.
type Repo struct {
	// FullName is "owner/name".
	FullName string
	// Work is the clone's work tree.
	Work string

	server *Server
	home   string
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// CreateRepo creates a repository of the admin user with a first commit
// (a README) on main, and clones it. name is made unique per test
// (t.Name() is appended), so tests sharing a server never meet.
func (s *Server) CreateRepo(t testing.TB, name string) *Repo {
	t.Helper()
	full := strings.Trim(unsafeName.ReplaceAllString(name+"-"+t.Name(), "-"), "-.")
	if len(full) > 90 {
		full = full[:90]
	}
	var out struct {
		FullName string `json:"full_name"`
	}
	s.Must(t, http.MethodPost, "user/repos", map[string]any{
		"name": full, "auto_init": true, "default_branch": "main", "readme": "Default",
	}, &out)
	r := &Repo{FullName: out.FullName, Work: t.TempDir(), server: s, home: t.TempDir()}
	r.git(t, "", "clone", "--quiet", r.cloneURL(), r.Work)
	return r
}

// cloneURL is the repository's HTTP URL with the admin's token as the
// password.
func (r *Repo) cloneURL() string {
	u, _ := url.Parse(r.server.URL + "/" + r.FullName + ".git")
	u.User = url.UserPassword(r.server.User, r.server.Token)
	return u.String()
}

// Push commits files (path → content) on branch, created from main when
// it does not exist yet, and pushes it (forcing, as a promotion's branch
// is rewritten). It returns the commit's hash.
func (r *Repo) Push(t testing.TB, branch, message string, files map[string]string) string {
	t.Helper()
	r.git(t, r.Work, "fetch", "--quiet", "origin")
	if r.git(t, r.Work, "ls-remote", "--heads", "origin", branch) == "" {
		r.git(t, r.Work, "checkout", "--quiet", "-B", branch, "origin/main")
	} else {
		r.git(t, r.Work, "checkout", "--quiet", "-B", branch, "origin/"+branch)
	}
	for path, content := range files {
		full := filepath.Join(r.Work, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r.git(t, r.Work, "add", "--all")
	r.git(t, r.Work, "commit", "--quiet", "--allow-empty", "-m", message)
	r.git(t, r.Work, "push", "--quiet", "--force", "origin", "HEAD:refs/heads/"+branch)
	return r.git(t, r.Work, "rev-parse", "HEAD")
}

// Head returns the commit branch points at on the server ("" when the
// branch does not exist).
func (r *Repo) Head(t testing.TB, branch string) string {
	t.Helper()
	out := r.git(t, r.Work, "ls-remote", "origin", "refs/heads/"+branch)
	sha, _, _ := strings.Cut(out, "\t")
	return sha
}

// SetStatus reports a commit status (state "pending", "success",
// "failure", "error" or "warning") named context on sha.
func (r *Repo) SetStatus(t testing.TB, sha, context, state string) {
	t.Helper()
	r.server.Must(t, http.MethodPost, "repos/"+r.FullName+"/statuses/"+sha, map[string]string{
		"state": state, "context": context, "target_url": r.server.URL + "/ci/" + context,
		"description": context + " is " + state,
	}, nil)
}

// git runs git in dir (with the clone's isolated configuration and a
// fixed identity) and returns its trimmed output, failing t on error.
// The token never appears in a failure.
func (r *Repo) git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"HOME="+r.home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=converge test", "GIT_AUTHOR_EMAIL=test@converge.invalid",
		"GIT_COMMITTER_NAME=converge test", "GIT_COMMITTER_EMAIL=test@converge.invalid",
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := fmt.Sprintf("git %s: %v: %s", strings.Join(args, " "), err, stderr.String())
		t.Fatalf("giteatest: %s", strings.ReplaceAll(msg, r.server.Token, "***"))
	}
	return strings.TrimSpace(string(out))
}
