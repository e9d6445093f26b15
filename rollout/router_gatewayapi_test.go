package rollout_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/rollout"
)

const gatewayRoute = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: backend}
spec:
  parentRefs: [{name: edge}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}}]
    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: x-via, value: edge}]}}]
    backendRefs:
    - {name: backend-stable, port: 8080, weight: 100}
    - {name: backend-canary, port: 8080, weight: 0}
  - backendRefs:
    - {name: backend-stable, port: 8080}
    - {name: backend-canary, port: 8080}
    - {name: backend-legacy, port: 8080, weight: 5}
  - matches: [{path: {type: PathPrefix, value: /static}}]
    backendRefs: [{name: backend-stable, port: 8080}]
`

// gatewayWeights lists, rule by rule, each backendRef's name and weight
// (nil when it has none).
func gatewayWeights(t testing.TB, route *unstructured.Unstructured) [][]any {
	t.Helper()
	rules, _, err := unstructured.NestedSlice(route.Object, "spec", "rules")
	require.NoError(t, err)
	var out [][]any
	for _, r := range rules {
		refs, _ := r.(map[string]any)["backendRefs"].([]any)
		var row []any
		for _, ref := range refs {
			m := ref.(map[string]any)
			row = append(row, m["name"], m["weight"])
		}
		out = append(out, row)
	}
	return out
}

func TestGatewayAPIRoute(t *testing.T) {
	routeID := "HTTPRoute.gateway.networking.k8s.io/shop/backend"
	for name, tc := range map[string]struct {
		reason  string
		routing string
		objects string
		traffic rollout.Traffic
		routed  []string
		want    map[string][][]any
		check   func(t *testing.T, out *object.Set)
	}{
		"the rules with both backends": {
			reason:  "every rule with both Services is weighed; a rule with one of them, and other backends, are left alone",
			routing: `plugins: {argoproj-labs/gatewayAPI: {httpRoute: backend}}`,
			objects: gatewayRoute,
			traffic: rollout.Traffic{Weight: 30},
			routed:  []string{routeID},
			want: map[string][][]any{routeID: {
				{"backend-stable", int64(70), "backend-canary", int64(30)},
				{"backend-stable", int64(70), "backend-canary", int64(30), "backend-legacy", int64(5)},
				{"backend-stable", nil},
			}},
		},
		"several routes in another namespace": {
			reason: "httpRoutes names several, and namespace their namespace; a ref is the Rollout's Service only in the Rollout's namespace",
			routing: `plugins:
  argoproj-labs/gatewayAPI:
    namespace: edge
    httpRoutes: [{name: a}, {name: b}]`,
			objects: `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: a, namespace: edge}
spec:
  rules:
  - backendRefs:
    - {name: backend-stable, namespace: shop, port: 80}
    - {name: backend-canary, namespace: shop, port: 80}
  - backendRefs:
    - {name: backend-stable, port: 80}
    - {name: backend-canary, port: 80}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata: {name: b, namespace: edge}
spec:
  rules:
  - backendRefs:
    - {name: backend-stable, namespace: shop, port: 80, kind: Service, group: ""}
    - {name: backend-canary, namespace: shop, port: 80}
    - {name: backend-canary, namespace: shop, port: 80, kind: ServiceImport, group: multicluster.x-k8s.io}
`,
			traffic: rollout.Traffic{Weight: 100},
			routed:  []string{"HTTPRoute.gateway.networking.k8s.io/edge/a", "HTTPRoute.gateway.networking.k8s.io/edge/b"},
			want: map[string][][]any{
				"HTTPRoute.gateway.networking.k8s.io/edge/a": {{"backend-stable", int64(0), "backend-canary", int64(100)}, {"backend-stable", nil, "backend-canary", nil}},
				"HTTPRoute.gateway.networking.k8s.io/edge/b": {{"backend-stable", int64(0), "backend-canary", int64(100), "backend-canary", nil}},
			},
		},
		"header routes": {
			reason: "a header route adds a rule per weighed rule, named as the plugin names them, with its matches and filters and the header matches, to the canary alone",
			routing: `managedRoutes: [{name: beta}, {name: mobile}]
plugins: {argoproj-labs/gatewayAPI: {httpRoute: backend}}`,
			objects: gatewayRoute,
			traffic: rollout.Traffic{Weight: 10, HeaderRoutes: []rollout.HeaderRoute{
				{Name: "mobile", Match: []rollout.HeaderRouteMatch{{HeaderName: "user-agent", HeaderValue: rollout.StringMatch{Regex: ".*Mobile.*"}}}},
				{Name: "beta", Match: []rollout.HeaderRouteMatch{
					{HeaderName: "x-beta", HeaderValue: rollout.StringMatch{Exact: "yes"}},
					{HeaderName: "x-group", HeaderValue: rollout.StringMatch{Prefix: "beta.1"}},
				}},
			}},
			routed: []string{routeID},
			check: func(t *testing.T, out *object.Set) {
				rules, _, _ := unstructured.NestedSlice(routedObject(t, out, routeID).Object, "spec", "rules")
				require.Len(t, rules, 7)
				var names []any
				for _, r := range rules {
					names = append(names, r.(map[string]any)["name"])
				}
				assert.Equal(t, []any{nil, nil, nil, "beta", "beta-1", "mobile", "mobile-1"}, names)
				canary := []any{map[string]any{"group": "", "kind": "Service", "name": "backend-canary", "port": int64(8080)}}
				beta := []any{
					map[string]any{"name": "x-beta", "type": "Exact", "value": "yes"},
					map[string]any{"name": "x-group", "type": "RegularExpression", "value": `beta\.1.*`},
				}
				assert.Equal(t, map[string]any{
					"name":        "beta",
					"matches":     []any{map[string]any{"path": map[string]any{"type": "PathPrefix", "value": "/api"}, "headers": beta}},
					"filters":     rules[0].(map[string]any)["filters"],
					"backendRefs": canary,
				}, rules[3])
				assert.Equal(t, map[string]any{
					"name":        "beta-1",
					"matches":     []any{map[string]any{"path": map[string]any{"type": "PathPrefix", "value": "/"}, "headers": beta}},
					"backendRefs": canary,
				}, rules[4])
				assert.Equal(t, []any{map[string]any{"path": map[string]any{"type": "PathPrefix", "value": "/"}, "headers": []any{
					map[string]any{"name": "user-agent", "type": "RegularExpression", "value": ".*Mobile.*"},
				}}}, rules[6].(map[string]any)["matches"])
			},
		},
		"header routes removed": {
			reason: "without header routes the managed rules go (a managed route's own name and its -N names), on the routes that use header routes only",
			routing: `managedRoutes: [{name: beta}]
plugins:
  argoproj-labs/gatewayAPI:
    httpRoutes: [{name: backend, useHeaderRoutes: true}, {name: other}]`,
			objects: `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: backend}
spec:
  rules:
  - backendRefs: [{name: backend-stable, port: 80}, {name: backend-canary, port: 80}]
  - name: beta
    backendRefs: [{name: backend-canary, port: 80}]
  - name: beta-1
    backendRefs: [{name: backend-canary, port: 80}]
  - name: beta-x
    backendRefs: [{name: backend-canary, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: other}
spec:
  rules:
  - backendRefs: [{name: backend-stable, port: 80}, {name: backend-canary, port: 80}]
  - name: beta
    backendRefs: [{name: backend-canary, port: 80}]
`,
			traffic: rollout.Traffic{Weight: 0},
			routed:  []string{routeID, "HTTPRoute.gateway.networking.k8s.io/shop/other"},
			want: map[string][][]any{
				routeID: {{"backend-stable", int64(100), "backend-canary", int64(0)}, {"backend-canary", nil}},
				"HTTPRoute.gateway.networking.k8s.io/shop/other": {{"backend-stable", int64(100), "backend-canary", int64(0)}, {"backend-canary", nil}},
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := routerRollout(t, "shop", tc.routing)
			set := routerSet(t, "shop", tc.objects+istioOther)
			var routed []object.ID
			for _, id := range tc.routed {
				routed = append(routed, routerID(t, id))
			}
			out := routeChecked(t, routerFor(t, r), set, r, tc.traffic, routed...)
			for id, want := range tc.want {
				assert.Equal(t, want, gatewayWeights(t, routedObject(t, out, id)), "%s: %s", id, tc.reason)
			}
			if tc.check != nil {
				tc.check(t, out)
			}
		})
	}
}

func TestGatewayAPIRouteRefuses(t *testing.T) {
	simple := `plugins: {argoproj-labs/gatewayAPI: {httpRoute: backend}}`
	for name, tc := range map[string]struct {
		routing, objects string
		traffic          rollout.Traffic
		words            []string
	}{
		"no rule with both backends": {
			routing: simple,
			objects: "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: backend}\nspec: {rules: [{backendRefs: [{name: backend-stable, port: 80}]}, {backendRefs: [{name: backend-canary, port: 80}]}]}\n",
			words:   []string{"rollout shop/backend", "HTTPRoute.gateway.networking.k8s.io/shop/backend", "spec.rules: no rule has backendRefs to both the canaryService backend-canary and the stableService backend-stable"},
		},
		"no rules": {
			routing: simple,
			objects: "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: backend}\nspec: {parentRefs: [{name: edge}]}\n",
			words:   []string{"spec.rules: no rule has backendRefs"},
		},
		"a ref that is a string": {
			routing: simple,
			objects: "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: backend}\nspec: {rules: [{backendRefs: [backend-stable]}]}\n",
			words:   []string{"spec.rules[0].backendRefs[0]: is a string, not a map"},
		},
		"a route not in the set": {
			routing: `plugins: {argoproj-labs/gatewayAPI: {httpRoute: frontend}}`,
			objects: gatewayRoute,
			words:   []string{"rollout shop/backend", "HTTPRoute.gateway.networking.k8s.io/shop/frontend is not among the rendered objects"},
		},
		"a header rule over a header the rule matches": {
			routing: "managedRoutes: [{name: beta}]\n" + simple,
			objects: "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: backend}\nspec: {rules: [{matches: [{headers: [{name: X-Beta, value: no}]}], backendRefs: [{name: backend-stable, port: 80}, {name: backend-canary, port: 80}]}]}\n",
			traffic: rollout.Traffic{HeaderRoutes: []rollout.HeaderRoute{{Name: "beta", Match: []rollout.HeaderRouteMatch{{HeaderName: "x-beta", HeaderValue: rollout.StringMatch{Exact: "yes"}}}}}},
			words:   []string{`header route "beta": a rule it copies already matches header X-Beta`},
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := routerRollout(t, "shop", tc.routing)
			set := routerSet(t, "shop", tc.objects)
			before := encodeSet(t, set)
			assertRouteError(t, routerFor(t, r).Route(set, r, tc.traffic), tc.words...)
			assert.Equal(t, before, encodeSet(t, set), "a failed Route changed the set")
		})
	}
}

func TestGatewayAPIRouterRefusesItsConfiguration(t *testing.T) {
	const p = "spec.strategy.canary.trafficRouting.plugins.argoproj-labs/gatewayAPI"
	for name, tc := range map[string]struct {
		routing string
		words   []string
		is      error
	}{
		"an unknown field":         {routing: `plugins: {argoproj-labs/gatewayAPI: {httpRoute: a, httpRout: b}}`, words: []string{p + ".httpRout: unknown field"}},
		"an unknown nested field":  {routing: `plugins: {argoproj-labs/gatewayAPI: {httpRoutes: [{name: a, useHeaderRoute: true}]}}`, words: []string{p, `unknown field "useHeaderRoute"`}},
		"a grpcRoute":              {routing: `plugins: {argoproj-labs/gatewayAPI: {grpcRoute: a}}`, words: []string{p + ".grpcRoute"}, is: rollout.ErrUnsupported},
		"a selector":               {routing: `plugins: {argoproj-labs/gatewayAPI: {httpRouteSelector: {matchLabels: {a: b}}}}`, words: []string{p + ".httpRouteSelector"}, is: rollout.ErrUnsupported},
		"no route":                 {routing: `plugins: {argoproj-labs/gatewayAPI: {namespace: edge}}`, words: []string{"httpRoute or httpRoutes is required"}},
		"not a map":                {routing: `plugins: {argoproj-labs/gatewayAPI: [a]}`, words: []string{p + ": is not a map"}},
		"a route named twice":      {routing: `plugins: {argoproj-labs/gatewayAPI: {httpRoute: a, httpRoutes: [{name: a}]}}`, words: []string{`HTTPRoute "a" is named twice`}},
		"a managed route misnamed": {routing: "managedRoutes: [{name: Beta_1}]\n" + `plugins: {argoproj-labs/gatewayAPI: {httpRoute: a}}`, words: []string{"managedRoutes[0]", "cannot name an HTTPRoute rule"}},
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
	t.Run("disableInProgressLabel is accepted", func(t *testing.T) {
		r := routerRollout(t, "shop", `plugins: {argoproj-labs/gatewayAPI: {httpRoute: a, disableInProgressLabel: true}}`)
		_, err := rollout.RouterFor(r)
		assert.NoError(t, err)
	})
}

func TestGatewayAPIVerify(t *testing.T) {
	r := routerRollout(t, "shop", "managedRoutes: [{name: beta}]\nplugins: {argoproj-labs/gatewayAPI: {httpRoute: backend}}")
	tr := routerFor(t, r)
	beta := []rollout.HeaderRoute{{Name: "beta", Match: []rollout.HeaderRouteMatch{{HeaderName: "x-beta", HeaderValue: rollout.StringMatch{Exact: "yes"}}}}}
	at := rollout.Traffic{Weight: 30, HeaderRoutes: beta}
	out := routeChecked(t, tr, routerSet(t, "shop", gatewayRoute), r, at, routerID(t, "HTTPRoute.gateway.networking.k8s.io/shop/backend"))

	// The API server defaults the refs' weights, kinds and groups, and
	// each match's path: Verify reads through the defaults.
	defaulted := out.DeepCopy()
	route := routedObject(t, defaulted, "HTTPRoute.gateway.networking.k8s.io/shop/backend")
	rules, _, _ := unstructured.NestedSlice(route.Object, "spec", "rules")
	for _, rv := range rules {
		rule := rv.(map[string]any)
		for _, ref := range rule["backendRefs"].([]any) {
			m := ref.(map[string]any)
			for k, v := range map[string]any{"group": "", "kind": "Service", "weight": int64(1)} {
				if _, ok := m[k]; !ok {
					m[k] = v
				}
			}
		}
		if _, ok := rule["matches"]; !ok {
			rule["matches"] = []any{map[string]any{"path": map[string]any{"type": "PathPrefix", "value": "/"}}}
		}
	}
	require.NoError(t, unstructured.SetNestedSlice(route.Object, rules, "spec", "rules"))

	ctx := context.Background()
	for name, tc := range map[string]struct {
		live    rollout.Reader
		traffic rollout.Traffic
		want    bool
	}{
		"the split routed":         {liveSet{out}, at, true},
		"the split, defaulted":     {liveSet{defaulted}, at, true},
		"another weight":           {liveSet{defaulted}, rollout.Traffic{Weight: 29, HeaderRoutes: beta}, false},
		"without the header route": {liveSet{defaulted}, rollout.Traffic{Weight: 30}, false},
		"the live route missing":   {liveSet{object.NewSet()}, at, false},
		"another header":           {liveSet{out}, rollout.Traffic{Weight: 30, HeaderRoutes: []rollout.HeaderRoute{{Name: "beta", Match: []rollout.HeaderRouteMatch{{HeaderName: "x-beta", HeaderValue: rollout.StringMatch{Exact: "no"}}}}}}, false},
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

// FuzzGatewayAPIRoute feeds arbitrary YAML as the HTTPRoute: Route must
// not panic, and when it succeeds its output must route to itself and
// verify.
func FuzzGatewayAPIRoute(f *testing.F) {
	for _, seed := range []string{
		gatewayRoute,
		"spec: {rules: [{backendRefs: [{name: backend-stable, weight: \"x\"}, {name: backend-canary, namespace: 3}]}]}",
		"spec: {rules: [a, [1]]}",
		"spec: {rules: {backendRefs: []}}",
		"spec: {rules: [{name: beta-1, backendRefs: [{name: backend-canary}]}, {matches: [x, {headers: 3}], filters: 5, backendRefs: [{name: backend-stable, port: {x: 1}}, {name: backend-canary, kind: 4}]}]}",
		"spec: {rules: [{matches: [{headers: [{name: x-beta}]}], backendRefs: [{name: backend-stable}, {name: backend-canary}]}]}",
		"spec: null",
	} {
		f.Add([]byte(seed), int8(10), true)
	}
	r := routerRollout(f, "shop", "managedRoutes: [{name: beta}]\nplugins: {argoproj-labs/gatewayAPI: {httpRoute: backend}}")
	f.Fuzz(func(t *testing.T, data []byte, weight int8, header bool) {
		objs, err := object.DecodeBytes(data, object.DefaultDecodeOptions())
		if err != nil || len(objs) != 1 {
			return
		}
		obj := objs[0]
		obj.SetAPIVersion("gateway.networking.k8s.io/v1")
		obj.SetKind("HTTPRoute")
		obj.SetNamespace("shop")
		obj.SetName("backend")
		if obj.GetName() == "" || obj.GetNamespace() == "" {
			return // metadata was not a map
		}
		set := object.NewSet()
		require.NoError(t, set.Add(obj, "fuzz"))
		traffic := rollout.Traffic{Weight: int32(weight)}
		if header {
			traffic.HeaderRoutes = []rollout.HeaderRoute{{Name: "beta", Match: []rollout.HeaderRouteMatch{{HeaderName: "x-beta", HeaderValue: rollout.StringMatch{Prefix: "y"}}}}}
		}
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
