package vaulttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/converge-dev/converge/internal/daemon"
)

// Server is a running Vault dev server: in memory, unsealed, with KV v2
// mounted at "secret/".
type Server struct {
	// Addr is the server's address, "http://127.0.0.1:PORT".
	Addr string
	// Token is the root token.
	Token string

	proc *daemon.Process
}

// Start starts a server for t and stops it when t ends. It fails t when
// the server cannot be built or started.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := StartServer()
	if err != nil {
		t.Fatalf("vaulttest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("vaulttest: stop: %v", err)
		}
	})
	return s
}

// StartServer starts a server; the caller stops it. On error nothing is
// left running.
func StartServer() (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	var last error
	// A free port can be taken between choosing it and vault binding it;
	// try a few.
	for range 3 {
		s, err := start(bin)
		if err == nil {
			return s, nil
		}
		last = err
	}
	return nil, last
}

func start(bin string) (*Server, error) {
	port, err := daemon.FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "converge-vault-")
	if err != nil {
		return nil, err
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	s := &Server{Addr: "http://127.0.0.1:" + strconv.Itoa(port), Token: randomToken()}
	cmd := exec.Command(bin, "server", "-dev",
		"-dev-root-token-id="+s.Token,
		"-dev-listen-address=127.0.0.1:"+strconv.Itoa(port),
		"-dev-no-store-token",
		"-log-level=warn")
	// A clean environment: no VAULT_* of the developer's shell, and a HOME
	// of its own, so nothing is written to the real ~/.vault-token.
	cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin", "TMPDIR=" + dir}
	cmd.Dir = dir
	if s.proc, err = daemon.Start("vault", dir, cmd); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.proc.WaitHTTP(ctx, s.Addr+"/v1/sys/health"); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

// Stop stops the server (SIGTERM, then SIGKILL after 10 seconds) and
// removes its files. Its address then refuses connections: this is how a
// test sees "Vault down". Stop is safe to call more than once.
func (s *Server) Stop() error { return s.proc.Stop() }

// Log returns the server's log so far, for a failing test to print.
func (s *Server) Log() string { return s.proc.Log() }

func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "root-" + hex.EncodeToString(b)
}

// Lazy is a server started by the first test that needs it and shared by
// the package's tests, so that pure tests run without one. Call Main from
// TestMain.
type Lazy struct {
	once   sync.Once
	server *Server
	err    error
}

// NewLazy returns a server that starts on first use.
func NewLazy() *Lazy { return &Lazy{} }

// Server starts the server if needed and returns it, failing t when it
// cannot be built or started. Tests must not Stop it; a test that needs a
// server to break starts its own with [Start].
func (l *Lazy) Server(t testing.TB) *Server {
	t.Helper()
	l.once.Do(func() {
		start := time.Now()
		l.server, l.err = StartServer()
		if l.err == nil {
			fmt.Fprintf(os.Stderr, "vaulttest: vault up in %s\n", time.Since(start).Round(100*time.Millisecond))
		}
	})
	if l.err != nil {
		t.Fatalf("vaulttest: %v", l.err)
	}
	return l.server
}

// Main runs the package's tests, stops the server if a test started it,
// and exits.
func (l *Lazy) Main(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if l.server != nil {
		if err := l.server.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "vaulttest: stop: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}
