package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// controllerProc is a controller run as its own process against the
// control plane, as it runs in a cluster: converge's operator and Flux's
// controllers alike, so that their memory and API requests are each
// process's own.
type controllerProc struct {
	name    string
	cmd     *exec.Cmd
	log     string // its stdout and stderr
	metrics string // address of its Prometheus endpoint
	done    chan error
}

// startProc starts bin with args and env, logging into dir, and waits
// until its metrics endpoint answers (controller-runtime serves it once
// the manager runs).
func startProc(ctx context.Context, dir, name, bin, metrics string, args, env []string) (*controllerProc, error) {
	p := &controllerProc{name: name, log: filepath.Join(dir, name+".log"), metrics: metrics, done: make(chan error, 1)}
	logFile, err := os.Create(p.log)
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.done <- p.cmd.Wait(); logFile.Close() }()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := p.scrape(ctx); err == nil {
			return p, nil
		}
		select {
		case err := <-p.done:
			p.done <- err
			return nil, fmt.Errorf("%s exited at start (%v):\n%s", name, err, tailFile(p.log, 20))
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s: metrics at %s did not answer within 2m:\n%s", name, metrics, tailFile(p.log, 20))
		}
	}
}

// stop ends the process as the kubelet does: SIGTERM, then SIGKILL.
func (p *controllerProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// alive returns an error with the log's tail when the process has exited.
func (p *controllerProc) alive() error {
	select {
	case err := <-p.done:
		p.done <- err
		return fmt.Errorf("%s exited (%v):\n%s", p.name, err, tailFile(p.log, 20))
	default:
		return nil
	}
}

// memory returns the process's resident set now and at its peak, from
// /proc (VmRSS, VmHWM).
func (p *controllerProc) memory() (now, peak uint64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %q: %w", f.Name(), sc.Text(), err)
		}
		if k == "VmRSS" {
			now = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return now, peak, sc.Err()
}

// scrape reads the process's metrics in Prometheus' text format.
func (p *controllerProc) scrape(ctx context.Context) (metricSet, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.metrics+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: /metrics: %s", p.name, resp.Status)
	}
	return parseMetrics(resp.Body)
}

// metricSet holds the samples of one scrape: "name{labels}" → value.
type metricSet map[string]float64

func parseMetrics(r io.Reader) (metricSet, error) {
	m := metricSet{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue // a timestamp or NaN; none of the counters read here
		}
		m[line[:i]] = v
	}
	return m, sc.Err()
}

// sum adds the samples of metric name whose labels hold every one of
// want (each `key="value"`).
func (m metricSet) sum(name string, want ...string) float64 {
	total := 0.0
	for k, v := range m {
		series, labels, _ := strings.Cut(k, "{")
		if series != name {
			continue
		}
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(labels, w)
		}
		if ok {
			total += v
		}
	}
	return total
}

// apiRequests is what client-go counted in a process: every request, and
// the writes among them.
type apiRequests struct{ all, writes float64 }

func (m metricSet) apiRequests() apiRequests {
	var r apiRequests
	r.all = m.sum("rest_client_requests_total")
	for _, verb := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		r.writes += m.sum("rest_client_requests_total", `method="`+verb+`"`)
	}
	return r
}

func (r apiRequests) sub(earlier apiRequests) apiRequests {
	return apiRequests{all: r.all - earlier.all, writes: r.writes - earlier.writes}
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func tailFile(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// repoRootDir is the converge checkout bench runs from (bench/..).
func repoRootDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "hack", "flux", "build.sh")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("bench runs inside a converge checkout (hack/flux/build.sh not found above " + wd + ")")
		}
	}
}

// cpu returns the CPU time the process has used, user and system, from
// /proc/<pid>/stat.
func (p *controllerProc) cpu() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, may hold spaces; the fields after its
	// closing parenthesis start with field 3 (state).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", p.cmd.Process.Pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", p.cmd.Process.Pid, len(fields))
	}
	var ticks uint64
	for _, f := range fields[11:13] { // utime, stime: fields 14 and 15
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", p.cmd.Process.Pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux
// architecture Go runs on.
const clockTicks = 100

func procsCPU(procs []*controllerProc) (time.Duration, error) {
	var total time.Duration
	for _, p := range procs {
		d, err := p.cpu()
		if err != nil {
			return 0, err
		}
		total += d
	}
	return total, nil
}
