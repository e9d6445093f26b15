package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is a control-plane part converge starts itself (envtest starts
// etcd and the API server).
type process struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

func startProcess(path string, args []string, logPath string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group, so stop (and the watchdog) reach any children.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", filepath.Base(path), err)
	}
	p := &process{name: filepath.Base(path), log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the process group to end and kills it after a grace period.
func (p *process) stop() error {
	if p.exited() {
		return nil
	}
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

// watchdog is a shell that kills the plane's process groups when its stdin
// closes: when Stop disarms it, it is killed first; when the test binary
// dies any other way, the kernel closes the pipe and the shell does the
// cleanup Stop would have done.
type watchdog struct {
	cmd   *exec.Cmd
	stdin *os.File
}

// guard replaces the watchdog with one that covers every current child
// process group of this process.
func (e *Env) guard() error {
	pids, err := childPIDs()
	if err != nil {
		return err
	}
	e.watchdog.disarm()
	var groups []string
	for _, pid := range pids {
		groups = append(groups, "-"+strconv.Itoa(pid))
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd := exec.Command("sh", "-c", `read _ ; kill -KILL "$@" 2>/dev/null`, "watchdog")
	cmd.Args = append(cmd.Args, groups...)
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return fmt.Errorf("start watchdog: %w", err)
	}
	r.Close()
	e.watchdog = &watchdog{cmd: cmd, stdin: w}
	return nil
}

func (w *watchdog) disarm() {
	if w == nil {
		return
	}
	_ = w.cmd.Process.Kill()
	_ = w.cmd.Wait()
	w.stdin.Close()
}

// childPIDs lists the process groups led by direct children of this
// process: envtest and startProcess both start their children in their own
// group. Watchdogs and short-lived helpers are not group leaders of
// interest, but killing an exited group is harmless.
func childPIDs() ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// Fields after the command name, which may hold spaces and ')'.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 3 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		pgid, _ := strconv.Atoi(f[2])
		if ppid == self && pgid == pid && !isWatchdog(pid) {
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		return nil, errors.New("no control-plane process found to guard")
	}
	return pids, nil
}

func isWatchdog(pid int) bool {
	cmdline, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	return strings.Contains(string(cmdline), "watchdog")
}
