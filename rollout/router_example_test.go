package rollout_test

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/rollout"
)

// A Rollout's router weighs the route objects of the set about to be
// applied: here the seed's Istio VirtualService, at the second step's
// 25%.
func ExampleRouterFor() {
	objs, _ := object.DecodeBytes([]byte(`apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: backend, namespace: shop}
spec:
  selector: {matchLabels: {app: backend}}
  template:
    metadata: {labels: {app: backend}}
    spec: {containers: [{name: backend, image: backend:v2}]}
  strategy:
    canary:
      canaryService: backend-canary
      stableService: backend-stable
      trafficRouting:
        istio: {virtualServices: [{name: backend-vsvc, routes: [primary]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: backend-vsvc, namespace: shop}
spec:
  http:
  - name: primary
    route:
    - destination: {host: backend-stable}
      weight: 100
    - destination: {host: backend-canary}
      weight: 0
`), object.DefaultDecodeOptions())
	r, _ := rollout.Parse(objs[0])
	set := object.NewSet()
	_ = set.Add(objs[1], "backend.yaml")

	router, _ := rollout.RouterFor(r)
	if err := router.Route(set, r, rollout.Traffic{Weight: 25}); err != nil {
		fmt.Println(err)
		return
	}
	vs, _ := set.Get(object.IDOf(objs[1]))
	http, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	for _, d := range http[0].(map[string]any)["route"].([]any) {
		d := d.(map[string]any)
		fmt.Println(d["destination"].(map[string]any)["host"], d["weight"])
	}
	// Output:
	// backend-stable 75
	// backend-canary 25
}
