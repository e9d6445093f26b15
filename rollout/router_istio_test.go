package rollout_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/rollout"
)

// istioWeights maps each destination of the HTTP route named route
// ("" for an unnamed one) to its weight, keyed "host" or "host/subset".
func istioWeights(t testing.TB, vs *unstructured.Unstructured, kind, route string) map[string]any {
	t.Helper()
	routes, _, err := unstructured.NestedSlice(vs.Object, "spec", kind)
	require.NoError(t, err)
	for _, r := range routes {
		m := r.(map[string]any)
		if name, _ := m["name"].(string); name != route {
			continue
		}
		out := map[string]any{}
		for _, d := range m["route"].([]any) {
			dm := d.(map[string]any)
			dest := dm["destination"].(map[string]any)
			key := dest["host"].(string)
			if s, ok := dest["subset"].(string); ok {
				key += "/" + s
			}
			out[key] = dm["weight"]
		}
		return out
	}
	t.Fatalf("no %s route %q", kind, route)
	return nil
}

func istioRouteNames(t testing.TB, vs *unstructured.Unstructured) []string {
	t.Helper()
	routes, _, err := unstructured.NestedSlice(vs.Object, "spec", "http")
	require.NoError(t, err)
	var names []string
	for _, r := range routes {
		name, _ := r.(map[string]any)["name"].(string)
		names = append(names, name)
	}
	return names
}

const istioVS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: backend-vsvc}
spec:
  hosts: [backend]
  http:
  - name: primary
    route:
    - destination: {host: backend-stable, port: {number: 8080}}
      weight: 100
    - destination: {host: backend-canary, port: {number: 8080}}
      weight: 0
`

const istioDR = `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: backend-dr}
spec:
  host: backend
  subsets:
  - name: stable
    labels: {app: backend}
  - name: canary
    labels: {app: backend}
  - name: legacy
    labels: {app: backend-legacy}
`

const istioOther = `---
apiVersion: v1
kind: Service
metadata: {name: backend-stable}
spec: {selector: {app: backend}, ports: [{port: 8080}]}
`

// TestIstioRoutesTheSeedRollout routes the Rollout of
// gitops-patterns.md, as written there, through the VirtualService it
// names, at each of its weights.
func TestIstioRoutesTheSeedRollout(t *testing.T) {
	r := seedRollout(t, "backend")
	tr := routerFor(t, r)

	vs, err := os.ReadFile("testdata/router/backend-vsvc.yaml")
	require.NoError(t, err)
	set := routerSet(t, "backend", string(vs)+istioOther)
	id := routerID(t, "VirtualService.networking.istio.io/backend/backend-vsvc")
	for _, w := range []int32{5, 25, 50, 100} {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			out := routeChecked(t, tr, set, r, rollout.Traffic{Weight: w}, id)
			got := routedObject(t, out, id.String())
			assert.Equal(t, map[string]any{"backend-canary": int64(w), "backend-stable": int64(100 - w)}, istioWeights(t, got, "http", "primary"))
			// Only the weights changed.
			before := routedObject(t, set, id.String()).DeepCopy()
			routes := before.Object["spec"].(map[string]any)["http"].([]any)[0].(map[string]any)["route"].([]any)
			routes[0].(map[string]any)["weight"], routes[1].(map[string]any)["weight"] = int64(100-w), int64(w)
			assert.Equal(t, before.Object, got.Object)
		})
	}
}

func TestIstioRoute(t *testing.T) {
	const ns = "shop"
	vsID := "VirtualService.networking.istio.io/shop/backend-vsvc"
	drID := "DestinationRule.networking.istio.io/shop/backend-dr"
	for name, tc := range map[string]struct {
		reason  string
		routing string
		objects string
		traffic rollout.Traffic
		routed  []string
		// want maps "object|kind|route" to the route's weights.
		want map[string]map[string]any
		// names is the order of spec.http's route names after routing.
		names []string
		check func(t *testing.T, out *object.Set)
	}{
		"an unnamed only route": {
			reason:  "with no routes named, the VirtualService's only HTTP route is weighed",
			routing: `istio: {virtualService: {name: backend-vsvc}}`,
			objects: `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: backend-vsvc}
spec:
  http:
  - route:
    - destination: {host: backend-stable}
    - destination: {host: backend-canary}
`,
			traffic: rollout.Traffic{Weight: 30},
			routed:  []string{vsID},
			want:    map[string]map[string]any{vsID + "|http|": {"backend-canary": int64(30), "backend-stable": int64(70)}},
		},
		"FQDN hosts, a third destination, a string weight": {
			reason:  "hosts match by their first label as in Rollouts; another Service's destination is dropped as Rollouts drops it; a weight of the wrong type is overwritten",
			routing: `istio: {virtualService: {name: backend-vsvc, routes: [primary]}}`,
			objects: `apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: backend-vsvc}
spec:
  http:
  - name: other
    route: [{destination: {host: other}}]
  - name: primary
    route:
    - destination: {host: backend-stable.shop.svc.cluster.local}
      weight: "90"
    - destination: {host: backend-canary.shop.svc.cluster.local}
      weight: 10
    - destination: {host: backend-legacy}
      weight: 0
`,
			traffic: rollout.Traffic{Weight: 40},
			routed:  []string{vsID},
			want: map[string]map[string]any{
				vsID + "|http|primary": {"backend-canary.shop.svc.cluster.local": int64(40), "backend-stable.shop.svc.cluster.local": int64(60)},
				vsID + "|http|other":   {"other": nil},
			},
			names: []string{"other", "primary"},
		},
		"two VirtualServices, one in another namespace": {
			reason: "virtualServices lists several, and name.namespace names one in another namespace",
			routing: `istio:
  virtualServices:
  - {name: backend-vsvc, routes: [primary]}
  - {name: edge.gateways, routes: [backend, api]}`,
			objects: istioVS + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: edge, namespace: gateways}
spec:
  http:
  - name: api
    route: [{destination: {host: backend-stable.shop.svc.cluster.local}}, {destination: {host: backend-canary.shop.svc.cluster.local}}]
  - name: backend
    route: [{destination: {host: backend-canary.shop.svc.cluster.local}}, {destination: {host: backend-stable.shop.svc.cluster.local}}]
`,
			traffic: rollout.Traffic{Weight: 100},
			routed:  []string{vsID, "VirtualService.networking.istio.io/gateways/edge"},
			want: map[string]map[string]any{
				vsID + "|http|primary": {"backend-canary": int64(100), "backend-stable": int64(0)},
				"VirtualService.networking.istio.io/gateways/edge|http|api":     {"backend-canary.shop.svc.cluster.local": int64(100), "backend-stable.shop.svc.cluster.local": int64(0)},
				"VirtualService.networking.istio.io/gateways/edge|http|backend": {"backend-canary.shop.svc.cluster.local": int64(100), "backend-stable.shop.svc.cluster.local": int64(0)},
			},
		},
		"a TCP route beside the HTTP one": {
			reason:  "Rollouts weighs a VirtualService's only tcp route when tcpRoutes is not given",
			routing: `istio: {virtualService: {name: backend-vsvc, routes: [primary]}}`,
			objects: istioVS[:len(istioVS)-1] + `
  tcp:
  - route:
    - destination: {host: backend-stable, port: {number: 9000}}
    - destination: {host: backend-canary, port: {number: 9000}}
`,
			traffic: rollout.Traffic{Weight: 20},
			routed:  []string{vsID},
			want: map[string]map[string]any{
				vsID + "|http|primary": {"backend-canary": int64(20), "backend-stable": int64(80)},
				vsID + "|tcp|":         {"backend-canary": int64(20), "backend-stable": int64(80)},
			},
		},
		"subsets of a DestinationRule": {
			reason: "with a destinationRule the destinations are told apart by subset, and the subsets are pinned to the revisions; its other subsets are kept",
			routing: `istio:
  virtualService: {name: backend-vsvc}
  destinationRule: {name: backend-dr, canarySubsetName: canary, stableSubsetName: stable}`,
			objects: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: backend-vsvc}
spec:
  http:
  - route:
    - destination: {host: backend, subset: stable}
      weight: 100
    - destination: {host: backend, subset: canary}
` + istioDR,
			traffic: rollout.Traffic{Weight: 25, Canary: "abc", Stable: "def"},
			routed:  []string{vsID, drID},
			want:    map[string]map[string]any{vsID + "|http|": {"backend/canary": int64(25), "backend/stable": int64(75)}},
			check: func(t *testing.T, out *object.Set) {
				subsets, _, _ := unstructured.NestedSlice(routedObject(t, out, drID).Object, "spec", "subsets")
				assert.Equal(t, []any{
					map[string]any{"name": "stable", "labels": map[string]any{"app": "backend", rollout.LabelRevision: "def"}},
					map[string]any{"name": "canary", "labels": map[string]any{"app": "backend", rollout.LabelRevision: "abc"}},
					map[string]any{"name": "legacy", "labels": map[string]any{"app": "backend-legacy"}},
				}, subsets)
			},
		},
		"header routes": {
			reason: "header routes go on top of spec.http in managedRoutes order, one match per header, to the canary (the DestinationRule's host and canary subset, the weighed route's port) at 100",
			routing: `managedRoutes: [{name: beta}, {name: mobile}]
istio:
  virtualService: {name: backend-vsvc, routes: [primary]}
  destinationRule: {name: backend-dr, canarySubsetName: canary, stableSubsetName: stable}`,
			objects: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: backend-vsvc}
spec:
  http:
  - name: primary
    route:
    - destination: {host: backend, subset: stable, port: {number: 8080}}
    - destination: {host: backend, subset: canary, port: {number: 8080}}
` + istioDR,
			traffic: rollout.Traffic{Weight: 10, Canary: "abc", Stable: "def", HeaderRoutes: []rollout.HeaderRoute{
				{Name: "mobile", Match: []rollout.HeaderRouteMatch{{HeaderName: "user-agent", HeaderValue: rollout.StringMatch{Regex: ".*Mobile.*"}}}},
				{Name: "beta", Match: []rollout.HeaderRouteMatch{
					{HeaderName: "x-beta", HeaderValue: rollout.StringMatch{Exact: "yes"}},
					{HeaderName: "x-group", HeaderValue: rollout.StringMatch{Prefix: "beta-"}},
				}},
			}},
			routed: []string{vsID, drID},
			want:   map[string]map[string]any{vsID + "|http|primary": {"backend/canary": int64(10), "backend/stable": int64(90)}},
			names:  []string{"beta", "mobile", "primary"},
			check: func(t *testing.T, out *object.Set) {
				http, _, _ := unstructured.NestedSlice(routedObject(t, out, vsID).Object, "spec", "http")
				canary := []any{map[string]any{"destination": map[string]any{"host": "backend", "subset": "canary", "port": map[string]any{"number": int64(8080)}}, "weight": int64(100)}}
				assert.Equal(t, map[string]any{"name": "beta", "route": canary, "match": []any{
					map[string]any{"headers": map[string]any{"x-beta": map[string]any{"exact": "yes"}}},
					map[string]any{"headers": map[string]any{"x-group": map[string]any{"prefix": "beta-"}}},
				}}, http[0])
				assert.Equal(t, map[string]any{"name": "mobile", "route": canary, "match": []any{
					map[string]any{"headers": map[string]any{"user-agent": map[string]any{"regex": ".*Mobile.*"}}},
				}}, http[1])
			},
		},
		"header routes removed": {
			reason:  "a Traffic without header routes removes the managed routes (and only those), and a route without match is a removed one",
			routing: "managedRoutes: [{name: beta}]\nistio: {virtualService: {name: backend-vsvc}}",
			objects: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: backend-vsvc}
spec:
  http:
  - name: beta
    match: [{headers: {x-beta: {exact: "yes"}}}]
    route: [{destination: {host: backend-canary}, weight: 100}]
  - name: primary
    route: [{destination: {host: backend-stable}, weight: 100}, {destination: {host: backend-canary}, weight: 0}]
`,
			traffic: rollout.Traffic{Weight: 0, HeaderRoutes: []rollout.HeaderRoute{{Name: "beta"}}},
			routed:  []string{vsID},
			want:    map[string]map[string]any{vsID + "|http|primary": {"backend-canary": int64(0), "backend-stable": int64(100)}},
			names:   []string{"primary"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := routerRollout(t, ns, tc.routing)
			set := routerSet(t, ns, tc.objects+istioOther)
			var routed []object.ID
			for _, id := range tc.routed {
				routed = append(routed, routerID(t, id))
			}
			out := routeChecked(t, routerFor(t, r), set, r, tc.traffic, routed...)
			for key, want := range tc.want {
				parts := strings.Split(key, "|")
				id, kind, route := parts[0], parts[1], parts[2]
				assert.Equal(t, want, istioWeights(t, routedObject(t, out, id), kind, route), "%s: %s", key, tc.reason)
			}
			if tc.names != nil {
				assert.Equal(t, tc.names, istioRouteNames(t, routedObject(t, out, vsID)), tc.reason)
			}
			if tc.check != nil {
				tc.check(t, out)
			}
		})
	}
}

func TestIstioRouteRefuses(t *testing.T) {
	const ns = "shop"
	simple := `istio: {virtualService: {name: backend-vsvc, routes: [primary]}}`
	for name, tc := range map[string]struct {
		routing, objects string
		traffic          rollout.Traffic
		words            []string
	}{
		"a named route that does not exist": {
			routing: `istio: {virtualService: {name: backend-vsvc, routes: [primary, secondary]}}`,
			objects: istioVS,
			words:   []string{"rollout shop/backend", "VirtualService.networking.istio.io/shop/backend-vsvc", `spec.http has no route named "secondary"`},
		},
		"a route without the stable destination": {
			routing: simple,
			objects: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: backend-vsvc}
spec:
  http:
  - name: primary
    route: [{destination: {host: backend-canary}}]
`,
			words: []string{"VirtualService.networking.istio.io/shop/backend-vsvc", `spec.http[0] (route "primary")`, "stableService backend-stable"},
		},
		"a route without the canary destination": {
			routing: simple,
			objects: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: backend-vsvc}
spec:
  http:
  - name: primary
    route: [{destination: {host: backend-stable}}]
`,
			words: []string{`spec.http[0] (route "primary")`, "canaryService backend-canary"},
		},
		"two routes and none named": {
			routing: `istio: {virtualService: {name: backend-vsvc}}`,
			objects: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: backend-vsvc}
spec:
  http:
  - route: [{destination: {host: backend-stable}}, {destination: {host: backend-canary}}]
  - route: [{destination: {host: backend-stable}}, {destination: {host: backend-canary}}]
`,
			words: []string{"spec.http has 2 routes"},
		},
		"no spec.http": {
			routing: simple,
			objects: "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: backend-vsvc}\nspec: {hosts: [backend]}\n",
			words:   []string{"VirtualService.networking.istio.io/shop/backend-vsvc", "spec.http is missing"},
		},
		"routes that are scalars": {
			routing: simple,
			objects: "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: backend-vsvc}\nspec: {http: [primary, 3]}\n",
			words:   []string{"spec.http[0]: is a string, not a map"},
		},
		"destinations that are not a list": {
			routing: simple,
			objects: "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: backend-vsvc}\nspec: {http: [{name: primary, route: backend-canary}]}\n",
			words:   []string{`spec.http[0] (route "primary").route: is a string, not a list`},
		},
		"a host that is a number": {
			routing: simple,
			objects: "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: backend-vsvc}\nspec: {http: [{name: primary, route: [{destination: {host: 7}}]}]}\n",
			words:   []string{`route[0].destination.host: is a number, not a string`},
		},
		"a VirtualService not in the set": {
			routing: `istio: {virtualService: {name: frontend}}`,
			objects: istioVS,
			words:   []string{"rollout shop/backend", "VirtualService.networking.istio.io/shop/frontend is not among the rendered objects"},
		},
		"a DestinationRule not in the set": {
			routing: "istio:\n  virtualService: {name: backend-vsvc}\n  destinationRule: {name: backend-dr, canarySubsetName: canary, stableSubsetName: stable}",
			objects: istioVS,
			words:   []string{"DestinationRule.networking.istio.io/shop/backend-dr is not among the rendered objects"},
		},
		"a subset the DestinationRule lacks": {
			routing: "istio:\n  virtualService: {name: backend-vsvc}\n  destinationRule: {name: backend-dr, canarySubsetName: preview, stableSubsetName: stable}",
			objects: istioVS + istioDR,
			words:   []string{"DestinationRule.networking.istio.io/shop/backend-dr", `spec.subsets has no subset "preview"`},
		},
		"a header route not in managedRoutes": {
			routing: "managedRoutes: [{name: beta}]\n" + simple,
			objects: istioVS,
			traffic: rollout.Traffic{HeaderRoutes: []rollout.HeaderRoute{{Name: "alpha", Match: []rollout.HeaderRouteMatch{{HeaderName: "x", HeaderValue: rollout.StringMatch{Exact: "1"}}}}}},
			words:   []string{"rollout shop/backend", `header route "alpha" is not in spec.strategy.canary.trafficRouting.managedRoutes`},
		},
		"a weight that is not a percentage": {
			routing: simple,
			objects: istioVS,
			traffic: rollout.Traffic{Weight: 101},
			words:   []string{"rollout shop/backend", "weight 101"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := routerRollout(t, ns, tc.routing)
			set := routerSet(t, ns, tc.objects)
			before := encodeSet(t, set)
			err := routerFor(t, r).Route(set, r, tc.traffic)
			assertRouteError(t, err, tc.words...)
			assert.Equal(t, before, encodeSet(t, set), "a failed Route changed the set")
		})
	}
}

func TestIstioRouterRefusesItsConfiguration(t *testing.T) {
	for name, tc := range map[string]struct {
		routing string
		words   []string
		is      error
	}{
		"tlsRoutes": {
			routing: `istio: {virtualService: {name: vs, tlsRoutes: [{port: 443}]}}`,
			words:   []string{"spec.strategy.canary.trafficRouting.istio.virtualService.tlsRoutes"}, is: rollout.ErrUnsupported,
		},
		"tcpRoutes": {
			routing: `istio: {virtualServices: [{name: a}, {name: vs, tcpRoutes: [{port: 9000}]}]}`,
			words:   []string{"istio.virtualServices[1].tcpRoutes"}, is: rollout.ErrUnsupported,
		},
		"both forms":          {routing: `istio: {virtualService: {name: a}, virtualServices: [{name: b}]}`, words: []string{"virtualService and virtualServices are both set"}},
		"neither":             {routing: `istio: {destinationRule: {name: dr, canarySubsetName: c, stableSubsetName: s}}`, words: []string{"one of virtualService and virtualServices is required"}},
		"a route managed too": {routing: "managedRoutes: [{name: primary}]\nistio: {virtualService: {name: a, routes: [primary]}}", words: []string{"routes[0]", "also in managedRoutes"}},
		"a subset for both":   {routing: `istio: {virtualService: {name: a}, destinationRule: {name: dr, canarySubsetName: s, stableSubsetName: s}}`, words: []string{"both \"s\""}},
	} {
		t.Run(name, func(t *testing.T) {
			r := routerRollout(t, "shop", tc.routing)
			_, err := rollout.RouterFor(r)
			assertRouteError(t, err, tc.words...)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
		})
	}
}

func TestIstioVerify(t *testing.T) {
	r := routerRollout(t, "shop", "managedRoutes: [{name: beta}]\nistio:\n  virtualService: {name: backend-vsvc, routes: [primary]}\n  destinationRule: {name: backend-dr, canarySubsetName: canary, stableSubsetName: stable}")
	set := routerSet(t, "shop", `apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: backend-vsvc}
spec:
  http:
  - name: primary
    route: [{destination: {host: backend, subset: stable}}, {destination: {host: backend, subset: canary}}]
`+istioDR)
	tr := routerFor(t, r)
	beta := []rollout.HeaderRoute{{Name: "beta", Match: []rollout.HeaderRouteMatch{{HeaderName: "x-beta", HeaderValue: rollout.StringMatch{Exact: "yes"}}}}}
	at := rollout.Traffic{Weight: 30, Canary: "abc", Stable: "def", HeaderRoutes: beta}
	live := liveSet{routeChecked(t, tr, set, r, at, routerID(t, "VirtualService.networking.istio.io/shop/backend-vsvc"), routerID(t, "DestinationRule.networking.istio.io/shop/backend-dr"))}
	ctx := context.Background()
	for name, tc := range map[string]struct {
		traffic rollout.Traffic
		want    bool
	}{
		"the split routed":         {at, true},
		"another weight":           {rollout.Traffic{Weight: 31, Canary: "abc", Stable: "def", HeaderRoutes: beta}, false},
		"without the header route": {rollout.Traffic{Weight: 30, Canary: "abc", Stable: "def"}, false},
		"another canary revision":  {rollout.Traffic{Weight: 30, Canary: "xyz", Stable: "def", HeaderRoutes: beta}, false},
		"no canary revision":       {rollout.Traffic{Weight: 30, Stable: "def", HeaderRoutes: beta}, false},
	} {
		t.Run(name, func(t *testing.T) {
			ok, err := tr.Verify(ctx, live, r, tc.traffic)
			require.NoError(t, err)
			assert.Equal(t, tc.want, ok)
		})
	}
	t.Run("the live VirtualService missing", func(t *testing.T) {
		empty := liveSet{object.NewSet()}
		ok, err := tr.Verify(ctx, empty, r, at)
		require.NoError(t, err)
		assert.False(t, ok)
	})
	t.Run("a read that fails", func(t *testing.T) {
		_, err := tr.Verify(ctx, failingLive{}, r, at)
		assert.ErrorContains(t, err, "connection refused")
	})
}

// FuzzIstioRoute feeds arbitrary YAML as the VirtualService (and its
// DestinationRule): Route must not panic, and when it succeeds its
// output must route to itself and verify.
func FuzzIstioRoute(f *testing.F) {
	for _, seed := range []string{
		istioVS,
		"spec: {http: [{route: [{destination: {host: backend-stable}, weight: \"x\"}, {destination: {host: backend-canary}}]}]}",
		"spec: {http: [primary, [1, 2]]}",
		"spec: {http: {name: primary}}",
		"spec: {tcp: [{route: [{destination: {host: backend-stable}}, {destination: {host: backend-canary.x}}]}], http: null}",
		"spec: {http: [{name: primary, route: [{destination: {host: .backend-canary}}, {destination: 3}, {weight: []}]}]}",
		"spec: {http: [{name: beta}, {name: primary, route: [{destination: {host: backend, subset: canary, port: {number: x}}}, {destination: {host: backend, subset: stable}}]}]}",
		"spec: {host: backend, subsets: [{name: canary, labels: 3}, {name: stable}]}",
		"spec: 7",
		"[1, 2]",
	} {
		f.Add([]byte(seed), int8(10), true)
	}
	routings := []*rollout.Rollout{
		routerRollout(f, "shop", "managedRoutes: [{name: beta}]\nistio: {virtualService: {name: backend-vsvc, routes: [primary]}}"),
		routerRollout(f, "shop", "managedRoutes: [{name: beta}]\nistio:\n  virtualService: {name: backend-vsvc}\n  destinationRule: {name: backend-dr, canarySubsetName: canary, stableSubsetName: stable}"),
	}
	f.Fuzz(func(t *testing.T, data []byte, weight int8, header bool) {
		objs, err := object.DecodeBytes(data, object.DefaultDecodeOptions())
		if err != nil || len(objs) != 1 {
			return
		}
		traffic := rollout.Traffic{Weight: int32(weight), Canary: "abc", Stable: "def"}
		if header {
			traffic.HeaderRoutes = []rollout.HeaderRoute{{Name: "beta", Match: []rollout.HeaderRouteMatch{{HeaderName: "x-beta", HeaderValue: rollout.StringMatch{Exact: "yes"}}}}}
		}
		for _, r := range routings {
			set := object.NewSet()
			for _, kind := range []string{"VirtualService", "DestinationRule"} {
				obj := objs[0].DeepCopy()
				obj.SetAPIVersion("networking.istio.io/v1")
				obj.SetKind(kind)
				obj.SetNamespace("shop")
				obj.SetName(map[string]string{"VirtualService": "backend-vsvc", "DestinationRule": "backend-dr"}[kind])
				if obj.GetName() == "" || obj.GetNamespace() == "" {
					return // metadata was not a map
				}
				require.NoError(t, set.Add(obj, "fuzz"))
			}
			tr := routerFor(t, r)
			out := set.DeepCopy()
			if err := tr.Route(out, r, traffic); err != nil {
				continue
			}
			twice := out.DeepCopy()
			require.NoError(t, tr.Route(twice, r, traffic))
			require.Equal(t, encodeSet(t, out), encodeSet(t, twice), "Route twice is not Route once")
			ok, err := tr.Verify(context.Background(), liveSet{out}, r, traffic)
			require.NoError(t, err)
			require.True(t, ok, "Verify is false on the objects Route wrote")
		}
	})
}
