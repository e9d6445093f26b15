package gittest

import (
	"crypto/subtle"
	"encoding/pem"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// Server is a smart-HTTP Git server over repositories in a temporary folder.
type Server struct {
	// URL is the server's base URL, without a trailing slash.
	URL string
	// Root holds the bare repositories, named NAME.git.
	Root string

	// CertPEM is the PEM certificate clients must trust when the server
	// runs WithTLS; empty otherwise.
	CertPEM []byte

	requests atomic.Int64
	http     *httptest.Server
}

// ServerOption configures [NewServer].
type ServerOption func(*serverConfig)

type serverConfig struct {
	user, password string
	wrap           func(http.Handler) http.Handler
	tls            bool
}

// WithTLS serves HTTPS with a certificate from a test CA; the server's
// CertPEM trusts it.
func WithTLS() ServerOption {
	return func(c *serverConfig) { c.tls = true }
}

// WithBasicAuth makes the server require HTTP basic auth.
func WithBasicAuth(user, password string) ServerOption {
	return func(c *serverConfig) { c.user, c.password = user, password }
}

// WithMiddleware wraps the Git handler, for tests that stall, redirect or
// corrupt responses.
func WithMiddleware(wrap func(http.Handler) http.Handler) ServerOption {
	return func(c *serverConfig) { c.wrap = wrap }
}

// NewServer starts a server that stops when the test ends.
func NewServer(t testing.TB, opts ...ServerOption) *Server {
	t.Helper()
	var cfg serverConfig
	for _, o := range opts {
		o(&cfg)
	}
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("gittest needs the git CLI: %v", err)
	}
	s := &Server{Root: t.TempDir()}
	var h http.Handler = &cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		Env: []string{
			"GIT_PROJECT_ROOT=" + s.Root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"HOME=" + s.Root,
		},
	}
	if cfg.user != "" {
		h = basicAuth(h, cfg.user, cfg.password)
	}
	if cfg.wrap != nil {
		h = cfg.wrap(h)
	}
	counted := h
	s.http = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		counted.ServeHTTP(w, r)
	}))
	if cfg.tls {
		s.http.StartTLS()
		s.CertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.http.Certificate().Raw})
	} else {
		s.http.Start()
	}
	s.URL = s.http.URL
	t.Cleanup(s.http.Close)
	return s
}

// Requests returns the number of HTTP requests the server has received.
func (s *Server) Requests() int64 { return s.requests.Load() }

func basicAuth(next http.Handler, user, password string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="gittest"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// NewRepo creates an empty bare repository NAME.git that accepts pushes,
// with a work tree to commit from.
func (s *Server) NewRepo(t testing.TB, name string) *Repo {
	t.Helper()
	bare := filepath.Join(s.Root, name+".git")
	r := &Repo{URL: s.URL + "/" + name + ".git", Bare: bare, Work: t.TempDir()}
	run(t, "", "init", "--quiet", "--bare", "--initial-branch=main", bare)
	run(t, bare, "config", "http.receivepack", "true")
	run(t, r.Work, "init", "--quiet", "--initial-branch=main")
	run(t, r.Work, "remote", "add", "origin", bare)
	return r
}

// gitEnv isolates git from the machine's and user's configuration and fixes
// identities and dates, so hashes are reproducible.
func gitEnv(home string) []string {
	return append(os.Environ(),
		"HOME="+home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=converge test",
		"GIT_AUTHOR_EMAIL=test@converge.dev",
		"GIT_COMMITTER_NAME=converge test",
		"GIT_COMMITTER_EMAIL=test@converge.dev",
		"GIT_AUTHOR_DATE=2026-01-01T00:00:00Z",
		"GIT_COMMITTER_DATE=2026-01-01T00:00:00Z",
	)
}

// run runs git in dir and returns its trimmed stdout, failing the test on
// error.
func run(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := Git(dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runEnv is run with extra environment variables.
func runEnv(t testing.TB, dir string, env []string, args ...string) string {
	t.Helper()
	out, err := gitWithEnv(dir, env, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
