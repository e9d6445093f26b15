package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/examples/internal/quiet"
	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/internal/peers"
	"github.com/converge-dev/converge/internal/testenv"
)

var plane = testenv.NewLazy(testenv.Options{Mode: testenv.Bare})

func TestMain(m *testing.M) {
	quiet.Loggers()
	plane.Main(m)
}

func TestFlags(t *testing.T) {
	cases := map[string]struct {
		args []string
		want string
	}{
		"no workers":       {[]string{"--concurrency", "0"}, "--concurrency must be at least 1"},
		"no interval":      {[]string{"--default-interval", "0s"}, "--default-interval must be positive"},
		"no shards":        {[]string{"--shards", "0"}, "--shards must be at least 1"},
		"no qps":           {[]string{"--kube-api-qps", "0"}, "--kube-api-qps and --kube-api-burst must be positive"},
		"no burst":         {[]string{"--kube-api-burst", "-1"}, "--kube-api-qps and --kube-api-burst must be positive"},
		"an argument":      {[]string{"extra"}, "unexpected arguments"},
		"unknown flag":     {[]string{"--nope"}, "flag provided but not defined"},
		"missing kubeconf": {[]string{"--kubeconfig", "/nonexistent/kubeconfig"}, "kubeconfig /nonexistent/kubeconfig"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := run(context.Background(), tc.args)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestRun runs the command as a user does, on a bare plane: it installs
// the CRD (--install-crd), serves metrics on --metrics-bind-address, and
// reconciles an Application applied with the real kubectl until kubectl
// wait sees it Ready; it returns nil when its context ends.
func TestRun(t *testing.T) {
	env := plane.Env(t)
	repo := gittest.NewServer(t).NewRepo(t, "deploy")
	repo.Commit(t, "first", map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hello}\ndata: {a: b}\n"})
	ns := env.Namespace(t)

	metrics := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--kubeconfig", env.Kubeconfig, "--metrics-bind-address", metrics,
			"--health-probe-bind-address", "0", "--default-interval", "1m", "--concurrency", "2", "--install-crd", "--zap-log-level", "error"})
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "run returns nil when its context ends")
		case <-time.After(30 * time.Second):
			t.Error("run did not return within 30s of its context ending")
		}
	}()

	kubectl, err := peers.CLI("kubectl")
	require.NoError(t, err)
	manifest := "apiVersion: converge.dev/v1alpha1\nkind: Application\nmetadata: {name: hello}\nspec:\n  source: {repoURL: " + repo.URL + ", path: app}\n"
	// The CRD is installed by the operator as it starts: retry until it is.
	deadline := time.Now().Add(60 * time.Second)
	for {
		cmd := exec.Command(kubectl, "--kubeconfig", env.Kubeconfig, "-n", ns, "apply", "-f", "-")
		cmd.Stdin = strings.NewReader(manifest)
		out, err := cmd.CombinedOutput()
		if err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "kubectl apply: %s", out)
		time.Sleep(500 * time.Millisecond)
	}
	out, err := exec.Command(kubectl, "--kubeconfig", env.Kubeconfig, "-n", ns, "wait", "--for=condition=Ready", "application/hello", "--timeout=60s").CombinedOutput()
	require.NoError(t, err, "kubectl wait: %s", out)
	out, err = exec.Command(kubectl, "--kubeconfig", env.Kubeconfig, "-n", ns, "get", "configmap", "hello", "-o", "jsonpath={.data.a}").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "b", string(out))

	resp, err := http.Get("http://" + metrics + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.NoError(t, err)
	assert.Contains(t, string(body), `controller_runtime_reconcile_total{controller="application"`)
	assert.Contains(t, string(body), `controller_runtime_max_concurrent_reconciles{controller="application"} 2`, "--concurrency is MaxConcurrentReconciles")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}
