package operator

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

// chromium returns Debian's headless Chromium, failing the test when it
// is not installed (the README's setup installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("headless Chromium is not installed: apt-get install -y chromium")
	return ""
}

// render loads url in headless Chromium and returns the DOM it built.
func render(t *testing.T, browser, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--user-data-dir="+t.TempDir(), "--virtual-time-budget=2000", "--dump-dom", url)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "chromium: %s", stderr.String())
	return string(out)
}

// TestDashboardInChromium: the operator's page, loaded by a real browser,
// lists the Applications with their sync and health, shows a degraded
// one as Degraded with its resource tree, and never a Secret's value.
func TestDashboardInChromium(t *testing.T) {
	browser := chromium(t)
	f := newFixture(t)
	degraded := strings.Replace(deploymentYAML("stuck", false), "  replicas: 1\n", "  replicas: 1\n  progressDeadlineSeconds: 1\n", 1)
	head := f.repo.Commit(t, "a healthy app and a degraded one", map[string]string{
		"good/cm.yaml":     configMapYAML("page-config", map[string]string{"k": "v"}),
		"good/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: page-secret\nstringData:\n  password: hunter2-never-shown\n",
		"bad/deploy.yaml":  degraded,
	})
	f.application("good", "good")
	f.application("bad", "bad")
	f.eventually("good", "ready and healthy", func(a *v1alpha1.Application) bool {
		return readyAt(head)(a) && a.Status.Health == "Healthy"
	})
	f.eventually("bad", "degraded", func(a *v1alpha1.Application) bool { return a.Status.Health == "Degraded" })

	base := "http://" + running.dashboard
	list := render(t, browser, base+"/")
	assert.Contains(t, list, "<h1>Applications</h1>")
	assert.Contains(t, list, `data-name="`+f.ns+`/good" data-health="Healthy"`)
	assert.Contains(t, list, `data-name="`+f.ns+`/bad" data-health="Degraded"`)
	assert.Contains(t, list, head[:12])

	bad := render(t, browser, base+"/applications/"+f.ns+"/bad")
	assert.Contains(t, bad, "Deployment.apps/stuck: ")
	assert.Contains(t, bad, `<li class="object" data-health="Degraded">`)
	good := render(t, browser, base+"/applications/"+f.ns+"/good")
	assert.Contains(t, good, "ConfigMap/page-config: ")
	assert.Contains(t, good, "Secret/page-secret: ")
	assert.NotContains(t, good+bad+list, "hunter2-never-shown", "no Secret value on any page")

	// Read-only: nothing but GET and HEAD.
	resp, err := http.Post(base+"/", "text/plain", strings.NewReader("x"))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	resp, err = http.Get(base + "/applications/" + f.ns + "/none")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}
