package vaulttest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServer(t *testing.T) {
	home, _ := os.UserHomeDir()
	tokenFile := filepath.Join(home, ".vault-token")
	before, beforeErr := os.Stat(tokenFile)

	s := Start(t)
	assert.True(t, strings.HasPrefix(s.Addr, "http://127.0.0.1:"))
	assert.Len(t, s.Token, len("root-")+32)

	v := s.Put(t, "a/b", map[string]any{"k": "v1"})
	assert.Equal(t, 1, v)
	assert.Equal(t, 2, s.Put(t, "a/b", map[string]any{"k": "v2"}))
	var got struct {
		Data struct {
			Data map[string]string `json:"data"`
		} `json:"data"`
	}
	s.Must(t, http.MethodGet, "secret/data/a/b?version=1", nil, &got)
	assert.Equal(t, "v1", got.Data.Data["k"])

	s.Delete(t, "a/b", 1)
	status, _ := s.Do(t, http.MethodGet, "secret/data/a/b?version=1", nil)
	assert.Equal(t, http.StatusNotFound, status)

	s.Policy(t, "none", `path "x/*" { capabilities = ["read"] }`)
	tok := s.CreateToken(t, "10m", "none")
	status, _ = s.DoToken(t, tok, http.MethodGet, "secret/data/a/b", nil)
	assert.Equal(t, http.StatusForbidden, status)

	t.Run("slow", func(t *testing.T) {
		slow := s.Slow(t, 300*time.Millisecond)
		start := time.Now()
		resp, err := http.Get(slow + "/v1/sys/health")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	})

	pid := s.proc.Pid()
	require.NoError(t, s.Stop())
	require.NoError(t, s.Stop(), "Stop twice is fine")
	assert.False(t, alive(pid), "the vault process is gone")
	_, err := net.DialTimeout("tcp", strings.TrimPrefix(s.Addr, "http://"), time.Second)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED, "a stopped server refuses connections")
	_, err = os.Stat(s.proc.Dir())
	assert.ErrorIs(t, err, os.ErrNotExist)

	after, afterErr := os.Stat(tokenFile)
	if beforeErr != nil {
		assert.ErrorIs(t, afterErr, os.ErrNotExist, "no ~/.vault-token written")
	} else {
		require.NoError(t, afterErr)
		assert.Equal(t, before.ModTime(), after.ModTime(), "~/.vault-token untouched")
	}
}

func TestLazy(t *testing.T) {
	l := NewLazy()
	a := l.Server(t)
	b := l.Server(t)
	assert.Same(t, a, b, "one server per package")
	require.NoError(t, a.Stop())
}

// TestNoOrphan starts a server in a child test binary that exits without
// stopping it, and checks that the watchdog kills the server.
func TestNoOrphan(t *testing.T) {
	if os.Getenv("VAULTTEST_CHILD") == "1" {
		s, err := StartServer()
		if err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("pid " + strconv.Itoa(s.proc.Pid()) + " " + s.proc.Dir() + "\n")
		os.Exit(0) // no Stop: the watchdog must clean up
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoOrphan$")
	cmd.Env = append(os.Environ(), "VAULTTEST_CHILD=1")
	out, err := cmd.Output()
	require.NoError(t, err)
	var pid int
	var dir string
	_, err = fmt.Sscanf(string(out), "pid %d %s", &pid, &dir)
	require.NoError(t, err, "child said %q", out)
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			t.Fatalf("vault (pid %d) outlived the test binary that started it", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the watchdog left %s", dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alive reports whether pid runs (a zombie, killed but not yet reaped by
// an init that may never reap, does not).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] != 'Z'
}
