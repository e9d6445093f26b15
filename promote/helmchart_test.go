package promote_test

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/peers"
	"github.com/converge-dev/converge/promote"
)

// helmRepository packages a chart at versions with the real helm CLI and
// indexes them with `helm repo index`, and serves the folder behind
// basic auth.
func helmRepository(t *testing.T, versions ...string) string {
	t.Helper()
	helm, err := peers.CLI("helm")
	require.NoError(t, err)
	dir := t.TempDir()
	for _, v := range versions {
		chart := filepath.Join(t.TempDir(), "web")
		require.NoError(t, os.MkdirAll(filepath.Join(chart, "templates"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(chart, "Chart.yaml"), []byte("apiVersion: v2\nname: web\nversion: "+v+"\ndescription: \"a *chart* with: odd text\"\n"), 0o644))
		out, err := exec.Command(helm, "package", chart, "--destination", dir).CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	out, err := exec.Command(helm, "repo", "index", dir, "--url", "https://charts.example/").CombinedOutput()
	require.NoError(t, err, "%s", out)
	files := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "charts" || p != "helm-s3cret" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestHelmChartHTTPRepository(t *testing.T) {
	ctx := context.Background()
	url := helmRepository(t, "1.0.0", "1.1.0", "2.0.0-beta.1")
	src, err := promote.NewHelmChart(url, "web", promote.HelmChartOptions{Username: "charts", Password: "helm-s3cret"})
	require.NoError(t, err)
	versions, err := src.Tags(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"1.0.0", "1.1.0", "2.0.0-beta.1"}, versions)
	v, err := promote.Policy{Kind: promote.SemVer, Range: "^1"}.Latest(versions)
	require.NoError(t, err)
	assert.Equal(t, "1.1.0", v)
	d, err := src.Digest(ctx, "1.1.0")
	require.NoError(t, err)
	assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, d, "helm repo index records each package's digest")

	other, err := promote.NewHelmChart(url, "api", promote.HelmChartOptions{Username: "charts", Password: "helm-s3cret"})
	require.NoError(t, err)
	_, err = other.Tags(ctx)
	assert.ErrorIs(t, err, promote.ErrImageNotFound)
	assert.ErrorContains(t, err, `no chart "api" in its index (1 charts)`)

	wrong, err := promote.NewHelmChart(url, "web", promote.HelmChartOptions{Username: "charts", Password: "not-it-42"})
	require.NoError(t, err)
	_, err = wrong.Tags(ctx)
	require.ErrorIs(t, err, promote.ErrUnauthorized)
	assert.NotContains(t, err.Error(), "not-it-42")
}

// TestHelmChartBadIndexes: an HTML page, a truncated or an oversized
// index, odd versions and server errors are clear errors, never a crash.
func TestHelmChartBadIndexes(t *testing.T) {
	ctx := context.Background()
	serve := func(status int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	for name, c := range map[string]struct {
		status int
		body   string
		want   error
	}{
		"html":      {200, "<!doctype html><html><body>login</body></html>", promote.ErrBadResponse},
		"truncated": {200, "apiVersion: v1\nentries:\n  web:\n  - version: 1.0.0\n    digest: [", promote.ErrBadResponse},
		"not index": {200, "apiVersion: v2\nkind: Chart\n", promote.ErrBadResponse},
		"oversized": {200, "apiVersion: v1\nentries: {}\n" + strings.Repeat("# padding\n", 200), promote.ErrBadResponse},
		"404":       {404, "", promote.ErrImageNotFound},
		"500":       {500, "oops", promote.ErrBadResponse},
	} {
		t.Run(name, func(t *testing.T) {
			src, err := promote.NewHelmChart(serve(c.status, c.body), "web", promote.HelmChartOptions{MaxIndexSize: 1000})
			require.NoError(t, err)
			_, err = src.Tags(ctx)
			assert.ErrorIs(t, err, c.want)
		})
	}
	odd := serve(200, "apiVersion: v1\nentries:\n  web:\n  - version: \"1.0.0\\nevil: true\"\n  - version: \"1.1.0'\"\n  - version: "+strings.Repeat("9", 10240)+"\n  - version: 1.2.0\n")
	src, err := promote.NewHelmChart(odd, "web", promote.HelmChartOptions{})
	require.NoError(t, err)
	versions, err := src.Tags(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"1.2.0"}, versions, "a newline, a quote and 10 KB are not versions")

	for _, c := range [][2]string{{"https://charts.example", "../web"}, {"https://charts.example", ""}, {"ftp://x", "web"}, {"https://u:p4ss@x", "web"}, {"oci://UPPER/Case", "web"}} {
		_, err := promote.NewHelmChart(c[0], c[1], promote.HelmChartOptions{})
		require.Error(t, err, c)
		assert.NotContains(t, err.Error(), "p4ss")
	}
}

// TestHelmChartOCI reads an OCI chart repository's tags from a real
// (in-process) registry, with Helm's "_" for "+" turned back.
func TestHelmChartOCI(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tag := range []string{"1.2.3", "1.2.4_build.7", "0.9.0"} {
		img, err := random.Image(64, 1)
		require.NoError(t, err)
		ref, err := name.NewTag(host+"/charts/web:"+tag, name.Insecure)
		require.NoError(t, err)
		require.NoError(t, remote.Write(ref, img))
	}
	src, err := promote.NewHelmChart("oci://"+host+"/charts", "web", promote.HelmChartOptions{Insecure: true})
	require.NoError(t, err)
	versions, err := src.Tags(context.Background())
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"1.2.3", "1.2.4+build.7", "0.9.0"}, versions)
	d, err := src.Digest(context.Background(), "1.2.4+build.7")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(d, "sha256:"))
}
