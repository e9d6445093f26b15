package cluster_test

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/internal/testenv"
	"github.com/converge-dev/converge/object"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.Options{Mode: testenv.Bare}, &env)
}

var gvkConfigMap = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}

func configMap(ns, name, value string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": ns, "labels": map[string]any{object.LabelOwner: "app"}},
		"data":     map[string]any{"k": value},
	}}
}

func apply(t *testing.T, c *cluster.Client, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	ri, _, err := c.ResourceFor(context.Background(), obj)
	require.NoError(t, err)
	out, err := ri.Apply(context.Background(), obj.GetName(), obj, metav1.ApplyOptions{FieldManager: object.FieldManager, Force: true})
	require.NoError(t, err)
	return out
}

// TestCacheAnswersFromMemory checks that once a kind is watched, reads of
// present and absent objects cost no request, and changes arrive by watch.
func TestCacheAnswersFromMemory(t *testing.T) {
	ns := env.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := cluster.New(env.Config)
	require.NoError(t, err)
	for i := range 20 {
		apply(t, c, configMap(ns, "cm-"+string(rune('a'+i)), "v1"))
	}
	cache := cluster.NewCache(c, cluster.CacheOptions{Namespaces: []string{ns}})
	defer cache.Stop()
	require.NoError(t, cache.Prime(ctx, gvkConfigMap))
	require.NoError(t, cache.WaitForSync(ctx))

	before := c.Requests()
	for i := range 20 {
		obj, err := cache.Get(ctx, gvkConfigMap, ns, "cm-"+string(rune('a'+i)))
		require.NoError(t, err)
		assert.Equal(t, "v1", obj.Object["data"].(map[string]any)["k"])
	}
	_, err = cache.Get(ctx, gvkConfigMap, ns, "absent")
	assert.True(t, apierrors.IsNotFound(err), "absent objects are NotFound from memory: %v", err)
	assert.Zero(t, c.Requests().Sub(before).Total(), "requests: %s", c.Requests().Sub(before))

	updated := apply(t, c, configMap(ns, "cm-a", "v2"))
	require.NoError(t, wait.PollUntilContextCancel(ctx, 20*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		obj, err := cache.Get(ctx, gvkConfigMap, ns, "cm-a")
		return err == nil && obj.GetResourceVersion() == updated.GetResourceVersion(), nil
	}))

	// A namespace outside the cache is read directly.
	other := env.Namespace(t)
	apply(t, c, configMap(other, "outside", "v1"))
	before = c.Requests()
	obj, err := cache.Get(ctx, gvkConfigMap, other, "outside")
	require.NoError(t, err)
	assert.Equal(t, "outside", obj.GetName())
	assert.Equal(t, int64(1), c.Requests().Sub(before)[cluster.RequestKey{Verb: cluster.VerbGet, Resource: "configmaps"}])
}

// TestCacheWithSelector checks that a label-scoped cache falls back to a
// GET for objects outside its selector instead of calling them absent.
func TestCacheWithSelector(t *testing.T) {
	ns := env.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := cluster.New(env.Config)
	require.NoError(t, err)
	owned := configMap(ns, "owned", "v1")
	apply(t, c, owned)
	// Another manager writes a field too: the transform must drop its
	// entry and keep converge's.
	ri, _, err := c.ResourceFor(ctx, owned)
	require.NoError(t, err)
	_, err = ri.Patch(ctx, "owned", types.MergePatchType, []byte(`{"data":{"edited":"by hand"}}`), metav1.PatchOptions{FieldManager: "kubectl-edit"})
	require.NoError(t, err)
	unowned := configMap(ns, "unowned", "v1")
	unowned.SetLabels(nil)
	apply(t, c, unowned)

	sel := labels.SelectorFromSet(labels.Set{object.LabelOwner: "app"})
	cache := cluster.NewCache(c, cluster.CacheOptions{Selector: sel, Transform: cluster.TrimManagedFields(object.FieldManager)})
	defer cache.Stop()
	require.NoError(t, cache.Prime(ctx, gvkConfigMap))

	before := c.Requests()
	got, err := cache.Get(ctx, gvkConfigMap, ns, "owned")
	require.NoError(t, err)
	assert.Zero(t, c.Requests().Sub(before).Total())
	require.Len(t, got.GetManagedFields(), 1, "the transform keeps converge's entry alone")
	assert.Equal(t, object.FieldManager, got.GetManagedFields()[0].Manager, "the transform trims other managers")
	assert.Equal(t, "by hand", got.Object["data"].(map[string]any)["edited"], "it trims bookkeeping, not fields")
	got, err = cache.Get(ctx, gvkConfigMap, ns, "unowned")
	require.NoError(t, err)
	assert.Equal(t, "unowned", got.GetName())
	assert.Equal(t, int64(1), c.Requests().Sub(before).Total())
}

// TestMapperRefreshesForNewCRD creates a CRD after the client has cached
// discovery and maps its kind without a restart.
func TestMapperRefreshesForNewCRD(t *testing.T) {
	c, err := cluster.New(env.Config)
	require.NoError(t, err)
	gvk := schema.GroupVersionKind{Group: "late.example.com", Version: "v1", Kind: "Gadget"}
	_, err = c.RESTMapping(context.Background(), schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"})
	require.NoError(t, err, "discovery is now cached")
	_, err = c.RESTMapping(context.Background(), gvk)
	require.Error(t, err)

	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "gadgets.late.example.com"},
		"spec": map[string]any{
			"group": "late.example.com", "scope": "Namespaced",
			"names": map[string]any{"kind": "Gadget", "plural": "gadgets", "singular": "gadget", "listKind": "GadgetList"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		},
	}}
	apply(t, c, crd)
	require.NoError(t, wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		m, err := c.RESTMapping(context.Background(), gvk)
		return err == nil && m.Resource.Resource == "gadgets", nil
	}))
}

func TestDryRunApplyWritesNothing(t *testing.T) {
	ns := env.Namespace(t)
	c, err := cluster.New(env.Config)
	require.NoError(t, err)
	live := apply(t, c, configMap(ns, "cm", "v1"))
	out, err := c.DryRunApply(context.Background(), configMap(ns, "cm", "v2"), object.FieldManager)
	require.NoError(t, err)
	assert.Equal(t, "v2", out.Object["data"].(map[string]any)["k"])
	after, err := c.Get(context.Background(), gvkConfigMap, ns, "cm")
	require.NoError(t, err)
	assert.Equal(t, live.GetResourceVersion(), after.GetResourceVersion())
	assert.Equal(t, "v1", after.Object["data"].(map[string]any)["k"])

	_, err = c.DryRunApply(context.Background(), configMap(ns, "", "v2"), object.FieldManager)
	assert.ErrorIs(t, err, cluster.ErrNoName)
}

func TestRequestClassification(t *testing.T) {
	cases := map[string]struct {
		method, url string
		want        cluster.RequestKey
	}{
		"get":              {"GET", "/api/v1/namespaces/a/configmaps/b", cluster.RequestKey{Verb: "get", Resource: "configmaps"}},
		"list":             {"GET", "/apis/apps/v1/namespaces/a/deployments", cluster.RequestKey{Verb: "list", Resource: "deployments"}},
		"watch":            {"GET", "/apis/apps/v1/deployments?watch=true", cluster.RequestKey{Verb: "watch", Resource: "deployments"}},
		"subresource":      {"PATCH", "/apis/apps/v1/namespaces/a/deployments/b/scale", cluster.RequestKey{Verb: "patch", Resource: "deployments/scale"}},
		"namespace object": {"GET", "/api/v1/namespaces/a", cluster.RequestKey{Verb: "get", Resource: "namespaces"}},
		"namespace list":   {"GET", "/api/v1/namespaces", cluster.RequestKey{Verb: "list", Resource: "namespaces"}},
		"cluster-scoped":   {"DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterroles/x", cluster.RequestKey{Verb: "delete", Resource: "clusterroles"}},
		"discovery":        {"GET", "/apis", cluster.RequestKey{Verb: "list", Resource: "discovery"}},
		"openapi":          {"GET", "/openapi/v3/apis/apps/v1", cluster.RequestKey{Verb: "list", Resource: "discovery"}},
		"create":           {"POST", "/api/v1/namespaces/a/secrets", cluster.RequestKey{Verb: "create", Resource: "secrets"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			u, err := url.Parse(tc.url)
			require.NoError(t, err)
			assert.Equal(t, tc.want, cluster.Classify(&http.Request{Method: tc.method, URL: u}))
		})
	}
}

// TestCacheWatchesAreNotCompressed checks that the API server does not
// gzip the Cache's watch streams (it would, event by event, at a CPU cost
// as large as the writes behind the events) unless the host asks for it.
func TestCacheWatchesAreNotCompressed(t *testing.T) {
	ns := env.Namespace(t)
	for _, compressed := range []bool{false, true} {
		t.Run(map[bool]string{false: "default", true: "WithCompressedWatches"}[compressed], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cfg := rest.CopyConfig(env.Config)
			var mu sync.Mutex
			watches, gzipped := 0, 0
			cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
				return roundTripFunc(func(req *http.Request) (*http.Response, error) {
					resp, err := rt.RoundTrip(req)
					if err == nil && req.URL.Query().Get("watch") == "true" {
						mu.Lock()
						watches++
						if resp.Uncompressed { // the transport took gzip off
							gzipped++
						}
						mu.Unlock()
					}
					return resp, err
				})
			})
			var opts []cluster.Option
			if compressed {
				opts = append(opts, cluster.WithCompressedWatches())
			}
			c, err := cluster.New(cfg, opts...)
			require.NoError(t, err)
			apply(t, c, configMap(ns, "cm", "v1"))
			cache := cluster.NewCache(c, cluster.CacheOptions{Namespaces: []string{ns}})
			defer cache.Stop()
			require.NoError(t, cache.Prime(ctx, gvkConfigMap))
			require.NoError(t, cache.WaitForSync(ctx))
			mu.Lock()
			defer mu.Unlock()
			require.NotZero(t, watches, "the cache started no watch")
			if compressed {
				assert.NotZero(t, gzipped, "WithCompressedWatches: no watch stream was compressed")
			} else {
				assert.Zero(t, gzipped, "%d of %d watch streams were compressed", gzipped, watches)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
