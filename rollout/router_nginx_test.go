package rollout_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/rollout"
)

const nginxIngress = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: backend
  annotations: {kubernetes.io/ingress.class: nginx, nginx.ingress.kubernetes.io/rewrite-target: /}
  labels: {app: backend}
spec:
  ingressClassName: nginx
  tls: [{hosts: [shop.example.com], secretName: shop-tls}]
  defaultBackend: {service: {name: backend-stable, port: {number: 80}}}
  rules:
  - host: shop.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: backend-stable, port: {number: 80}}}}
      - {path: /static, pathType: Prefix, backend: {service: {name: static, port: {number: 80}}}}
  - host: admin.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: admin, port: {number: 80}}}}
  - host: bare.example.com
`

func TestNginxRoute(t *testing.T) {
	canaryID := "Ingress.networking.k8s.io/shop/backend-backend-canary"
	rules := []any{map[string]any{"host": "shop.example.com", "http": map[string]any{"paths": []any{
		map[string]any{"path": "/", "pathType": "Prefix", "backend": map[string]any{"service": map[string]any{"name": "backend-canary", "port": map[string]any{"number": int64(80)}}}},
		map[string]any{"path": "/static", "pathType": "Prefix", "backend": map[string]any{"service": map[string]any{"name": "static", "port": map[string]any{"number": int64(80)}}}},
	}}}}
	for name, tc := range map[string]struct {
		reason  string
		routing string
		traffic rollout.Traffic
		want    map[string]any // the canary Ingress's annotations
	}{
		"the weight": {
			reason:  "a copy of the rules that reach the stableService, sent to the canaryService, with the canary annotations, the class, the TLS",
			routing: `nginx: {stableIngress: backend}`,
			traffic: rollout.Traffic{Weight: 20},
			want: map[string]any{
				"kubernetes.io/ingress.class":               "nginx",
				"nginx.ingress.kubernetes.io/canary":        "true",
				"nginx.ingress.kubernetes.io/canary-weight": "20",
				rollout.AnnotationRouteOf:                   "backend",
			},
		},
		"a prefix and additional annotations": {
			reason:  "additionalIngressAnnotations are prefixed unless they are already",
			routing: `nginx: {stableIngress: backend, annotationPrefix: example.com, additionalIngressAnnotations: {canary-by-cookie: beta, example.com/load-balance: ewma}}`,
			traffic: rollout.Traffic{Weight: 0},
			want: map[string]any{
				"kubernetes.io/ingress.class":  "nginx",
				"example.com/canary":           "true",
				"example.com/canary-weight":    "0",
				"example.com/canary-by-cookie": "beta",
				"example.com/load-balance":     "ewma",
				rollout.AnnotationRouteOf:      "backend",
			},
		},
		"an exact header": {
			reason:  "one header route with one exact match is canary-by-header and canary-by-header-value",
			routing: "managedRoutes: [{name: beta}]\nnginx: {stableIngress: backend}",
			traffic: rollout.Traffic{Weight: 5, HeaderRoutes: []rollout.HeaderRoute{{Name: "beta", Match: []rollout.HeaderRouteMatch{{HeaderName: "X-Beta", HeaderValue: rollout.StringMatch{Exact: "yes"}}}}}},
			want: map[string]any{
				"kubernetes.io/ingress.class":                        "nginx",
				"nginx.ingress.kubernetes.io/canary":                 "true",
				"nginx.ingress.kubernetes.io/canary-weight":          "5",
				"nginx.ingress.kubernetes.io/canary-by-header":       "X-Beta",
				"nginx.ingress.kubernetes.io/canary-by-header-value": "yes",
				rollout.AnnotationRouteOf:                            "backend",
			},
		},
		"a regex header": {
			reason:  "a regex is canary-by-header-pattern, anchored as Istio and the Gateway API match it",
			routing: "managedRoutes: [{name: beta}]\nnginx: {stableIngress: backend}",
			traffic: rollout.Traffic{Weight: 5, HeaderRoutes: []rollout.HeaderRoute{{Name: "beta", Match: []rollout.HeaderRouteMatch{{HeaderName: "User-Agent", HeaderValue: rollout.StringMatch{Regex: ".*Mobile.*"}}}}}},
			want: map[string]any{
				"kubernetes.io/ingress.class":                          "nginx",
				"nginx.ingress.kubernetes.io/canary":                   "true",
				"nginx.ingress.kubernetes.io/canary-weight":            "5",
				"nginx.ingress.kubernetes.io/canary-by-header":         "User-Agent",
				"nginx.ingress.kubernetes.io/canary-by-header-pattern": "^(?:.*Mobile.*)$",
				rollout.AnnotationRouteOf:                              "backend",
			},
		},
		"a prefix header": {
			reason:  "a prefix is the pattern of the quoted prefix",
			routing: "managedRoutes: [{name: beta}]\nnginx: {stableIngress: backend}",
			traffic: rollout.Traffic{Weight: 5, HeaderRoutes: []rollout.HeaderRoute{{Name: "beta", Match: []rollout.HeaderRouteMatch{{HeaderName: "X-Group", HeaderValue: rollout.StringMatch{Prefix: "beta.1"}}}}}},
			want: map[string]any{
				"kubernetes.io/ingress.class":                          "nginx",
				"nginx.ingress.kubernetes.io/canary":                   "true",
				"nginx.ingress.kubernetes.io/canary-weight":            "5",
				"nginx.ingress.kubernetes.io/canary-by-header":         "X-Group",
				"nginx.ingress.kubernetes.io/canary-by-header-pattern": `^beta\.1`,
				rollout.AnnotationRouteOf:                              "backend",
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := routerRollout(t, "shop", tc.routing)
			set := routerSet(t, "shop", nginxIngress+istioOther)
			out := routeChecked(t, routerFor(t, r), set, r, tc.traffic, routerID(t, canaryID))
			require.Equal(t, set.Len()+1, out.Len())
			assert.Equal(t, map[string]any{
				"apiVersion": "networking.k8s.io/v1",
				"kind":       "Ingress",
				"metadata":   map[string]any{"name": "backend-backend-canary", "namespace": "shop", "annotations": tc.want},
				"spec": map[string]any{
					"ingressClassName": "nginx",
					"tls":              []any{map[string]any{"hosts": []any{"shop.example.com"}, "secretName": "shop-tls"}},
					"rules":            rules,
				},
			}, routedObject(t, out, canaryID).Object, tc.reason)
		})
	}
}

func TestNginxRoutesSeveralIngresses(t *testing.T) {
	r := routerRollout(t, "shop", "nginx: {stableIngresses: [a, b]}")
	ingress := func(name string) string {
		return "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: " + name + "}\nspec: {rules: [{http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: backend-stable, port: {number: 80}}}}]}}]}\n"
	}
	set := routerSet(t, "shop", ingress("a")+ingress("b"))
	out := routeChecked(t, routerFor(t, r), set, r, rollout.Traffic{Weight: 50},
		routerID(t, "Ingress.networking.k8s.io/shop/backend-a-canary"), routerID(t, "Ingress.networking.k8s.io/shop/backend-b-canary"))
	for _, name := range []string{"backend-a-canary", "backend-b-canary"} {
		assert.Equal(t, "50", routedObject(t, out, "Ingress.networking.k8s.io/shop/"+name).GetAnnotations()["nginx.ingress.kubernetes.io/canary-weight"])
	}
}

func TestNginxCanaryNameIsCut(t *testing.T) {
	long := strings.Repeat("a", 250)
	r := routerRollout(t, "shop", "nginx: {stableIngress: "+long+"}")
	set := routerSet(t, "shop", "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: "+long+"}\nspec: {rules: [{http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: backend-stable, port: {number: 80}}}}]}}]}\n")
	name := ("backend-" + long)[:246] + "-canary"
	routeChecked(t, routerFor(t, r), set, r, rollout.Traffic{Weight: 1}, routerID(t, "Ingress.networking.k8s.io/shop/"+name))
}

func TestNginxRouteRefuses(t *testing.T) {
	beta := rollout.HeaderRoute{Name: "beta", Match: []rollout.HeaderRouteMatch{{HeaderName: "x", HeaderValue: rollout.StringMatch{Exact: "y"}}}}
	for name, tc := range map[string]struct {
		routing, objects string
		traffic          rollout.Traffic
		words            []string
	}{
		"no rule to the stableService": {
			routing: `nginx: {stableIngress: backend}`,
			objects: "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: backend}\nspec: {defaultBackend: {service: {name: backend-stable, port: {number: 80}}}}\n",
			words:   []string{"rollout shop/backend", "Ingress.networking.k8s.io/shop/backend", "spec.rules: no rule has a path to the stableService backend-stable"},
		},
		"an Ingress not in the set": {
			routing: `nginx: {stableIngress: frontend}`,
			objects: nginxIngress,
			words:   []string{"rollout shop/backend", "Ingress.networking.k8s.io/shop/frontend is not among the rendered objects"},
		},
		"a legacy Ingress": {
			routing: `nginx: {stableIngress: backend}`,
			objects: "apiVersion: networking.k8s.io/v1beta1\nkind: Ingress\nmetadata: {name: backend}\nspec: {rules: []}\n",
			words:   []string{"Ingress.networking.k8s.io/shop/backend", "is networking.k8s.io/v1beta1"},
		},
		"paths that are a map": {
			routing: `nginx: {stableIngress: backend}`,
			objects: "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: backend}\nspec: {rules: [{http: {paths: {path: /}}}]}\n",
			words:   []string{"spec.rules[0].http.paths: is a map, not a list"},
		},
		"a canary Ingress that is not converge's": {
			routing: `nginx: {stableIngress: backend}`,
			objects: nginxIngress + "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: backend-backend-canary}\nspec: {}\n",
			words:   []string{"Ingress.networking.k8s.io/shop/backend-backend-canary", "is in the set but is the canary Ingress converge writes for backend"},
		},
		"two header routes": {
			routing: "managedRoutes: [{name: beta}, {name: gamma}]\nnginx: {stableIngress: backend}",
			objects: nginxIngress,
			traffic: rollout.Traffic{HeaderRoutes: []rollout.HeaderRoute{beta, {Name: "gamma", Match: beta.Match}}},
			words:   []string{"rollout shop/backend", `header routes "beta" and "gamma" are both set`},
		},
		"two header matches": {
			routing: "managedRoutes: [{name: beta}]\nnginx: {stableIngress: backend}",
			objects: nginxIngress,
			traffic: rollout.Traffic{HeaderRoutes: []rollout.HeaderRoute{{Name: "beta", Match: append(beta.Match, beta.Match...)}}},
			words:   []string{`header route "beta" has 2 matches`},
		},
		"a header route over a header annotation": {
			routing: "managedRoutes: [{name: beta}]\nnginx: {stableIngress: backend, additionalIngressAnnotations: {canary-by-header: X-Canary}}",
			objects: nginxIngress,
			traffic: rollout.Traffic{HeaderRoutes: []rollout.HeaderRoute{beta}},
			words:   []string{`header route "beta"`, "additionalIngressAnnotations set nginx.ingress.kubernetes.io/canary-by-header"},
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

func TestNginxRouterRefusesItsConfiguration(t *testing.T) {
	for name, tc := range map[string]struct {
		routing string
		words   []string
	}{
		"both forms":          {`nginx: {stableIngress: a, stableIngresses: [b]}`, []string{"stableIngress and stableIngresses are both set"}},
		"neither":             {`nginx: {annotationPrefix: x}`, []string{"one of stableIngress and stableIngresses is required"}},
		"an Ingress twice":    {`nginx: {stableIngresses: [a, a]}`, []string{"stableIngresses[1]"}},
		"the weight set":      {`nginx: {stableIngress: a, additionalIngressAnnotations: {canary-weight: "9"}}`, []string{"additionalIngressAnnotations.canary-weight: converge sets nginx.ingress.kubernetes.io/canary-weight itself"}},
		"an annotation twice": {`nginx: {stableIngress: a, additionalIngressAnnotations: {x: "1", nginx.ingress.kubernetes.io/x: "2"}}`, []string{"nginx.ingress.kubernetes.io/x is set twice"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := rollout.RouterFor(routerRollout(t, "shop", tc.routing))
			assertRouteError(t, err, append([]string{"spec.strategy.canary.trafficRouting.nginx"}, tc.words...)...)
		})
	}
}

func TestNginxVerify(t *testing.T) {
	r := routerRollout(t, "shop", "managedRoutes: [{name: beta}]\nnginx: {stableIngress: backend}")
	tr := routerFor(t, r)
	beta := []rollout.HeaderRoute{{Name: "beta", Match: []rollout.HeaderRouteMatch{{HeaderName: "x-beta", HeaderValue: rollout.StringMatch{Exact: "yes"}}}}}
	at := rollout.Traffic{Weight: 30, HeaderRoutes: beta}
	withHeader := routeChecked(t, tr, routerSet(t, "shop", nginxIngress), r, at, routerID(t, "Ingress.networking.k8s.io/shop/backend-backend-canary"))
	without := routeChecked(t, tr, routerSet(t, "shop", nginxIngress), r, rollout.Traffic{Weight: 30}, routerID(t, "Ingress.networking.k8s.io/shop/backend-backend-canary"))
	ctx := context.Background()
	for name, tc := range map[string]struct {
		live    rollout.Reader
		traffic rollout.Traffic
		want    bool
	}{
		"the split routed":                {liveSet{withHeader}, at, true},
		"another weight":                  {liveSet{withHeader}, rollout.Traffic{Weight: 31, HeaderRoutes: beta}, false},
		"a header route still live":       {liveSet{withHeader}, rollout.Traffic{Weight: 30}, false},
		"a header route not yet live":     {liveSet{without}, at, false},
		"no header route, none live":      {liveSet{without}, rollout.Traffic{Weight: 30}, true},
		"the live canary Ingress missing": {liveSet{object.NewSet()}, at, false},
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

// FuzzNginxRoute feeds arbitrary YAML as the stable Ingress: Route must
// not panic, and when it succeeds its output must route to itself and
// verify.
func FuzzNginxRoute(f *testing.F) {
	for _, seed := range []string{
		nginxIngress,
		"spec: {rules: [x, {http: 3}, {http: {paths: [1, {backend: {service: {name: 4}}}]}}]}",
		"spec: {rules: [{http: {paths: [{backend: {service: {name: backend-stable}}}]}}], tls: 3, ingressClassName: [x]}",
		"metadata: {annotations: {kubernetes.io/ingress.class: 3}}\nspec: {rules: {}}",
		"spec: x",
	} {
		f.Add([]byte(seed), int8(10), true)
	}
	r := routerRollout(f, "shop", "managedRoutes: [{name: beta}]\nnginx: {stableIngress: backend}")
	f.Fuzz(func(t *testing.T, data []byte, weight int8, header bool) {
		objs, err := object.DecodeBytes(data, object.DefaultDecodeOptions())
		if err != nil || len(objs) != 1 {
			return
		}
		obj := objs[0]
		obj.SetAPIVersion("networking.k8s.io/v1")
		obj.SetKind("Ingress")
		obj.SetNamespace("shop")
		obj.SetName("backend")
		if obj.GetName() == "" || obj.GetNamespace() == "" {
			return // metadata was not a map
		}
		set := object.NewSet()
		require.NoError(t, set.Add(obj, "fuzz"))
		traffic := rollout.Traffic{Weight: int32(weight)}
		if header {
			traffic.HeaderRoutes = []rollout.HeaderRoute{{Name: "beta", Match: []rollout.HeaderRouteMatch{{HeaderName: "x-beta", HeaderValue: rollout.StringMatch{Regex: "y+"}}}}}
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
