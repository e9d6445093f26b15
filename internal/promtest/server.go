package promtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/converge-dev/converge/internal/daemon"
)

// Server is a running Prometheus: a plain process on a free loopback
// port, with a temporary TSDB, scraping its targets every second.
type Server struct {
	// Addr is the server's address, "http://127.0.0.1:PORT".
	Addr string

	proc *daemon.Process
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

func start(bin string, targets []string) (*Server, error) {
	port, err := daemon.FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "converge-prometheus-")
	if err != nil {
		return nil, err
	}
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, configFile(targets), 0o600); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	cmd := exec.Command(bin,
		"--config.file="+config,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port),
		"--storage.tsdb.retention.time=1h",
		"--log.level=warn")
	cmd.Env = []string{"HOME=" + dir, "PATH=/usr/bin:/bin", "TMPDIR=" + dir}
	cmd.Dir = dir
	proc, err := daemon.Start("prometheus", dir, cmd)
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	s := &Server{Addr: "http://127.0.0.1:" + strconv.Itoa(port), proc: proc}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := proc.WaitHTTP(ctx, s.Addr+"/-/ready"); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
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
		case <-s.proc.Done():
			return fmt.Errorf("prometheus exited:\n%s", s.proc.Tail(20))
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
func (s *Server) Stop() error { return s.proc.Stop() }

// Pid is the server's process id.
func (s *Server) Pid() int { return s.proc.Pid() }

// Log returns the server's log so far, for a failing test to print.
func (s *Server) Log() string { return s.proc.Log() }
