package promote_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/peers"
	"github.com/converge-dev/converge/promote"
)

// webVersions are the versions of testdata/helm/charts/web the tests
// package, in the order `helm repo index` writes them (newest first).
var webVersions = []string{"2.0.0-rc.1", "1.2.0+build.5", "1.1.0", "1.0.0"}

// helm runs the pinned helm CLI with its configuration, cache, data and
// registry login in a fresh folder, so the machine's set-up plays no part.
func helm(t *testing.T, args ...string) string {
	t.Helper()
	cli, err := peers.CLI("helm")
	require.NoError(t, err)
	home := t.TempDir()
	cmd := exec.Command(cli, args...)
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
		"HELM_REGISTRY_CONFIG="+filepath.Join(home, "registry.json"),
	)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "helm %s: %s", strings.Join(args, " "), out)
	return string(out)
}

// packageCharts packages web at webVersions and api at 0.1.0 into a
// folder with the real helm CLI.
func packageCharts(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, v := range webVersions {
		helm(t, "package", "testdata/helm/charts/web", "--version", v, "--destination", dir)
	}
	helm(t, "package", "testdata/helm/charts/api", "--version", "0.1.0", "--destination", dir)
	return dir
}

// serveCharts serves a folder behind the test credentials (basic or
// the bearer token).
func serveCharts(t *testing.T, dir string) string {
	t.Helper()
	srv := httptest.NewServer(requireAuth(http.FileServer(http.Dir(dir))))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestHelmChartIndexFromHelmCLI reads an index `helm repo index` wrote:
// the versions in its order, the digests of the packages themselves and
// their creation times, with basic auth or a token. With -update it
// rewrites testdata/helm/index.yaml, the fixture the other tests and the
// fuzz target read.
func TestHelmChartIndexFromHelmCLI(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	dir := packageCharts(t)
	helm(t, "repo", "index", dir, "--url", "https://charts.example/")
	index, err := os.ReadFile(filepath.Join(dir, "index.yaml"))
	require.NoError(t, err)
	if updating() {
		require.NoError(t, os.WriteFile("testdata/helm/index.yaml", index, 0o644))
	}
	url := serveCharts(t, dir)

	for _, creds := range []promote.Credentials{basicCreds, {Token: testToken}} {
		src, err := promote.NewHelmChart(url, "web", promote.WithInsecure(), promote.WithCredentials(creds))
		require.NoError(t, err)
		l, err := src.Versions(ctx)
		require.NoError(t, err)
		assert.Equal(t, webVersions, l.Names())
		assert.Zero(t, l.Skipped)
		for _, v := range l.Versions {
			pkg, err := os.ReadFile(filepath.Join(dir, "web-"+v.Version+".tgz"))
			require.NoError(t, err)
			sum := sha256.Sum256(pkg)
			assert.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), v.Digest, v.Version)
			assert.WithinRange(t, v.Created, start.Add(-time.Minute), time.Now().Add(time.Minute), v.Version)
		}
		tags, err := src.Tags(ctx)
		require.NoError(t, err)
		latest, err := promote.Policy{Kind: promote.SemVer, Range: "^1"}.Latest(tags)
		require.NoError(t, err)
		assert.Equal(t, "1.2.0+build.5", latest)
		digest, err := src.Digest(ctx, latest)
		require.NoError(t, err)
		assert.Equal(t, l.Versions[1].Digest, digest)
	}

	// The fixture is this CLI's output too: the same charts and versions.
	golden := serveIndex(t, readFixture(t))
	src, err := promote.NewHelmChart(golden, "web", promote.WithInsecure())
	require.NoError(t, err)
	tags, err := src.Tags(ctx)
	require.NoError(t, err)
	assert.Equal(t, webVersions, tags, "testdata/helm/index.yaml is stale: go test ./promote -run HelmChartIndexFromHelmCLI -update")
}

// updating reports the -update flag, which edit_test.go (package promote,
// linked into the same test binary) defines.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

func readFixture(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/helm/index.yaml")
	require.NoError(t, err)
	return string(b)
}

// serveIndex serves body as any path's content.
func serveIndex(t *testing.T, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestHelmChartErrors: a chart the index lacks, refused credentials,
// server errors and an index that is HTML, truncated or 100 MB are each
// a *RegistryError of its kind, quickly, and none shows a credential,
// even echoed by the server.
func TestHelmChartErrors(t *testing.T) {
	fixture := readFixture(t)
	index := func(body string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, body) })
	}
	echo := func(status int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "you sent "+r.Header.Get("Authorization"), status)
		})
	}
	var written atomic.Int64
	for name, c := range map[string]struct {
		reason  string
		handler http.Handler
		chart   string
		opts    []promote.RepositoryOption
		want    error
		text    string
	}{
		"no such chart": {
			reason: "the index is read, the chart is not in it", handler: index(fixture), chart: "db",
			want: promote.ErrImageNotFound, text: `the index has no chart "db" (it has 2: "api", "web")`,
		},
		"wrong password": {
			reason: "a 401 is unauthorized", handler: requireAuth(index(fixture)),
			opts: []promote.RepositoryOption{promote.WithCredentials(promote.Credentials{Username: testUser, Password: "not-" + testPassword})},
			want: promote.ErrUnauthorized, text: "the server answered 401 Unauthorized",
		},
		"anonymous": {
			reason: "no credentials where some are needed", handler: requireAuth(index(fixture)),
			opts: []promote.RepositoryOption{promote.WithCredentials(promote.Credentials{})},
			want: promote.ErrUnauthorized,
		},
		"403 echoing the header": {
			reason: "the body of an error is not shown", handler: echo(http.StatusForbidden),
			want: promote.ErrUnauthorized, text: "403 Forbidden",
		},
		"404": {
			reason: "no index.yaml", handler: http.NotFoundHandler(),
			want: promote.ErrImageNotFound, text: "no index.yaml (404 Not Found)",
		},
		"500 echoing the header": {
			reason: "a server error says its status", handler: echo(http.StatusInternalServerError),
			text: "the server answered 500 Internal Server Error",
		},
		"html": {
			reason: "a login page is not an index", handler: index("<!doctype html>\n<html><body><form>Sign in</form></body></html>\n"),
			want: promote.ErrBadResponse, text: "the server sent HTML, not an index.yaml",
		},
		"truncated body": {
			reason: "a body shorter than its Content-Length",
			handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Length", fmt.Sprint(len(fixture)))
				_, _ = io.WriteString(w, fixture[:len(fixture)/2])
			}),
			want: promote.ErrBadResponse, text: "unexpected EOF",
		},
		"truncated YAML": {
			reason: "an index cut in the middle of a string", handler: index("apiVersion: v1\nentries:\n  web:\n  - version: \"1.0.0\n"),
			want: promote.ErrBadResponse, text: "the index does not parse",
		},
		"no apiVersion": {
			reason: "Helm refuses an index without one", handler: index("entries:\n  web: []\n"),
			want: promote.ErrBadResponse, text: "no apiVersion",
		},
		"not a map": {
			reason: "entries of the wrong type", handler: index("apiVersion: v1\nentries: [web]\n"),
			want: promote.ErrBadResponse, text: "the index does not parse",
		},
		"100 MB streamed": {
			reason: "read to the 32 MiB bound and no further",
			handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, "apiVersion: v1\nentries: {}\n")
				line := []byte("# " + strings.Repeat("x", 1021) + "\n")
				for i := 0; i < 100<<10; i++ {
					if _, err := w.Write(line); err != nil {
						return
					}
					written.Add(int64(len(line)))
				}
			}),
			want: promote.ErrBadResponse, text: "larger than 33554432 bytes",
		},
		"100 MB declared": {
			reason: "a Content-Length over the bound fails before the body is read",
			handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Length", fmt.Sprint(100<<20))
				_, _ = io.WriteString(w, "apiVersion: v1\n")
			}),
			want: promote.ErrBadResponse, text: "the index is 104857600 bytes, over the bound of 33554432",
		},
		"too many versions": {
			reason: "the bound counts the chart's entries", handler: index(fixture),
			opts: []promote.RepositoryOption{promote.WithMaxTags(3)},
			want: promote.ErrTooManyTags, text: "4 versions, more than 3",
		},
		"stall": {
			reason:  "the timeout bounds a server that never answers",
			handler: http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }),
			opts:    []promote.RepositoryOption{promote.WithTimeout(200 * time.Millisecond)},
			want:    context.DeadlineExceeded,
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(c.handler)
			defer srv.Close()
			chart := "web"
			if c.chart != "" {
				chart = c.chart
			}
			opts := append([]promote.RepositoryOption{promote.WithInsecure(), promote.WithCredentials(basicCreds)}, c.opts...)
			src, err := promote.NewHelmChart(srv.URL, chart, opts...)
			require.NoError(t, err)
			start := time.Now()
			_, err = src.Versions(context.Background())
			t.Log(err)
			assertNoSecret(t, err)
			var re *promote.RegistryError
			require.ErrorAs(t, err, &re, c.reason)
			assert.Equal(t, srv.URL, re.Image)
			if c.want != nil {
				assert.ErrorIs(t, err, c.want, c.reason)
			}
			assert.ErrorContains(t, err, c.text, c.reason)
			assert.Less(t, time.Since(start), 20*time.Second)
		})
	}
	assert.Less(t, written.Load(), int64(40<<20), "the 100 MB index was read to its bound and no further")
}

// TestHelmChartSkipsOddEntries: entries a hostile or broken index holds
// are skipped and counted, the rest read, never a crash.
func TestHelmChartSkipsOddEntries(t *testing.T) {
	digest := strings.Repeat("ab", 32)
	url := serveIndex(t, `apiVersion: v1
entries:
  web:
  - version: "1.0.0\nimage: evil"
  - version: "1.1.0\""
  - version: "1.2.0: {a: b}"
  - version: 1.3
  - version: [1, 2]
  - version: {a: b}
  - null
  - version: "1.0.0-`+strings.Repeat("a", 10<<10)+`"
  - version: "1.0.0-`+strings.Repeat("a", 200)+`"
  - version: latest
  - version: ""
  - version: 1.4.0
    digest: not-a-digest
    created: yesterday
  - version: 1.4.0
  - version: 1.5.0
    digest: `+digest+`
    created: "2026-05-01T10:00:00.5Z"
  - version: 1.6.0
    digest: sha256:`+digest+`
`)
	src, err := promote.NewHelmChart(url, "web", promote.WithInsecure())
	require.NoError(t, err)
	l, err := src.Versions(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []promote.ChartVersion{
		{Version: "1.4.0"},
		{Version: "1.5.0", Digest: "sha256:" + digest, Created: time.Date(2026, 5, 1, 10, 0, 0, 5e8, time.UTC)},
		{Version: "1.6.0", Digest: "sha256:" + digest},
	}, l.Versions, "a duplicate counts once; a bad digest or time is left empty")
	assert.Equal(t, 11, l.Skipped, "10 KB, and 200 bytes: a semver, but longer than an OCI tag may be")

	src, err = promote.NewHelmChart(url, "web", promote.WithInsecure(), promote.WithExclusions(`^1\.[45]`))
	require.NoError(t, err)
	l, err = src.Versions(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"1.6.0"}, l.Names())
	assert.Equal(t, 11, l.Skipped, "excluded entries are not counted as skipped")
	_, err = src.Digest(context.Background(), "1.4.0")
	assert.ErrorIs(t, err, promote.ErrImageNotFound)
}

// TestHelmChartOCI reads charts the real helm CLI pushed to an
// in-process OCI registry: Helm stores 1.2.0+build.5 as the tag
// 1.2.0_build.5, and the version comes back with its "+".
func TestHelmChartOCI(t *testing.T) {
	ctx := context.Background()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	push := httptest.NewServer(reg)
	defer push.Close()
	read := httptest.NewServer(requireAuth(reg))
	defer read.Close()
	pushHost, readHost := strings.TrimPrefix(push.URL, "http://"), strings.TrimPrefix(read.URL, "http://")

	dir := packageCharts(t)
	digests := map[string]string{}
	pushed := regexp.MustCompile(`(?m)^Pushed: \S+:(\S+)$`)
	digestLine := regexp.MustCompile(`(?m)^Digest: (sha256:[0-9a-f]{64})$`)
	for _, v := range []string{"1.0.0", "1.2.0+build.5"} {
		out := helm(t, "push", filepath.Join(dir, "web-"+v+".tgz"), "oci://"+pushHost+"/charts", "--plain-http")
		require.Regexp(t, pushed, out)
		require.Regexp(t, digestLine, out)
		assert.Equal(t, strings.ReplaceAll(v, "+", "_"), pushed.FindStringSubmatch(out)[1], "Helm's own OCI tag")
		digests[v] = digestLine.FindStringSubmatch(out)[1]
	}
	// Not charts: a tag that is no version, and a signature the default
	// exclusions leave out.
	for _, tag := range []string{"latest", "sha256-" + strings.Repeat("0", 64) + ".sig"} {
		img, err := random.Image(64, 1)
		require.NoError(t, err)
		ref, err := name.NewTag(pushHost+"/charts/web:"+tag, name.Insecure)
		require.NoError(t, err)
		require.NoError(t, remote.Write(ref, img))
	}

	src, err := promote.NewHelmChart("oci://"+readHost+"/charts", "web", promote.WithInsecure(), promote.WithCredentials(basicCreds))
	require.NoError(t, err)
	l, err := src.Versions(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"1.0.0", "1.2.0+build.5"}, l.Names())
	assert.Equal(t, 1, l.Skipped, "latest")
	for v, want := range digests {
		d, err := src.Digest(ctx, v)
		require.NoError(t, err)
		assert.Equal(t, want, d, v)
	}

	missing, err := promote.NewHelmChart("oci://"+readHost+"/charts", "db", promote.WithInsecure(), promote.WithCredentials(basicCreds))
	require.NoError(t, err)
	_, err = missing.Versions(ctx)
	assert.ErrorIs(t, err, promote.ErrImageNotFound)
	wrong, err := promote.NewHelmChart("oci://"+readHost+"/charts", "web", promote.WithInsecure(),
		promote.WithCredentials(promote.Credentials{Username: testUser, Password: "not-" + testPassword}))
	require.NoError(t, err)
	_, err = wrong.Versions(ctx)
	assert.ErrorIs(t, err, promote.ErrUnauthorized)
	assertNoSecret(t, err)
}

func TestNewHelmChartRefuses(t *testing.T) {
	for name, c := range map[string]struct {
		url, chart string
		opts       []promote.RepositoryOption
		text       string
	}{
		"path in the chart":   {url: "https://charts.example", chart: "../web", text: "not a chart name"},
		"empty chart":         {url: "https://charts.example", chart: "", text: "not a chart name"},
		"space in the chart":  {url: "https://charts.example", chart: "my web", text: "not a chart name"},
		"no scheme":           {url: "charts.example", chart: "web", text: "not a URL"},
		"ftp":                 {url: "ftp://charts.example", chart: "web", text: `the scheme "ftp" is not one of https, http and oci`},
		"password in the URL": {url: "https://ci:" + testPassword + "@charts.example", chart: "web", text: "credentials in the URL"},
		"query":               {url: "https://charts.example/?token=" + testToken, chart: "web", text: "query or fragment"},
		"plain HTTP":          {url: "http://charts.example", chart: "web", text: "plain HTTP needs WithInsecure"},
		"docker config":       {url: "https://charts.example", chart: "web", opts: []promote.RepositoryOption{promote.WithCredentials(promote.Credentials{DockerConfigJSON: dockerConfig("charts.example", testUser, testPassword)})}, text: "a Docker config is for OCI registries"},
		"two credentials":     {url: "https://charts.example", chart: "web", opts: []promote.RepositoryOption{promote.WithCredentials(promote.Credentials{Username: testUser, Password: testPassword, Token: testToken})}, text: "not several"},
		"bad exclusion":       {url: "oci://ghcr.io/org", chart: "web", opts: []promote.RepositoryOption{promote.WithExclusions("[")}, text: "exclusion pattern"},
		"no versions allowed": {url: "https://charts.example", chart: "web", opts: []promote.RepositoryOption{promote.WithMaxTags(-1)}, text: "max tags must be positive"},
		"upper-case OCI":      {url: "oci://ghcr.io/Org", chart: "web", text: "repository can only contain"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := promote.NewHelmChart(c.url, c.chart, c.opts...)
			assertNoSecret(t, err)
			assert.ErrorContains(t, err, c.text)
		})
	}
}
