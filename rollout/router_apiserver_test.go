package rollout_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/internal/crdtest"
	"github.com/converge-dev/converge/internal/testenv"
	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/rollout"
)

// routerPlane is a bare control plane (etcd and kube-apiserver), started
// by the first test that needs it, so that the package's pure tests run
// without one.
var routerPlane = testenv.NewLazy(testenv.Options{Mode: testenv.Bare})

func TestMain(m *testing.M) { routerPlane.Main(m) }

// TestRoutersOnAPIServer applies what each router writes, step after
// step, to a real kube-apiserver with the real CRDs (crdtest's pinned
// sources), with server-side apply as converge applies: the server must
// accept every object, and Verify must find the split reading the
// objects back through a cluster.Cache, and not find the step before.
func TestRoutersOnAPIServer(t *testing.T) {
	env := routerPlane.Env(t)
	crdtest.Install(t, env.Config, crdtest.GatewayAPI, crdtest.Istio, crdtest.SMI)
	c, err := cluster.New(env.Config)
	require.NoError(t, err)

	header := func(name string, m ...rollout.HeaderRouteMatch) []rollout.HeaderRoute {
		return []rollout.HeaderRoute{{Name: name, Match: m}}
	}
	exact := rollout.HeaderRouteMatch{HeaderName: "x-beta", HeaderValue: rollout.StringMatch{Exact: "yes"}}
	prefix := rollout.HeaderRouteMatch{HeaderName: "x-group", HeaderValue: rollout.StringMatch{Prefix: "beta."}}
	regex := rollout.HeaderRouteMatch{HeaderName: "user-agent", HeaderValue: rollout.StringMatch{Regex: ".*Mobile.*"}}
	steps := func(hr []rollout.HeaderRoute) []rollout.Traffic {
		return []rollout.Traffic{
			{Weight: 5, Canary: "c1", Stable: "s1"},
			{Weight: 25, Canary: "c1", Stable: "s1", HeaderRoutes: hr},
			{Weight: 50, Canary: "c1", Stable: "s1", HeaderRoutes: hr},
			{Weight: 100, Canary: "c1", Stable: "s1"},
			{Weight: 0, Canary: "c1", Stable: "c1"},
		}
	}
	vs, err := os.ReadFile("testdata/router/backend-vsvc.yaml")
	require.NoError(t, err)

	for name, tc := range map[string]struct {
		rollout func(t *testing.T, ns string) *rollout.Rollout
		objects string
		steps   []rollout.Traffic
	}{
		"istio, the seed Rollout": {
			rollout: seedRollout,
			objects: string(vs),
			steps:   steps(nil),
		},
		"istio, subsets and header routes": {
			rollout: func(t *testing.T, ns string) *rollout.Rollout {
				return routerRollout(t, ns, `managedRoutes: [{name: beta}]
istio:
  virtualServices: [{name: backend-vsvc, routes: [primary]}]
  destinationRule: {name: backend-dr, canarySubsetName: canary, stableSubsetName: stable}`)
			},
			objects: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: backend-vsvc}
spec:
  hosts: [backend]
  http:
  - name: primary
    route:
    - destination: {host: backend, subset: stable, port: {number: 8080}}
    - destination: {host: backend, subset: canary, port: {number: 8080}}
` + istioDR,
			steps: steps(header("beta", exact, prefix)),
		},
		"gatewayAPI": {
			rollout: func(t *testing.T, ns string) *rollout.Rollout {
				return routerRollout(t, ns, "managedRoutes: [{name: beta}]\nplugins: {argoproj-labs/gatewayAPI: {httpRoute: backend}}")
			},
			objects: gatewayRoute,
			steps:   steps(header("beta", exact, prefix, regex)),
		},
		"smi": {
			rollout: func(t *testing.T, ns string) *rollout.Rollout { return routerRollout(t, ns, "smi: {}") },
			steps:   steps(nil),
		},
		"nginx": {
			rollout: func(t *testing.T, ns string) *rollout.Rollout {
				return routerRollout(t, ns, "managedRoutes: [{name: beta}]\nnginx: {stableIngress: backend, additionalIngressAnnotations: {load-balance: ewma}}")
			},
			objects: nginxIngress,
			steps:   steps(header("beta", regex)),
		},
	} {
		t.Run(name, func(t *testing.T) {
			ns := env.Namespace(t)
			r := tc.rollout(t, ns)
			tr := routerFor(t, r)
			base := routerSet(t, ns, tc.objects)
			cache := cluster.NewCache(c, cluster.CacheOptions{Namespaces: []string{ns}, IgnoreCRDChanges: true})
			t.Cleanup(cache.Stop)
			ctx := context.Background()
			var prev *rollout.Traffic
			for i, traffic := range tc.steps {
				set := base.DeepCopy()
				require.NoError(t, tr.Route(set, r, traffic), "step %d", i)
				for _, obj := range set.Objects() {
					serverSideApply(t, c, obj)
				}
				assert.Eventually(t, func() bool {
					ok, err := tr.Verify(ctx, cache, r, traffic)
					require.NoError(t, err)
					return ok
				}, 20*time.Second, 50*time.Millisecond, "step %d (weight %d): Verify never found the split applied", i, traffic.Weight)
				if prev != nil {
					ok, err := tr.Verify(ctx, cache, r, *prev)
					require.NoError(t, err)
					assert.False(t, ok, "step %d: Verify still finds the step before", i)
				}
				prev = &tc.steps[i]
			}
		})
	}
}

// seedRollout is the Rollout of gitops-patterns.md, in ns.
func seedRollout(t *testing.T, ns string) *rollout.Rollout {
	t.Helper()
	data, err := os.ReadFile("testdata/router/seed-rollout.yaml")
	require.NoError(t, err)
	objs, err := object.DecodeBytes(data, object.DefaultDecodeOptions())
	require.NoError(t, err)
	objs[0].SetNamespace(ns)
	r, err := rollout.Parse(objs[0])
	require.NoError(t, err)
	return r
}

// serverSideApply applies obj as converge does, failing the test if the
// server refuses it.
func serverSideApply(t *testing.T, c *cluster.Client, obj *unstructured.Unstructured) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ri, _, err := c.ResourceFor(ctx, obj)
	require.NoError(t, err, "%s", object.IDOf(obj))
	_, err = ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: object.FieldManager, Force: true})
	require.NoError(t, err, "the API server refused %s:\n%s", object.IDOf(obj), encodeObject(obj))
}

func encodeObject(obj *unstructured.Unstructured) string {
	data, err := obj.MarshalJSON()
	if err != nil {
		return fmt.Sprint(err)
	}
	return string(data)
}
