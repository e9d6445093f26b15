package vaulttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a running Vault dev server: in memory, unsealed, with KV v2
// mounted at "secret/".
type Server struct {
	// Addr is the server's address, "http://127.0.0.1:PORT".
	Addr string
	// Token is the root token.
	Token string

	dir      string // HOME, log
	log      string
	cmd      *exec.Cmd
	done     chan struct{}
	watchdog *exec.Cmd
	guard    *os.File // the watchdog's stdin; closing it kills the server

	stopOnce sync.Once
	stopErr  error
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

func start(bin string) (s *Server, err error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "converge-vault-")
	if err != nil {
		return nil, err
	}
	s = &Server{
		Addr:  "http://127.0.0.1:" + strconv.Itoa(port),
		Token: randomToken(),
		dir:   dir,
		log:   filepath.Join(dir, "vault.log"),
		done:  make(chan struct{}),
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Stop())
			s = nil
		}
	}()
	logFile, err := os.Create(s.log)
	if err != nil {
		return s, err
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		logFile.Close()
		return s, err
	}
	cmd := exec.Command(bin, "server", "-dev",
		"-dev-root-token-id="+s.Token,
		"-dev-listen-address=127.0.0.1:"+strconv.Itoa(port),
		"-dev-no-store-token",
		"-log-level=warn")
	// A clean environment: no VAULT_* of the developer's shell, and a HOME
	// of its own, so nothing is written to the real ~/.vault-token.
	cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin", "TMPDIR=" + dir}
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return s, fmt.Errorf("start vault: %w", err)
	}
	s.cmd = cmd
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	if err := s.arm(); err != nil {
		return s, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return s, s.waitHealthy(ctx)
}

// arm starts the watchdog: a shell that kills the server's process group
// and removes its folder when its stdin closes, which the kernel does when
// this process dies.
func (s *Server) arm() error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	wd := exec.Command("sh", "-c", `read _ ; kill -KILL "$1" 2>/dev/null; sleep 1; rm -rf "$2"`,
		"vaulttest-watchdog", "-"+strconv.Itoa(s.cmd.Process.Pid), s.dir)
	wd.Stdin = r
	wd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := wd.Start(); err != nil {
		r.Close()
		w.Close()
		return fmt.Errorf("start watchdog: %w", err)
	}
	r.Close()
	s.watchdog, s.guard = wd, w
	return nil
}

func (s *Server) waitHealthy(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Addr+"/v1/sys/health", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("vault exited during start-up:\n%s", s.tail(20))
		case <-ctx.Done():
			return fmt.Errorf("wait for vault at %s: %w\n%s", s.Addr, ctx.Err(), s.tail(20))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop stops the server (SIGTERM, then SIGKILL after 10 seconds) and
// removes its files. Its address then refuses connections: this is how a
// test sees "Vault down". Stop is safe to call more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		var errs []error
		if s.cmd != nil {
			errs = append(errs, s.stopProcess())
		}
		if s.watchdog != nil {
			_ = s.watchdog.Process.Kill()
			_ = s.watchdog.Wait()
			s.guard.Close()
		}
		errs = append(errs, os.RemoveAll(s.dir))
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

func (s *Server) stopProcess() error {
	pgid := -s.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-s.done:
		return nil
	case <-time.After(10 * time.Second):
	}
	_ = syscall.Kill(pgid, syscall.SIGKILL)
	select {
	case <-s.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("vault (pid %d) did not exit after SIGKILL", s.cmd.Process.Pid)
	}
}

// Log returns the server's log so far, for a failing test to print.
func (s *Server) Log() string {
	data, _ := os.ReadFile(s.log)
	return string(data)
}

func (s *Server) tail(lines int) string {
	all := bytes.Split(bytes.TrimSpace([]byte(s.Log())), []byte("\n"))
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return string(bytes.Join(all, []byte("\n")))
}

func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func freePort() (int, error) {
	l, err := listenLoopback()
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

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
