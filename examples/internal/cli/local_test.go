package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLocalStartsAPlaneForOneCommandAndLeavesNoProcessBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second control plane")
	}
	r := converge(t, "plan", "--local", "--repo", filepath.Join("..", "..", "gitops-deploy"), "--path", "clusters/dev")
	require.Equal(t, ExitOK, r.code)
	assert.Contains(t, r.stderr, "converge: --local: starting a local control plane")
	assert.Contains(t, r.stderr, "converge: --local: control plane stopped")
	assert.Contains(t, r.stdout, "Plan: 16 to create, 0 to update, 0 to prune, 0 unchanged.")

	m := regexp.MustCompile(`kubeconfig (\S+)/kubeconfig\)`).FindStringSubmatch(r.stderr)
	require.NotNil(t, m, "stderr names the plane's kubeconfig")
	dir := m[1]
	_, err := os.Stat(dir)
	assert.True(t, os.IsNotExist(err), "the plane's folder %s is removed", dir)
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	require.NoError(t, err)
	for _, p := range procs {
		cmdline, err := os.ReadFile(p)
		if err != nil {
			continue // exited meanwhile
		}
		assert.NotContains(t, strings.ReplaceAll(string(cmdline), "\x00", " "), dir, "%s still runs with the plane's folder", p)
	}
}
