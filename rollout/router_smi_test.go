package rollout_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/rollout"
)

func TestSMIRoute(t *testing.T) {
	for name, tc := range map[string]struct {
		reason  string
		routing string
		objects string
		traffic rollout.Traffic
		id      string
		want    map[string]any
	}{
		"added with the defaults": {
			reason:  "the TrafficSplit is named after the Rollout, for the stableService, at Rollouts' default version",
			routing: `smi: {}`,
			traffic: rollout.Traffic{Weight: 5},
			id:      "TrafficSplit.split.smi-spec.io/shop/backend",
			want: map[string]any{
				"apiVersion": "split.smi-spec.io/v1alpha1",
				"kind":       "TrafficSplit",
				"metadata":   map[string]any{"name": "backend", "namespace": "shop", "annotations": map[string]any{rollout.AnnotationRouteOf: "backend"}},
				"spec": map[string]any{"service": "backend-stable", "backends": []any{
					map[string]any{"service": "backend-canary", "weight": int64(5)},
					map[string]any{"service": "backend-stable", "weight": int64(95)},
				}},
			},
		},
		"added as configured": {
			reason:  "trafficSplitName and rootService name it and its root",
			routing: `smi: {trafficSplitName: backend-split, rootService: backend}`,
			traffic: rollout.Traffic{Weight: 100},
			id:      "TrafficSplit.split.smi-spec.io/shop/backend-split",
			want: map[string]any{
				"apiVersion": "split.smi-spec.io/v1alpha1",
				"kind":       "TrafficSplit",
				"metadata":   map[string]any{"name": "backend-split", "namespace": "shop", "annotations": map[string]any{rollout.AnnotationRouteOf: "backend"}},
				"spec": map[string]any{"service": "backend", "backends": []any{
					map[string]any{"service": "backend-canary", "weight": int64(100)},
					map[string]any{"service": "backend-stable", "weight": int64(0)},
				}},
			},
		},
		"one in the set edited": {
			reason:  "a TrafficSplit of that name in the set keeps its version and other fields; its service and backends are the router's",
			routing: `smi: {}`,
			objects: `apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: backend, labels: {team: shop}}
spec:
  service: backend
  matches: [{kind: HTTPRouteGroup, name: api}]
  backends: [{service: backend-stable, weight: 1}, {service: backend-v0, weight: 1}]
`,
			traffic: rollout.Traffic{Weight: 50},
			id:      "TrafficSplit.split.smi-spec.io/shop/backend",
			want: map[string]any{
				"apiVersion": "split.smi-spec.io/v1alpha4",
				"kind":       "TrafficSplit",
				"metadata":   map[string]any{"name": "backend", "namespace": "shop", "labels": map[string]any{"team": "shop"}},
				"spec": map[string]any{"service": "backend-stable", "matches": []any{map[string]any{"kind": "HTTPRouteGroup", "name": "api"}}, "backends": []any{
					map[string]any{"service": "backend-canary", "weight": int64(50)},
					map[string]any{"service": "backend-stable", "weight": int64(50)},
				}},
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := routerRollout(t, "shop", tc.routing)
			set := routerSet(t, "shop", tc.objects+istioOther)
			out := routeChecked(t, routerFor(t, r), set, r, tc.traffic, routerID(t, tc.id))
			assert.Equal(t, tc.want, routedObject(t, out, tc.id).Object, tc.reason)
			added := 1
			if tc.objects != "" {
				added = 0 // edited in place
			}
			assert.Equal(t, set.Len()+added, out.Len(), "only the TrafficSplit is added")
		})
	}
}

func TestSMIRouteRefusesHeaderRoutes(t *testing.T) {
	r := routerRollout(t, "shop", "managedRoutes: [{name: beta}]\nsmi: {}")
	tr := routerFor(t, r)
	beta := rollout.Traffic{HeaderRoutes: []rollout.HeaderRoute{{Name: "beta", Match: []rollout.HeaderRouteMatch{{HeaderName: "x", HeaderValue: rollout.StringMatch{Exact: "y"}}}}}}
	set := object.NewSet()
	err := tr.Route(set, r, beta)
	assertRouteError(t, err, "rollout shop/backend", `header route "beta"`, "setHeaderRoute")
	assert.ErrorIs(t, err, rollout.ErrUnsupported)
	assert.Zero(t, set.Len())
	_, err = tr.Verify(context.Background(), liveSet{set}, r, beta)
	assert.ErrorIs(t, err, rollout.ErrUnsupported)
	// A removed header route is no header route.
	require.NoError(t, tr.Route(set, r, rollout.Traffic{HeaderRoutes: []rollout.HeaderRoute{{Name: "beta"}}}))
}

func TestSMIVerify(t *testing.T) {
	r := routerRollout(t, "shop", `smi: {}`)
	tr := routerFor(t, r)
	at := rollout.Traffic{Weight: 30}
	out := routeChecked(t, tr, object.NewSet(), r, at)
	// Rollouts writes v1alpha1's weights as quantity strings.
	asStrings := routerSet(t, "shop", `apiVersion: split.smi-spec.io/v1alpha1
kind: TrafficSplit
metadata: {name: backend}
spec:
  service: backend-stable
  backends: [{service: backend-canary, weight: "30"}, {service: backend-stable, weight: "70"}]
`)
	later := routerSet(t, "shop", `apiVersion: split.smi-spec.io/v1alpha3
kind: TrafficSplit
metadata: {name: backend}
spec:
  service: backend-stable
  backends: [{service: backend-canary, weight: 30}, {service: backend-stable, weight: 70}]
`)
	ctx := context.Background()
	for name, tc := range map[string]struct {
		live    rollout.Reader
		traffic rollout.Traffic
		want    bool
	}{
		"the split routed":       {liveSet{out}, at, true},
		"weights as quantities":  {liveSet{asStrings}, at, true},
		"a later version served": {liveSet{later}, at, true},
		"another weight":         {liveSet{out}, rollout.Traffic{Weight: 31}, false},
		"the live split missing": {liveSet{object.NewSet()}, at, false},
	} {
		t.Run(name, func(t *testing.T) {
			ok, err := tr.Verify(ctx, tc.live, r, tc.traffic)
			require.NoError(t, err)
			assert.Equal(t, tc.want, ok)
		})
	}
	t.Run("a read that fails", func(t *testing.T) {
		_, err := tr.Verify(ctx, failingLive{}, r, at)
		assert.ErrorContains(t, err, "connection refused")
	})
}

// FuzzSMIRoute feeds arbitrary YAML as a TrafficSplit already in the
// set: Route must not panic, and when it succeeds its output must route
// to itself and verify.
func FuzzSMIRoute(f *testing.F) {
	for _, seed := range []string{
		"apiVersion: split.smi-spec.io/v1alpha2\nkind: TrafficSplit\nspec: {service: a, backends: [{service: b, weight: 1}]}",
		"spec: [1, 2]",
		"spec: {backends: x, service: 3}",
		"spec: null",
		"metadata: {annotations: 3}",
	} {
		f.Add([]byte(seed), int8(10))
	}
	r := routerRollout(f, "shop", `smi: {}`)
	f.Fuzz(func(t *testing.T, data []byte, weight int8) {
		objs, err := object.DecodeBytes(data, object.DefaultDecodeOptions())
		if err != nil || len(objs) != 1 {
			return
		}
		obj := objs[0]
		obj.SetAPIVersion("split.smi-spec.io/v1alpha1")
		obj.SetKind("TrafficSplit")
		obj.SetNamespace("shop")
		obj.SetName("backend")
		if obj.GetName() == "" || obj.GetNamespace() == "" {
			return // metadata was not a map
		}
		set := object.NewSet()
		require.NoError(t, set.Add(obj, "fuzz"))
		traffic := rollout.Traffic{Weight: int32(weight)}
		tr := routerFor(t, r)
		if err := tr.Route(set, r, traffic); err != nil {
			return
		}
		twice := set.DeepCopy()
		require.NoError(t, tr.Route(twice, r, traffic))
		require.Equal(t, encodeSet(t, set), encodeSet(t, twice), "Route twice is not Route once")
		ok, err := tr.Verify(context.Background(), liveSet{set}, r, traffic)
		require.NoError(t, err)
		require.True(t, ok, "Verify is false on the objects Route wrote")
	})
}
