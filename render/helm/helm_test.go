package helm_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/helm"
	"github.com/converge-dev/converge/render/helm/helmtest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden from the helm CLI")

// goldenCases are real-world-shaped charts under testdata/charts, with the
// settings a host would pass.
var goldenCases = map[string]struct {
	dir      string
	settings helm.Settings
}{
	"webapp defaults": {
		dir: "charts/webapp",
		settings: helm.Settings{
			ReleaseName:  "release-name",
			Namespace:    "default",
			Capabilities: helm.Capabilities{KubeVersion: "v1.29.4"},
		},
	},
	"webapp prod": {
		dir: "charts/webapp",
		settings: helm.Settings{
			ReleaseName: "shop",
			Namespace:   "shop",
			ValuesFiles: []string{"charts/webapp/values-prod.yaml"},
			Values: map[string]any{
				"image":   map[string]any{"pullPolicy": "Always"},
				"secret":  map[string]any{"password": "s3cr3t"},
				"metrics": map[string]any{"enabled": false},
			},
			Capabilities: helm.Capabilities{
				KubeVersion: "v1.31.0",
				APIVersions: []string{"monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor"},
			},
		},
	},
	"webapp without cache": {
		dir: "charts/webapp",
		settings: helm.Settings{
			ReleaseName:  "webapp",
			Namespace:    "web",
			Values:       map[string]any{"cache": map[string]any{"enabled": false}, "migrations": map[string]any{"enabled": false}, "replicaCount": 2},
			Capabilities: helm.Capabilities{KubeVersion: "1.37.2"},
		},
	},
	"operator": {
		dir: "charts/operator",
		settings: helm.Settings{
			ReleaseName:  "bk",
			Namespace:    "backups",
			Capabilities: helm.Capabilities{KubeVersion: "v1.33.1", APIVersions: []string{"snapshot.storage.k8s.io/v1"}},
		},
	},
}

// cliArgs are the `helm template` arguments equivalent to s.
func cliArgs(t *testing.T, root, dir string, s helm.Settings) []string {
	args := []string{s.ReleaseName, filepath.Join(root, dir), "--namespace", s.Namespace, "--include-crds", "--skip-tests"}
	for _, f := range s.ValuesFiles {
		args = append(args, "-f", filepath.Join(root, f))
	}
	if len(s.Values) > 0 {
		// Inline values are one more values file (JSON is YAML).
		data, err := json.Marshal(s.Values)
		require.NoError(t, err)
		f := filepath.Join(t.TempDir(), "inline.yaml")
		require.NoError(t, os.WriteFile(f, data, 0o644))
		args = append(args, "-f", f)
	}
	if s.Capabilities.KubeVersion != "" {
		args = append(args, "--kube-version", s.Capabilities.KubeVersion)
	}
	if len(s.Capabilities.APIVersions) > 0 {
		args = append(args, "--api-versions", strings.Join(s.Capabilities.APIVersions, ","))
	}
	return args
}

// TestRenderMatchesCLI renders each chart with converge and with the helm
// CLI of the same version (`helm template --include-crds --skip-tests`)
// and requires the same objects in the same order, except for what
// converge documents: hooks carry converge's hook annotations too, and
// hooks of delete or rollback phases are dropped. The CLI's output is kept
// as a golden file, so a change of either shows in review.
func TestRenderMatchesCLI(t *testing.T) {
	cli, err := helmtest.CLI()
	require.NoError(t, err)
	ctx := context.Background()
	for name, tc := range goldenCases {
		t.Run(name, func(t *testing.T) {
			out, err := helmtest.Template(ctx, cli, cliArgs(t, "testdata", tc.dir, tc.settings)...)
			require.NoError(t, err)
			golden := filepath.Join("testdata", "golden", strings.ReplaceAll(name, " ", "-")+".yaml")
			if *update {
				require.NoError(t, os.WriteFile(golden, out, 0o644))
			}
			recorded, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to record the golden file")
			assert.Equal(t, string(recorded), string(out), "the helm CLI's output changed")

			cliObjs, err := object.DecodeBytes(out, object.DefaultDecodeOptions())
			require.NoError(t, err)
			var want []*unstructured.Unstructured
			for _, o := range cliObjs {
				if hook, ok := o.GetAnnotations()[object.HelmHook]; ok && !syncHook(hook) {
					continue // pre-delete and the like: converge drops them
				}
				want = append(want, o)
			}

			set, err := helm.New(tc.settings).Render(ctx, os.DirFS("testdata"), tc.dir, render.DefaultOptions())
			require.NoError(t, err)
			got := set.Objects()
			hooks := 0
			for _, o := range got {
				a := o.GetAnnotations()
				if _, ok := a[object.HelmHook]; !ok {
					assert.NotContains(t, a, object.AnnotationHook, "%s is no hook", object.IDOf(o))
					continue
				}
				hooks++
				require.Contains(t, a, object.AnnotationHook, "%s", object.IDOf(o))
				require.Contains(t, a, object.AnnotationHookDeletePolicy, "%s", object.IDOf(o))
				delete(a, object.AnnotationHook)
				delete(a, object.AnnotationHookDeletePolicy)
				delete(a, object.AnnotationSyncWave)
				o.SetAnnotations(a)
			}
			assert.Equal(t, encode(t, want...), encode(t, got...))
			if name != "webapp without cache" {
				assert.Positive(t, hooks, "the chart has hooks")
			}
		})
	}
}

// syncHook reports whether Helm hook events include one converge maps.
func syncHook(events string) bool {
	for _, e := range strings.Split(events, ",") {
		switch strings.TrimSpace(e) {
		case "pre-install", "pre-upgrade", "post-install", "post-upgrade":
			return true
		}
	}
	return false
}

func encode(t *testing.T, objs ...*unstructured.Unstructured) string {
	t.Helper()
	var b strings.Builder
	require.NoError(t, object.Encode(&b, objs...))
	return b.String()
}

func ids(set *object.Set) []string {
	var out []string
	for _, id := range set.IDs() {
		out = append(out, id.String())
	}
	return out
}

// TestHooks checks the mapping of Helm's hook annotations to converge's.
func TestHooks(t *testing.T) {
	s := goldenCases["webapp prod"].settings
	set, err := helm.New(s).Render(context.Background(), os.DirFS("testdata"), "charts/webapp", render.DefaultOptions())
	require.NoError(t, err)
	tests := map[string]struct {
		id                 object.ID
		hook, policy, wave string
		hasWave            bool
	}{
		"pre with weight and two policies": {
			id:   object.ID{Group: "batch", Kind: "Job", Name: "shop-webapp-migrate"},
			hook: "PreSync", policy: "BeforeHookCreation,HookSucceeded", wave: "-5", hasWave: true,
		},
		"pre with Helm's default policy": {
			id:   object.ID{Kind: "ConfigMap", Name: "shop-webapp-migrate-config"},
			hook: "PreSync", policy: "BeforeHookCreation", wave: "-10", hasWave: true,
		},
		"post without weight": {
			id:   object.ID{Group: "batch", Kind: "Job", Name: "shop-webapp-warmup"},
			hook: "PostSync", policy: "HookFailed",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			obj, ok := set.Get(tc.id)
			require.True(t, ok, "%v", ids(set))
			a := obj.GetAnnotations()
			assert.Equal(t, tc.hook, a[object.AnnotationHook])
			assert.Equal(t, tc.policy, a[object.AnnotationHookDeletePolicy])
			wave, has := a[object.AnnotationSyncWave]
			assert.Equal(t, tc.hasWave, has)
			assert.Equal(t, tc.wave, wave)
			assert.NotEmpty(t, a[object.HelmHook], "Helm's own annotations stay")
		})
	}
	for _, id := range set.IDs() {
		assert.NotContains(t, id.Name, "test-connection", "test hooks are dropped")
		assert.NotContains(t, id.Name, "drain", "pre-delete hooks are dropped")
	}

	t.Run("pre and post", func(t *testing.T) {
		s := goldenCases["operator"].settings
		set, err := helm.New(s).Render(context.Background(), os.DirFS("testdata"), "charts/operator", render.DefaultOptions())
		require.NoError(t, err)
		obj, ok := set.Get(object.ID{Group: "batch", Kind: "Job", Namespace: "backups", Name: "bk-webhook-cert"})
		require.True(t, ok, "%v", ids(set))
		assert.Equal(t, "PreSync,PostSync", obj.GetAnnotations()[object.AnnotationHook])
		assert.Equal(t, "1", obj.GetAnnotations()[object.AnnotationSyncWave])
		ids := ids(set)
		assert.Equal(t, "CustomResourceDefinition.apiextensions.k8s.io/backupschedules.backup.example.com", ids[0], "CRDs come first")
		assert.Equal(t, "CustomResourceDefinition.apiextensions.k8s.io/restores.backup.example.com", ids[1])
	})
}

// TestConcurrent renders the golden charts from many goroutines (run it
// with -race): every output must equal the sequential one.
func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	fsys := os.DirFS("testdata")
	want := map[string]string{}
	for name, tc := range goldenCases {
		set, err := helm.New(tc.settings).Render(ctx, fsys, tc.dir, render.DefaultOptions())
		require.NoError(t, err)
		want[name] = encode(t, set.Objects()...)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for range 3 {
		for name, tc := range goldenCases {
			wg.Go(func() {
				r := helm.New(tc.settings)
				set, err := r.Render(ctx, fsys, tc.dir, render.DefaultOptions())
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					failures = append(failures, name+": "+err.Error())
				case encodeNoT(set.Objects()...) != want[name]:
					failures = append(failures, name+": output differs from the sequential one")
				}
			})
		}
	}
	wg.Wait()
	assert.Empty(t, failures)
}

func encodeNoT(objs ...*unstructured.Unstructured) string {
	var b strings.Builder
	if err := object.Encode(&b, objs...); err != nil {
		return err.Error()
	}
	return b.String()
}

// TestIgnore: .helmignore and Options.Ignore both keep files out of the
// chart.
func TestIgnore(t *testing.T) {
	fsys := chart(map[string]string{
		".helmignore":            "# comment\ntemplates/skip-*.yaml\n",
		"templates/keep.yaml":    cmTemplate,
		"templates/skip-a.yaml":  strings.Replace(cmTemplate, "name: cm", "name: a", 1),
		"templates/other.yaml":   strings.Replace(cmTemplate, "name: cm", "name: other", 1),
		"templates/.hidden.yaml": strings.Replace(cmTemplate, "name: cm", "name: hidden", 1),
	})
	set, err := helm.New(helm.DefaultSettings()).Render(context.Background(), fsys, "c", render.DefaultOptions())
	require.NoError(t, err)
	assert.Equal(t, []string{"ConfigMap/cm", "ConfigMap/other"}, ids(set), ".helmignore and Helm's default ignores apply")

	opts := render.DefaultOptions()
	opts.Ignore = []string{"other.yaml"}
	set, err = helm.New(helm.DefaultSettings()).Render(context.Background(), fsys, "c", opts)
	require.NoError(t, err)
	assert.Equal(t, []string{"ConfigMap/cm"}, ids(set))
}
