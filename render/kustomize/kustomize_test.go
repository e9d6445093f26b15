package kustomize_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/kustomize"
	"github.com/converge-dev/converge/render/kustomize/kustomizetest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden from the kustomize CLI")

// TestBuildMatchesCLI renders kustomize-example-shaped overlays and a
// generated tree with converge and with the kustomize CLI of the same
// version, and requires the same bytes. The CLI's output is also kept as a
// golden file, so a change of either shows in review.
func TestBuildMatchesCLI(t *testing.T) {
	cli, err := kustomizetest.CLI()
	require.NoError(t, err)
	ctx := context.Background()

	gen := t.TempDir()
	require.NoError(t, kustomizetest.WriteTree(gen, kustomizetest.TreeOptions{Apps: 2}))

	tests := map[string]struct {
		root, dir string
	}{
		"hello base":             {"testdata/examples", "hello/base"},
		"hello staging":          {"testdata/examples", "hello/overlays/staging"},
		"hello production":       {"testdata/examples", "hello/overlays/production"},
		"components overlay":     {"testdata/examples", "components/overlay"},
		"generated dev overlay":  {gen, "apps/app-00/overlays/dev"},
		"generated prod overlay": {gen, "apps/app-01/overlays/prod"},
		"generated staging":      {gen, "apps/app-01/overlays/staging"},
	}
	r := kustomize.New()
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			want, err := kustomizetest.Build(ctx, cli, filepath.Join(tc.root, tc.dir))
			require.NoError(t, err)
			got, err := r.Build(ctx, os.DirFS(tc.root), tc.dir, render.DefaultOptions())
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got))

			golden := filepath.Join("testdata", "golden", strings.ReplaceAll(name, " ", "-")+".yaml")
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
				require.NoError(t, os.WriteFile(golden, want, 0o644))
			}
			recorded, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to record the golden file")
			assert.Equal(t, string(recorded), string(got))

			// Render's objects are Build's YAML, decoded.
			set, err := r.Render(ctx, os.DirFS(tc.root), tc.dir, render.DefaultOptions())
			require.NoError(t, err)
			objs, err := object.DecodeBytes(got, object.DefaultDecodeOptions())
			require.NoError(t, err)
			var want2 strings.Builder
			require.NoError(t, object.Encode(&want2, objs...))
			assert.Equal(t, want2.String(), encode(t, set))
		})
	}
}

func TestRenderObjects(t *testing.T) {
	set, err := kustomize.New().Render(context.Background(), os.DirFS("testdata/examples"), "hello/overlays/staging", render.DefaultOptions())
	require.NoError(t, err)
	assert.Equal(t, []string{
		"ConfigMap/staging-the-map",
		"ConfigMap/staging-typed",
		"Service/staging-the-service",
		"Deployment.apps/staging-the-deployment",
	}, ids(set))
	dep, ok := set.Get(object.ID{Group: "apps", Kind: "Deployment", Name: "staging-the-deployment"})
	require.True(t, ok)
	replicas, _, _ := unstructuredInt(dep.Object, "spec", "replicas")
	assert.Equal(t, int64(3), replicas, "numbers are int64, as unstructured expects")
}

func TestRenderOverrides(t *testing.T) {
	opts := render.DefaultOptions()
	opts.Namespace = "shop"
	opts.NamePrefix = "p-"
	opts.NameSuffix = "-s"
	opts.CommonLabels = map[string]string{"team": "a"}
	opts.CommonAnnotations = map[string]string{"owner": "converge"}
	opts.Images = []render.Image{{Name: "monopole/hello", NewName: "mirror.example/hello", NewTag: "2"}}
	opts.Patches = []render.Patch{{
		Patch:  `[{"op": "replace", "path": "/spec/replicas", "value": 7}]`,
		Target: &render.Selector{Kind: "Deployment"},
	}}
	set, err := kustomize.New().Render(context.Background(), os.DirFS("testdata/examples"), "hello/base", opts)
	require.NoError(t, err)
	dep, ok := set.Get(object.ID{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "p-the-deployment-s"})
	require.True(t, ok, "got %v", ids(set))
	assert.Equal(t, "a", dep.GetLabels()["team"])
	assert.Equal(t, "converge", dep.GetAnnotations()["owner"])
	replicas, _, _ := unstructuredInt(dep.Object, "spec", "replicas")
	assert.Equal(t, int64(7), replicas)
	containers, _, _ := unstructuredSlice(dep.Object, "spec", "template", "spec", "containers")
	assert.Equal(t, "mirror.example/hello:2", containers[0].(map[string]any)["image"])
	selector, _, _ := unstructuredMap(dep.Object, "spec", "selector", "matchLabels")
	assert.NotContains(t, selector, "team", "common labels leave selectors alone")
	// the ConfigMap reference follows the renamed ConfigMap
	assert.Contains(t, ids(set), "ConfigMap/shop/p-the-map-s")

	t.Run("components", func(t *testing.T) {
		opts := render.DefaultOptions()
		opts.Components = []string{"../ldap"}
		set, err := kustomize.New().Render(context.Background(), os.DirFS("testdata/examples"), "components/base", opts)
		require.NoError(t, err)
		assert.Equal(t, 4, set.Len(), "Deployment, Widget, merged ConfigMap, ldap Secret: %v", ids(set))
	})
}

func ids(set *object.Set) []string {
	var out []string
	for _, id := range set.IDs() {
		out = append(out, id.String())
	}
	return out
}

// TestGenerate renders a directory without a kustomization file, like
// Flux: its manifests, recursively, a nested kustomization as a whole, and
// nothing ignored.
func TestGenerate(t *testing.T) {
	opts := render.DefaultOptions()
	opts.Ignore = []string{"docs/", "*.md"}
	set, err := kustomize.New().Render(context.Background(), os.DirFS("testdata/examples"), "plain", opts)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"Namespace/plain",
		"ConfigMap/plain/a",
		"ConfigMap/plain/b",
		"Secret/plain/nested-c",
	}, ids(set))

	_, err = kustomize.New().Render(context.Background(), os.DirFS("testdata/examples"), "plain", render.DefaultOptions())
	require.Error(t, err, "docs/readme.yaml is not an object unless ignored")
	assert.Contains(t, err.Error(), "plain")
}

// TestConcurrent renders many overlays from many goroutines (run it with
// -race): kustomize's global state must not leak between builds, and every
// output must equal the sequential one.
func TestConcurrent(t *testing.T) {
	dir := t.TempDir()
	topts := kustomizetest.TreeOptions{Apps: 4}
	require.NoError(t, kustomizetest.WriteTree(dir, topts))
	fsys := os.DirFS(dir)
	ctx := context.Background()
	r := kustomize.New()
	paths := append(kustomizetest.OverlayPaths(topts), "x/../apps/app-00/base")
	want := map[string]string{}
	for _, p := range paths {
		out, err := r.Build(ctx, fsys, p, render.DefaultOptions())
		require.NoError(t, err)
		want[p] = string(out)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(paths)*4)
	got := sync.Map{}
	for range 4 {
		for _, p := range paths {
			wg.Go(func() {
				out, err := r.Build(ctx, fsys, p, render.DefaultOptions())
				if err != nil {
					errs <- err
					return
				}
				if string(out) != want[p] {
					got.Store(p, string(out))
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got.Range(func(k, v any) bool {
		t.Errorf("%s: concurrent output differs from sequential", k)
		return true
	})
}

// TestCache re-renders a tree after a change to one app: only that app's
// overlays are built again, and the output equals a cold render.
func TestCache(t *testing.T) {
	dir := t.TempDir()
	topts := kustomizetest.TreeOptions{Apps: 3}
	require.NoError(t, kustomizetest.WriteTree(dir, topts))
	ctx := context.Background()
	cache := kustomize.NewCache()
	cached := kustomize.New(kustomize.WithCache(cache))
	paths := kustomizetest.OverlayPaths(topts)
	for _, p := range paths {
		_, err := cached.Render(ctx, os.DirFS(dir), p, render.DefaultOptions())
		require.NoError(t, err)
	}
	_, err := kustomizetest.Touch(dir, 1, "feature=on")
	require.NoError(t, err)

	hits0, misses0 := cache.Stats()
	for _, p := range paths {
		got, err := cached.Render(ctx, os.DirFS(dir), p, render.DefaultOptions())
		require.NoError(t, err)
		want, err := kustomize.New().Render(ctx, os.DirFS(dir), p, render.DefaultOptions())
		require.NoError(t, err)
		assert.Equal(t, encode(t, want), encode(t, got), p)
	}
	hits, misses := cache.Stats()
	assert.Equal(t, int64(6), hits-hits0, "apps 0 and 2 are unchanged")
	assert.Equal(t, int64(3), misses-misses0, "app 1's three overlays read the changed file")

	// A Set from the cache is the caller's: changing it does not change
	// the next result.
	set, err := cached.Render(ctx, os.DirFS(dir), paths[0], render.DefaultOptions())
	require.NoError(t, err)
	for _, obj := range set.Objects() {
		obj.SetAnnotations(map[string]string{"changed": "yes"})
	}
	again, err := cached.Render(ctx, os.DirFS(dir), paths[0], render.DefaultOptions())
	require.NoError(t, err)
	for _, obj := range again.Objects() {
		assert.NotContains(t, obj.GetAnnotations(), "changed")
	}
}

func TestContextCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := kustomize.New().Render(ctx, fstest.MapFS{"k/kustomization.yaml": {Data: []byte("resources: []\n")}}, "k", render.DefaultOptions())
	require.ErrorIs(t, err, context.Canceled)
}

func encode(t *testing.T, set *object.Set) string {
	t.Helper()
	var b strings.Builder
	require.NoError(t, object.Encode(&b, set.Objects()...))
	return b.String()
}

// TestCacheSeesNewFiles: files that appear or disappear change the output
// even when no file the build read changed.
func TestCacheSeesNewFiles(t *testing.T) {
	ctx := context.Background()
	r := kustomize.New(kustomize.WithCache(kustomize.NewCache()))
	cmYAML := func(name string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n")}
	}
	fsys := fstest.MapFS{"gen/a.yaml": cmYAML("a")}

	set, err := r.Render(ctx, fsys, "gen", render.DefaultOptions())
	require.NoError(t, err)
	assert.Equal(t, []string{"ConfigMap/a"}, ids(set))

	fsys["gen/b.yaml"] = cmYAML("b")
	set, err = r.Render(ctx, fsys, "gen", render.DefaultOptions())
	require.NoError(t, err)
	assert.Equal(t, []string{"ConfigMap/a", "ConfigMap/b"}, ids(set), "a new manifest in a generated directory")

	fsys["gen/kustomization.yaml"] = &fstest.MapFile{Data: []byte("resources:\n- b.yaml\n")}
	set, err = r.Render(ctx, fsys, "gen", render.DefaultOptions())
	require.NoError(t, err)
	assert.Equal(t, []string{"ConfigMap/b"}, ids(set), "a kustomization file appears")

	fsys["gen/kustomization.yml"] = &fstest.MapFile{Data: []byte("resources:\n- a.yaml\n")}
	_, err = r.Render(ctx, fsys, "gen", render.DefaultOptions())
	require.Error(t, err, "two kustomization files are an error, cached or not")
	assert.Contains(t, err.Error(), "gen")
}
