package helm_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/helm"
)

const secret = "TOP-SECRET-VALUE"

const chartYAML = "apiVersion: v2\nname: c\nversion: 0.1.0\n"

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

// chart returns a file system with a chart in c/: Chart.yaml unless files
// give one, and files (relative to c/).
func chart(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{"c/Chart.yaml": file(chartYAML)}
	for name, content := range files {
		fsys["c/"+name] = file(content)
	}
	return fsys
}

func withBytes(fsys fstest.MapFS, name string, data []byte) fstest.MapFS {
	fsys[name] = &fstest.MapFile{Data: data}
	return fsys
}

const cmTemplate = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"

type entry struct {
	name     string
	typeflag byte
	data     []byte
	size     int64 // header size, when data is generated
	gen      io.Reader
}

// tgz builds a gzip-compressed tar archive.
func tgz(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		hd := &tar.Header{Name: e.name, Typeflag: e.typeflag, Mode: 0o644, Size: int64(len(e.data))}
		if hd.Typeflag == 0 {
			hd.Typeflag = tar.TypeReg
		}
		if hd.Typeflag == tar.TypeSymlink {
			hd.Linkname, hd.Size = "/etc/passwd", 0
		}
		if e.gen != nil {
			hd.Size = e.size
		}
		require.NoError(t, tw.WriteHeader(hd))
		if e.gen != nil {
			_, err := io.CopyN(tw, e.gen, e.size)
			require.NoError(t, err)
		} else if len(e.data) > 0 {
			_, err := tw.Write(e.data)
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestBadInput feeds hostile charts and settings. Each must fail with an
// error that names the file at fault, wraps the right sentinel and quotes
// no value.
func TestBadInput(t *testing.T) {
	subchart := "apiVersion: v2\nname: sub\nversion: 0.1.0\n"
	tests := map[string]struct {
		fsys     fs.FS
		settings func(*helm.Settings)
		limits   helm.Limits
		opts     func(*render.Options)
		is       error
		contains string
	}{
		"a hook with generateName": {
			fsys: chart(map[string]string{"templates/migrate.yaml": "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: migrate-\n" +
				"  annotations:\n    helm.sh/hook: pre-install\n    note: " + secret + "\nspec: {}\n"}),
			is:       object.ErrGenerateName,
			contains: `c/templates/migrate.yaml: Job with generateName "migrate-" and no name`,
		},
		"values file climbing out": {
			fsys:     chart(nil),
			settings: func(s *helm.Settings) { s.ValuesFiles = []string{"../secret.yaml"} },
			is:       render.ErrOutsideRoot,
			contains: "../secret.yaml",
		},
		"values file climbing out after a folder": {
			fsys:     chart(nil),
			settings: func(s *helm.Settings) { s.ValuesFiles = []string{"c/../../secret.yaml"} },
			is:       render.ErrOutsideRoot,
		},
		"absolute values file": {
			fsys:     chart(nil),
			settings: func(s *helm.Settings) { s.ValuesFiles = []string{"/etc/passwd"} },
			is:       render.ErrOutsideRoot,
			contains: "/etc/passwd",
		},
		"missing values file": {
			fsys:     chart(nil),
			settings: func(s *helm.Settings) { s.ValuesFiles = []string{"nope.yaml"} },
			is:       fs.ErrNotExist,
			contains: "nope.yaml",
		},
		"values file with a secret of the wrong type": {
			fsys:     withBytes(chart(nil), "v.yaml", []byte("- "+secret+"\n")),
			settings: func(s *helm.Settings) { s.ValuesFiles = []string{"v.yaml"} },
			is:       render.ErrSyntax,
			contains: "v.yaml",
		},
		"malformed Chart.yaml": {
			fsys:     chart(map[string]string{"Chart.yaml": "apiVersion: v2\nname: [" + secret + "\n"}),
			is:       render.ErrSyntax,
			contains: "c: syntax error: load chart",
		},
		"Chart.yaml with a value of the wrong type": {
			fsys: chart(map[string]string{"Chart.yaml": "apiVersion: v2\nname:\n  x: " + secret + "\nversion: 1.0.0\n"}),
			is:   render.ErrSyntax,
		},
		"Chart.yaml without a version": {
			fsys:     chart(map[string]string{"Chart.yaml": "apiVersion: v2\nname: c\n"}),
			is:       render.ErrSyntax,
			contains: "version",
		},
		"no Chart.yaml": {
			fsys:     fstest.MapFS{"c/values.yaml": file("a: 1\n")},
			is:       render.ErrSyntax,
			contains: "Chart.yaml",
		},
		"missing dependency": {
			fsys:     chart(map[string]string{"Chart.yaml": chartYAML + "dependencies:\n- name: redis\n  version: 1.0.0\n  repository: https://charts.example.invalid\n"}),
			is:       helm.ErrMissingDependency,
			contains: "redis",
		},
		"library chart": {
			fsys:     chart(map[string]string{"Chart.yaml": chartYAML + "type: library\n"}),
			is:       render.ErrUnsupported,
			contains: "library",
		},
		"incompatible kubeVersion": {
			fsys:     chart(map[string]string{"Chart.yaml": chartYAML + "kubeVersion: '>=1.99.0'\n"}),
			contains: "c/Chart.yaml: chart requires kubeVersion",
		},
		"bad capabilities": {
			fsys:     chart(nil),
			settings: func(s *helm.Settings) { s.Capabilities.KubeVersion = "one-point-thirty" },
			is:       render.ErrSyntax,
		},
		"invalid release name": {
			fsys:     chart(nil),
			settings: func(s *helm.Settings) { s.ReleaseName = "Not_A_DNS_Name" },
			is:       render.ErrSyntax,
			contains: "release name",
		},
		"empty release name": {
			fsys:     chart(nil),
			settings: func(s *helm.Settings) { s.ReleaseName = "" },
			is:       render.ErrSyntax,
		},
		"Kustomize overrides": {
			fsys: chart(nil),
			opts: func(o *render.Options) { o.NamePrefix = "p-" },
			is:   render.ErrUnsupported,
		},
		"duplicate objects": {
			fsys:     chart(map[string]string{"templates/a.yaml": cmTemplate, "templates/b.yaml": cmTemplate}),
			is:       object.ErrDuplicate,
			contains: "ConfigMap/cm: defined twice, in c/templates/a.yaml and in c/templates/b.yaml",
		},
		"duplicate keys in a rendered object": {
			fsys:     chart(map[string]string{"templates/a.yaml": cmTemplate + "  name: other\n"}),
			is:       object.ErrDuplicateKey,
			contains: "c/templates/a.yaml",
		},
		"template that is not YAML": {
			fsys:     chart(map[string]string{"templates/a.yaml": "kind: [" + secret + "\n"}),
			is:       render.ErrSyntax,
			contains: "templates/a.yaml",
		},
		"fail with a value": {
			fsys:     chart(map[string]string{"values.yaml": "password: " + secret + "\n", "templates/a.yaml": `{{ fail (printf "bad password %s" .Values.password) }}`}),
			contains: "template c/templates/a.yaml:1:3: the chart's fail or required stopped the render",
		},
		"required with a value": {
			fsys:     chart(map[string]string{"values.yaml": "password: " + secret + "\n", "templates/a.yaml": `{{ required (print "no user for " .Values.password) .Values.user }}`}),
			contains: "c/templates/a.yaml",
		},
		"function error quoting a value": {
			fsys:     chart(map[string]string{"values.yaml": "password: " + secret + "\n", "templates/a.yaml": `{{ .Values.password | int | div 1 }}{{ semver .Values.password }}`}),
			contains: "execution failed",
		},
		"parse error": {
			fsys:     chart(map[string]string{"templates/a.yaml": "{{ if }}" + secret}),
			contains: "template c/templates/a.yaml:1: parse error",
		},
		"include recursing forever": {
			fsys:     chart(map[string]string{"templates/a.yaml": `{{ define "loop" }}{{ include "loop" . }}{{ end }}{{ include "loop" . }}`}),
			contains: "recursion",
		},
		"template calling itself forever": {
			fsys:     chart(map[string]string{"templates/a.yaml": `{{ define "loop" }}{{ template "loop" . }}{{ end }}{{ template "loop" . }}`}),
			contains: "c/templates/a.yaml:1:31: templates call each other too deeply (recursion)",
		},
		"huge output": {
			fsys:     chart(map[string]string{"templates/a.yaml": `{{ range until 20000 }}{{ printf "# %0100d\n" . }}{{ end }}` + cmTemplate}),
			opts:     func(o *render.Options) { o.Decode.MaxBytes = 1 << 20 },
			is:       render.ErrTooLarge,
			contains: "rendered output exceeds the limit",
		},
		"too many documents": {
			fsys: chart(map[string]string{"templates/a.yaml": `{{ range until 200 }}{{ printf "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm%d\n" . }}{{ end }}`}),
			opts: func(o *render.Options) { o.Decode.MaxDocuments = 100 },
			is:   object.ErrTooManyDocuments,
		},
		"schema violation": {
			fsys: chart(map[string]string{
				"values.yaml":        "port: " + secret + "\n",
				"values.schema.json": `{"type": "object", "properties": {"port": {"type": "integer"}}}`,
			}),
			is:       helm.ErrSchema,
			contains: "at /port",
		},
		"schema pattern violation": {
			fsys: chart(map[string]string{
				"values.yaml":        "name: " + secret + "\n",
				"values.schema.json": `{"type": "object", "properties": {"name": {"type": "string", "pattern": "^[a-z]+$"}}}`,
			}),
			is:       helm.ErrSchema,
			contains: "pattern",
		},
		"schema reading a local file": {
			fsys: chart(map[string]string{
				"values.schema.json": `{"$ref": "file:///etc/passwd"}`,
			}),
			is: render.ErrNotAllowed,
		},
		"file larger than the limit": {
			fsys:     chart(map[string]string{"templates/a.yaml": cmTemplate + "data:\n  x: " + strings.Repeat("a", 4096) + "\n"}),
			opts:     func(o *render.Options) { o.Decode.MaxBytes = 1024 },
			is:       render.ErrTooLarge,
			contains: "c/templates/a.yaml",
		},
		"too many files": {
			fsys: func() fs.FS {
				files := map[string]string{}
				for i := range 50 {
					files["files/"+strings.Repeat("x", i+1)] = "x"
				}
				return chart(files)
			}(),
			limits: helm.Limits{MaxFiles: 20},
			is:     render.ErrTooLarge,
		},
		"archive bomb": {
			fsys: withBytes(chart(map[string]string{"Chart.yaml": chartYAML + "dependencies:\n- name: sub\n  version: 0.1.0\n"}), "c/charts/sub-0.1.0.tgz",
				tgz(t, entry{name: "sub/Chart.yaml", data: []byte(subchart)}, entry{name: "sub/templates/bomb.yaml", gen: zeros{}, size: 6 << 20})),
			limits:   helm.Limits{MaxBytes: 1 << 20},
			is:       render.ErrTooLarge,
			contains: "c/charts/sub-0.1.0.tgz",
		},
		"archive entry climbing out": {
			fsys: withBytes(chart(nil), "c/charts/sub-0.1.0.tgz",
				tgz(t, entry{name: "sub/Chart.yaml", data: []byte(subchart)}, entry{name: "sub/../../../evil.yaml", data: []byte(cmTemplate)})),
			is:       helm.ErrArchive,
			contains: "leaves the chart's folder",
		},
		"archive entry with an absolute path": {
			fsys: withBytes(chart(nil), "c/charts/sub-0.1.0.tgz",
				tgz(t, entry{name: "/etc/cron.d/x", data: []byte("x")})),
			is: helm.ErrArchive,
		},
		"archive with a symbolic link": {
			fsys: withBytes(chart(nil), "c/charts/sub-0.1.0.tgz",
				tgz(t, entry{name: "sub/Chart.yaml", data: []byte(subchart)}, entry{name: "sub/templates/link.yaml", typeflag: tar.TypeSymlink})),
			is:       helm.ErrArchive,
			contains: "links",
		},
		"archive that is not gzip": {
			fsys: withBytes(chart(nil), "c/charts/sub-0.1.0.tgz", []byte("PK\x03\x04 not a tarball "+secret)),
			is:   helm.ErrArchive,
		},
		"archive bomb nested in an archive": {
			fsys: withBytes(chart(nil), "c/charts/sub-0.1.0.tgz",
				tgz(t, entry{name: "sub/Chart.yaml", data: []byte(subchart)},
					entry{name: "sub/charts/inner-0.1.0.tgz", data: tgz(t, entry{name: "inner/Chart.yaml", data: []byte(subchart)}, entry{name: "inner/big", gen: zeros{}, size: 6 << 20})})),
			limits: helm.Limits{MaxBytes: 1 << 20},
			is:     render.ErrTooLarge,
		},
		"chart path climbing out": {
			fsys: chart(nil),
			is:   render.ErrOutsideRoot,
		},
		"chart path that is a file": {
			fsys: chart(map[string]string{"values.yaml": "a: 1\n"}),
			is:   render.ErrSyntax,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			s := helm.DefaultSettings()
			if tc.settings != nil {
				tc.settings(&s)
			}
			opts := render.DefaultOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			dir := "c"
			switch name {
			case "chart path climbing out":
				dir = "../c"
			case "chart path that is a file":
				dir = "c/values.yaml"
			}
			set, err := helm.New(s, helm.WithLimits(tc.limits)).Render(ctx, tc.fsys, dir, opts)
			require.Error(t, err)
			assert.Nil(t, set)
			t.Log(err)
			var re *render.Error
			assert.True(t, errors.As(err, &re), "a *render.Error")
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
			assert.Contains(t, err.Error(), tc.contains)
			assert.NotContains(t, err.Error(), secret, "no value in the message")
		})
	}
}

// TestTemplateErrorDetail: Helm's own message, which may quote values, is
// kept out of Error() but reachable on purpose.
func TestTemplateErrorDetail(t *testing.T) {
	fsys := chart(map[string]string{"values.yaml": "password: " + secret + "\n", "templates/a.yaml": `{{ fail (printf "bad password %s" .Values.password) }}`})
	_, err := helm.New(helm.DefaultSettings()).Render(context.Background(), fsys, "c", render.DefaultOptions())
	var te *helm.TemplateError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, "c/templates/a.yaml:1:3", te.Location)
	assert.Contains(t, te.Detail, "bad password "+secret)
	assert.NotContains(t, err.Error(), secret)
}

// TestSymlinksLeavingRoot puts values files and chart files behind links
// that lead outside the root, on a real directory.
func TestSymlinksLeavingRoot(t *testing.T) {
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "values.yaml"), []byte("password: "+secret+"\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "cm.yaml"), []byte(cmTemplate+"data:\n  x: "+secret+"\n"), 0o644))
	root := t.TempDir()
	c := filepath.Join(root, "c")
	require.NoError(t, os.MkdirAll(filepath.Join(c, "templates"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(c, "Chart.yaml"), []byte(chartYAML), 0o644))
	require.NoError(t, os.Symlink(filepath.Join(outside, "values.yaml"), filepath.Join(root, "direct.yaml")))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "links"), 0o755))
	require.NoError(t, os.Symlink("links/hop.yaml", filepath.Join(root, "chain.yaml")))
	require.NoError(t, os.Symlink("../../"+filepath.Base(outside)+"/values.yaml", filepath.Join(root, "links", "hop.yaml")))
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "dir")))
	// A link that stays inside is followed.
	require.NoError(t, os.WriteFile(filepath.Join(root, "inside.yaml"), []byte("name: inside\n"), 0o644))
	require.NoError(t, os.Symlink("inside.yaml", filepath.Join(root, "ok.yaml")))
	require.NoError(t, os.WriteFile(filepath.Join(c, "templates", "cm.yaml"), []byte(cmTemplate+"data:\n  name: {{ .Values.name }}\n"), 0o644))

	for fsName, fsys := range map[string]fs.FS{"os.DirFS": os.DirFS(root), "os.Root": mustRoot(t, root)} {
		t.Run(fsName, func(t *testing.T) {
			s := helm.DefaultSettings()
			s.ValuesFiles = []string{"ok.yaml"}
			set, err := helm.New(s).Render(context.Background(), fsys, "c", render.DefaultOptions())
			require.NoError(t, err)
			cm, ok := set.Get(object.ID{Kind: "ConfigMap", Name: "cm"})
			require.True(t, ok)
			assert.Equal(t, map[string]any{"name": "inside"}, cm.Object["data"])

			for _, values := range []string{"direct.yaml", "chain.yaml", "dir/values.yaml"} {
				s.ValuesFiles = []string{values}
				_, err := helm.New(s).Render(context.Background(), fsys, "c", render.DefaultOptions())
				require.Error(t, err, values)
				assert.ErrorIs(t, err, render.ErrOutsideRoot, values)
				assert.Contains(t, err.Error(), values)
				assert.NotContains(t, err.Error(), secret)
				assert.NotContains(t, err.Error(), outside)
			}
		})
	}

	t.Run("chart file through a link", func(t *testing.T) {
		link := filepath.Join(c, "templates", "out.yaml")
		require.NoError(t, os.Symlink(filepath.Join(outside, "cm.yaml"), link))
		defer os.Remove(link)
		_, err := helm.New(helm.DefaultSettings()).Render(context.Background(), os.DirFS(root), "c", render.DefaultOptions())
		require.Error(t, err)
		assert.ErrorIs(t, err, render.ErrOutsideRoot)
		assert.Contains(t, err.Error(), "c/templates/out.yaml")
		assert.NotContains(t, err.Error(), secret)
	})
}

func mustRoot(t *testing.T, dir string) fs.FS {
	r, err := os.OpenRoot(dir)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r.FS()
}

// TestClientOnly: lookup answers empty and never reaches a cluster (a
// kubeconfig pointing at a live server is in the environment), and
// getHostByName resolves nothing, not even localhost.
func TestClientOnly(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer srv.Close()
	kubeconfig := filepath.Join(t.TempDir(), "config")
	require.NoError(t, os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: `+srv.URL+`}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
users: [{name: u, user: {token: t}}]
current-context: c
`), 0o600))
	t.Setenv("KUBECONFIG", kubeconfig)
	t.Setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
	t.Setenv("KUBERNETES_SERVICE_PORT", strings.TrimPrefix(srv.URL[strings.LastIndex(srv.URL, ":"):], ":"))

	fsys := chart(map[string]string{"templates/cm.yaml": cmTemplate + `data:
  lookup: {{ (lookup "v1" "Secret" "kube-system" "admin") | toJson | quote }}
  lookupAll: {{ (lookup "v1" "Namespace" "" "") | toJson | quote }}
  host: {{ getHostByName "localhost" | quote }}
`})
	set, err := helm.New(helm.DefaultSettings()).Render(context.Background(), fsys, "c", render.DefaultOptions())
	require.NoError(t, err)
	cm, ok := set.Get(object.ID{Kind: "ConfigMap", Name: "cm"})
	require.True(t, ok)
	assert.Equal(t, map[string]any{"lookup": "{}", "lookupAll": "{}", "host": ""}, cm.Object["data"])
	assert.Zero(t, requests.Load(), "no request reached the API server")
}

// TestSchemaRemoteRef: a values.schema.json that refers to a URL is
// refused before any request.
func TestSchemaRemoteRef(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		_, _ = w.Write([]byte(`{"type": "object"}`))
	}))
	defer srv.Close()
	fsys := chart(map[string]string{"values.schema.json": `{"$ref": "` + srv.URL + `/schema.json"}`})
	_, err := helm.New(helm.DefaultSettings()).Render(context.Background(), fsys, "c", render.DefaultOptions())
	require.Error(t, err)
	assert.ErrorIs(t, err, render.ErrNotAllowed)
	assert.Zero(t, requests.Load())
}

// TestRunaway: a template that runs for a long time without output is
// abandoned when the context ends or the timeout passes; Render returns
// at once. (The abandoned engine finishes in the background: Helm's engine
// cannot be interrupted.)
func TestRunaway(t *testing.T) {
	// 16 million loop iterations: a second or more of work (ten with -race),
	// then it ends.
	fsys := chart(map[string]string{"templates/a.yaml": `{{- range $i := until 4000 }}{{ range $j := until 4000 }}{{ end }}{{ end }}` + cmTemplate})

	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := helm.New(helm.DefaultSettings()).Render(ctx, fsys, "c", render.DefaultOptions())
		require.Error(t, err)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "render c: template engine abandoned")
		assert.Less(t, time.Since(start), 5*time.Second)
	})
	t.Run("timeout", func(t *testing.T) {
		start := time.Now()
		_, err := helm.New(helm.DefaultSettings(), helm.WithLimits(helm.Limits{Timeout: 100 * time.Millisecond})).
			Render(context.Background(), fsys, "c", render.DefaultOptions())
		require.Error(t, err)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), 5*time.Second)
	})
	t.Run("canceled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := helm.New(helm.DefaultSettings()).Render(ctx, fsys, "c", render.DefaultOptions())
		assert.ErrorIs(t, err, context.Canceled)
	})
}
