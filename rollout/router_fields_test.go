package rollout_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/rollout"
)

// Helpers of the routers' tests.

// routerRollout parses a canary Rollout backend in ns with
// canaryService backend-canary, stableService backend-stable and the
// trafficRouting given (YAML, as under trafficRouting:).
func routerRollout(t testing.TB, ns, routing string) *rollout.Rollout {
	t.Helper()
	var b strings.Builder
	b.WriteString(`apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: backend, namespace: ` + ns + `}
spec:
  replicas: 10
  selector: {matchLabels: {app: backend}}
  template:
    metadata: {labels: {app: backend}}
    spec: {containers: [{name: backend, image: ghcr.io/myorg/backend:v1.2.3}]}
  strategy:
    canary:
      canaryService: backend-canary
      stableService: backend-stable
      trafficRouting:
`)
	for _, line := range strings.Split(strings.Trim(routing, "\n"), "\n") {
		b.WriteString("        " + line + "\n")
	}
	objs, err := object.DecodeBytes([]byte(b.String()), object.DefaultDecodeOptions())
	require.NoError(t, err)
	require.Len(t, objs, 1)
	r, err := rollout.Parse(objs[0])
	require.NoError(t, err)
	return r
}

// routerFor is RouterFor, which must succeed.
func routerFor(t testing.TB, r *rollout.Rollout) rollout.TrafficRouter {
	t.Helper()
	tr, err := rollout.RouterFor(r)
	require.NoError(t, err)
	require.NotNil(t, tr)
	return tr
}

// routerSet decodes manifests into a set, the namespace of those without
// one set to ns.
func routerSet(t testing.TB, ns, manifests string) *object.Set {
	t.Helper()
	objs, err := object.DecodeBytes([]byte(manifests), object.DefaultDecodeOptions())
	require.NoError(t, err)
	set := object.NewSet()
	for _, obj := range objs {
		if obj.GetNamespace() == "" {
			obj.SetNamespace(ns)
		}
		require.NoError(t, set.Add(obj, "test.yaml"))
	}
	return set
}

// routeChecked routes a copy of set and returns it, after checking the
// contracts every router keeps: the same input routes to the same
// output, routing the output again changes nothing, only the objects in
// routed (and the objects the router adds) change, and the live objects
// equal to the output verify.
func routeChecked(t testing.TB, tr rollout.TrafficRouter, set *object.Set, r *rollout.Rollout, traffic rollout.Traffic, routed ...object.ID) *object.Set {
	t.Helper()
	out := set.DeepCopy()
	require.NoError(t, tr.Route(out, r, traffic))
	again := set.DeepCopy()
	require.NoError(t, tr.Route(again, r, traffic))
	assert.Equal(t, encodeSet(t, out), encodeSet(t, again), "Route is not deterministic")
	twice := out.DeepCopy()
	require.NoError(t, tr.Route(twice, r, traffic))
	assert.Equal(t, encodeSet(t, out), encodeSet(t, twice), "Route twice is not Route once")
	for id, obj := range set.All() {
		if !slices.Contains(routed, id) {
			after, ok := out.Get(id)
			require.True(t, ok, "%s left the set", id)
			assert.Equal(t, obj.Object, after.Object, "%s is not a route object but changed", id)
		}
	}
	ok, err := tr.Verify(context.Background(), liveSet{out}, r, traffic)
	require.NoError(t, err)
	assert.True(t, ok, "Verify is false on the objects Route wrote")
	return out
}

func encodeSet(t testing.TB, set *object.Set) string {
	t.Helper()
	var b strings.Builder
	require.NoError(t, object.Encode(&b, set.Objects()...))
	return b.String()
}

// routedObject returns an object of set by its ID string
// ("Kind.group/ns/name").
func routedObject(t testing.TB, set *object.Set, id string) *unstructured.Unstructured {
	t.Helper()
	oid, err := object.ParseID(id)
	require.NoError(t, err)
	obj, ok := set.Get(oid)
	require.True(t, ok, "%s is not in the set", id)
	return obj
}

func routerID(t testing.TB, id string) object.ID {
	t.Helper()
	oid, err := object.ParseID(id)
	require.NoError(t, err)
	return oid
}

// liveSet is a Reader over a set's objects standing in for the live ones.
// It serves each object at its own version only (a server that serves no
// other), so that the routers' version fallback is exercised.
type liveSet struct{ set *object.Set }

func (l liveSet) Lookup(_ context.Context, gvk schema.GroupVersionKind, ns, name string) (*unstructured.Unstructured, bool, error) {
	obj, ok := l.set.Get(object.ID{Group: gvk.Group, Kind: gvk.Kind, Namespace: ns, Name: name})
	if !ok {
		return nil, false, nil
	}
	if obj.GroupVersionKind().Version != gvk.Version {
		return nil, false, &meta.NoKindMatchError{GroupKind: gvk.GroupKind(), SearchedVersions: []string{gvk.Version}}
	}
	return obj.DeepCopy(), true, nil
}

// failingLive is a Reader whose reads fail.
type failingLive struct{}

func (failingLive) Lookup(context.Context, schema.GroupVersionKind, string, string) (*unstructured.Unstructured, bool, error) {
	return nil, false, errors.New("connection refused")
}

// assertRouteError checks that err names the Rollout, the object and
// the words given (a field, a name).
func assertRouteError(t testing.TB, err error, words ...string) {
	t.Helper()
	require.Error(t, err)
	for _, w := range words {
		assert.Contains(t, err.Error(), w)
	}
}

func TestRouteErrorNamesTheRolloutAndTheObject(t *testing.T) {
	inner := errors.New("spec.http[0]: is a string, not a map")
	err := error(&rollout.RouteError{Rollout: "shop/backend", Object: object.ID{Group: "networking.istio.io", Kind: "VirtualService", Namespace: "shop", Name: "vs"}, Err: inner})
	assert.Equal(t, "rollout shop/backend: VirtualService.networking.istio.io/shop/vs: spec.http[0]: is a string, not a map", err.Error())
	assert.ErrorIs(t, err, inner)
}
