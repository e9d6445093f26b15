package giteatest

import (
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServer starts a server of its own, uses its API and git, and stops
// it: the process is gone and its folder removed.
func TestServer(t *testing.T) {
	s, err := StartServer()
	require.NoError(t, err)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = s.Stop()
		}
	})
	assert.True(t, strings.HasPrefix(s.URL, "http://127.0.0.1:"))
	assert.Len(t, s.Token, 40)

	var me struct {
		Login   string `json:"login"`
		IsAdmin bool   `json:"is_admin"`
	}
	s.Must(t, http.MethodGet, "user", nil, &me)
	assert.Equal(t, s.User, me.Login)
	assert.True(t, me.IsAdmin)

	var version struct {
		Version string `json:"version"`
	}
	s.Must(t, http.MethodGet, "version", nil, &version)
	assert.Equal(t, "1.26.0", version.Version)

	repo := s.CreateRepo(t, "smoke")
	sha := repo.Push(t, "feature", "add a file", map[string]string{"a.txt": "a\n"})
	assert.Equal(t, sha, repo.Head(t, "feature"))
	assert.NotEmpty(t, repo.Head(t, "main"))
	assert.NotEqual(t, sha, repo.Head(t, "main"))

	repo.SetStatus(t, sha, "ci", "success")
	var combined struct {
		State string `json:"state"`
	}
	s.Must(t, http.MethodGet, "repos/"+repo.FullName+"/commits/"+sha+"/status", nil, &combined)
	assert.Equal(t, "success", combined.State)

	status, _ := s.Do(t, http.MethodGet, "repos/"+repo.FullName+"/pulls/999", nil)
	assert.Equal(t, http.StatusNotFound, status)

	pid, dir := s.proc.Pid(), s.dir
	require.NoError(t, s.Stop())
	stopped = true
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "gitea still running")
	_, err = os.Stat(dir)
	assert.ErrorIs(t, err, os.ErrNotExist, "gitea's folder left behind")
	client := http.Client{Timeout: time.Second}
	_, err = client.Get(s.URL + "/api/healthz")
	assert.Error(t, err, "gitea still answering")
}
