package promtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a running Prometheus: a plain process on a free loopback
// port, with a temporary TSDB, scraping its targets every second.
type Server struct {
	// Addr is the server's address, "http://127.0.0.1:PORT".
	Addr string

	dir      string
	log      string
	cmd      *exec.Cmd
	done     chan struct{}
	watchdog *exec.Cmd
	guard    *os.File // the watchdog's stdin; closing it kills the server

	stopOnce sync.Once
	stopErr  error
}

// Start starts a server scraping targets ("host:port") for t and stops it
// when t ends. It fails t when the server cannot be found, installed or
// started.
func Start(t testing.TB, targets ...string) *Server {
	t.Helper()
	s, err := StartServer(targets...)
	if err != nil {
		t.Fatalf("promtest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("promtest: stop: %v", err)
		}
	})
	return s
}

// StartServer starts a server scraping targets ("host:port", path
// /metrics) every second; the caller stops it. On error nothing is left
// running.
func StartServer(targets ...string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	var last error
	// A free port can be taken between choosing it and the bind; retry.
	for range 3 {
		s, err := start(bin, targets)
		if err == nil {
			return s, nil
		}
		last = err
	}
	return nil, last
}

func start(bin string, targets []string) (s *Server, err error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "converge-prometheus-")
	if err != nil {
		return nil, err
	}
	s = &Server{
		Addr: "http://127.0.0.1:" + strconv.Itoa(port),
		dir:  dir,
		log:  filepath.Join(dir, "prometheus.log"),
		done: make(chan struct{}),
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Stop())
			s = nil
		}
	}()
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, configFile(targets), 0o600); err != nil {
		return s, err
	}
	logFile, err := os.Create(s.log)
	if err != nil {
		return s, err
	}
	cmd := exec.Command(bin,
		"--config.file="+config,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port),
		"--storage.tsdb.retention.time=1h",
		"--log.level=warn")
	cmd.Env = []string{"HOME=" + dir, "PATH=/usr/bin:/bin", "TMPDIR=" + dir}
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return s, fmt.Errorf("start prometheus: %w", err)
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
	return s, s.waitReady(ctx)
}

// configFile is a configuration scraping targets every second.
func configFile(targets []string) []byte {
	var b bytes.Buffer
	b.WriteString("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n")
	b.WriteString("scrape_configs:\n  - job_name: promtest\n    scrape_interval: 1s\n    scrape_timeout: 1s\n")
	b.WriteString("    static_configs:\n      - targets: [")
	for i, t := range targets {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(t))
	}
	b.WriteString("]\n")
	return b.Bytes()
}

// arm starts the watchdog: a shell that kills the server's process group
// and removes its folder when its stdin closes, which the kernel does when
// this process dies, however it dies.
func (s *Server) arm() error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	wd := exec.Command("sh", "-c", `read _ ; kill -KILL "$1" 2>/dev/null; sleep 1; rm -rf "$2"`,
		"promtest-watchdog", "-"+strconv.Itoa(s.cmd.Process.Pid), s.dir)
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

func (s *Server) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Addr+"/-/ready", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("prometheus exited during start-up:\n%s", s.tail(20))
		case <-ctx.Done():
			return fmt.Errorf("wait for prometheus at %s: %w\n%s", s.Addr, ctx.Err(), s.tail(20))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WaitForData polls query (an instant query) until its result is not
// empty: a scalar, or a vector or matrix with a sample. Rates need two
// scrapes, so a test waits for the query it will ask.
func (s *Server) WaitForData(ctx context.Context, query string) error {
	client := &http.Client{Timeout: 5 * time.Second}
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Addr+"/api/v1/query?query="+url.QueryEscape(query), nil)
		if resp, err := client.Do(req); err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if hasData(body) {
				return nil
			}
			last = string(body)
		} else {
			last = err.Error()
		}
		select {
		case <-s.done:
			return fmt.Errorf("prometheus exited:\n%s", s.tail(20))
		case <-ctx.Done():
			return fmt.Errorf("wait for data from %q: %w (last answer: %.300s)", query, ctx.Err(), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Wait is WaitForData for a test: it fails t after a minute.
func (s *Server) Wait(t testing.TB, query string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.WaitForData(ctx, query); err != nil {
		t.Fatalf("promtest: %v", err)
	}
}

func hasData(body []byte) bool {
	var r struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &r) != nil || r.Status != "success" {
		return false
	}
	if r.Data.ResultType == "scalar" {
		return true
	}
	var series []json.RawMessage
	return json.Unmarshal(r.Data.Result, &series) == nil && len(series) > 0
}

// Stop stops the server (SIGTERM, then SIGKILL after 10 seconds) and
// removes its files. Its address then refuses connections: this is how a
// test sees "Prometheus down". Stop is safe to call more than once.
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
		return fmt.Errorf("prometheus (pid %d) did not exit after SIGKILL", s.cmd.Process.Pid)
	}
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Log returns the server's log so far, for a failing test to print.
func (s *Server) Log() string {
	data, _ := os.ReadFile(s.log)
	return string(data)
}

func (s *Server) tail(lines int) string { return tail([]byte(s.Log()), lines) }

func tail(out []byte, lines int) string {
	all := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
