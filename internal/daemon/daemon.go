// Package daemon runs the servers tests start beside the control plane
// (Prometheus, Vault): a process in its own process group, logging to a
// file in a folder of its own, guarded by a watchdog that kills it and
// removes the folder when the test binary dies, however it dies.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a running server.
type Process struct {
	name     string
	dir      string
	log      string
	cmd      *exec.Cmd
	done     chan struct{}
	watchdog *exec.Cmd
	guard    *os.File // the watchdog's stdin; closing it kills the server

	stopOnce sync.Once
	stopErr  error
}

// Start starts cmd as name, with its output in dir/name.log, and arms its
// watchdog. dir is the process's own: Stop removes it. On error nothing
// is left running, but dir is the caller's to remove.
func Start(name, dir string, cmd *exec.Cmd) (*Process, error) {
	p := &Process{name: name, dir: dir, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	logFile, err := os.Create(p.log)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p.cmd = cmd
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	if err := p.arm(); err != nil {
		return nil, errors.Join(err, p.Stop())
	}
	return p, nil
}

// arm starts the watchdog: a shell that kills the server's process group
// and removes its folder when its stdin closes, which the kernel does when
// this process dies.
func (p *Process) arm() error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	wd := exec.Command("sh", "-c", `read _ ; kill -KILL "$1" 2>/dev/null; sleep 1; rm -rf "$2"`,
		p.name+"-watchdog", "-"+strconv.Itoa(p.cmd.Process.Pid), p.dir)
	wd.Stdin = r
	wd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := wd.Start(); err != nil {
		r.Close()
		w.Close()
		return fmt.Errorf("start watchdog: %w", err)
	}
	r.Close()
	p.watchdog, p.guard = wd, w
	return nil
}

// WaitHTTP polls url until it answers 200, failing when the process exits
// or ctx ends, with the log's last lines.
func (p *Process) WaitHTTP(ctx context.Context, url string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited during start-up:\n%s", p.name, p.Tail(20))
		case <-ctx.Done():
			return fmt.Errorf("wait for %s at %s: %w\n%s", p.name, url, ctx.Err(), p.Tail(20))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop stops the process group (SIGTERM, then SIGKILL after 10 seconds)
// and removes its folder. It is safe to call more than once.
func (p *Process) Stop() error {
	p.stopOnce.Do(func() {
		var errs []error
		if p.cmd != nil {
			errs = append(errs, p.stopProcess())
		}
		if p.watchdog != nil {
			_ = p.watchdog.Process.Kill()
			_ = p.watchdog.Wait()
			p.guard.Close()
		}
		errs = append(errs, os.RemoveAll(p.dir))
		p.stopErr = errors.Join(errs...)
	})
	return p.stopErr
}

func (p *Process) stopProcess() error {
	pgid := -p.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
	}
	_ = syscall.Kill(pgid, syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Dir is the process's folder.
func (p *Process) Dir() string { return p.dir }

// Log returns the process's output so far.
func (p *Process) Log() string {
	data, _ := os.ReadFile(p.log)
	return string(data)
}

// Tail returns the last lines of the log.
func (p *Process) Tail(lines int) string { return Tail([]byte(p.Log()), lines) }

// Tail returns the last lines of out.
func Tail(out []byte, lines int) string {
	all := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// FreePort returns a loopback port that was free a moment ago; callers
// retry when another process takes it first.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }
