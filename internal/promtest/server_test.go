package promtest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/promtest"
)

var prom = promtest.NewLazy()

func TestMain(m *testing.M) { prom.Main(m) }

func query(t *testing.T, addr, q string) []float64 {
	t.Helper()
	resp, err := http.Get(addr + "/api/v1/query?query=" + url.QueryEscape(q))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var r struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &r), string(body))
	var out []float64
	for _, s := range r.Data.Result {
		f, err := strconv.ParseFloat(s.Value[1].(string), 64)
		require.NoError(t, err)
		out = append(out, f)
	}
	return out
}

func TestTargetRatesAndQuantile(t *testing.T) {
	server, target := prom.Start(t)
	target.Set("promtest-a", promtest.Traffic{RPS: 50, ErrorRatio: 0.2, LatencyMs: 300})
	ratio := `sum(rate(http_requests_total{service="promtest-a",status=~"2.."}[1m])) / sum(rate(http_requests_total{service="promtest-a"}[1m]))`
	server.Wait(t, ratio)
	got := query(t, server.Addr, ratio)
	require.Len(t, got, 1)
	assert.InDelta(t, 0.8, got[0], 1e-9)
	p99 := `histogram_quantile(0.99, sum(rate(http_request_duration_ms_bucket{service="promtest-a"}[1m])) by (le))`
	got = query(t, server.Addr, p99)
	require.Len(t, got, 1)
	assert.InDelta(t, 250+250*0.99, got[0], 1e-6) // inside (250, 500]
}

func TestStopRefusesConnections(t *testing.T) {
	s := promtest.Start(t)
	require.NoError(t, s.Stop())
	require.NoError(t, s.Stop(), "Stop is idempotent")
	_, err := http.Get(s.Addr + "/-/ready")
	require.Error(t, err)
}

// TestNoOrphanAfterCrash starts a server in a child test binary that then
// dies by SIGKILL, and checks that the watchdog killed the server.
func TestNoOrphanAfterCrash(t *testing.T) {
	if os.Getenv("PROMTEST_CRASH_CHILD") == "1" {
		s, err := promtest.StartServer()
		if err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("PID " + strconv.Itoa(s.Pid()) + "\n")
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	if _, err := promtest.Binary(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoOrphanAfterCrash$")
	cmd.Env = append(os.Environ(), "PROMTEST_CRASH_CHILD=1")
	out, _ := cmd.Output()
	var pid int
	for _, line := range strings.Split(string(out), "\n") {
		if p, ok := strings.CutPrefix(line, "PID "); ok {
			pid, _ = strconv.Atoi(p)
		}
	}
	require.NotZero(t, pid, "child output: %s", out)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for alive(pid) {
		select {
		case <-ctx.Done():
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("prometheus pid %d outlived its test binary", pid)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// alive reports whether pid runs (a zombie does not count).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i > 0 && !strings.HasPrefix(strings.TrimSpace(string(stat[i+1:])), "Z")
}
