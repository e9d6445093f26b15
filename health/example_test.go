package health_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
)

func Example() {
	engine, err := health.New()
	if err != nil {
		panic(err)
	}
	objs, err := object.DecodeBytes([]byte(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop, generation: 2}
status:
  observedGeneration: 2
  conditions:
  - {type: Progressing, status: "False", reason: ProgressDeadlineExceeded, message: ReplicaSet "api-7d9f" has timed out progressing.}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: shop}
spec: {size: 3}
`), object.DefaultDecodeOptions())
	if err != nil {
		panic(err)
	}
	for _, r := range health.CheckAll(engine, objs) {
		fmt.Printf("%s: %s (%s)\n", r.ID, r.Status, r.Reason)
	}
	// Output:
	// Widget.example.com/shop/w: Unknown (NoStatus)
	// Deployment.apps/shop/api: Degraded (ProgressDeadlineExceeded)
}

// An engine with a host's CEL rule for its own kind, as the package
// overview builds it.
func ExampleNew() {
	engine, err := health.New(health.WithRules(health.Rule{
		Group: "example.com", Kind: "Widget",
		Healthy:  `self.status.phase == "Ready"`,
		Degraded: `self.status.phase == "Failed"`,
	}))
	if err != nil {
		panic(err)
	}
	objs, err := object.DecodeBytes([]byte(`
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: shop}
status: {phase: Ready}
`), object.DefaultDecodeOptions())
	if err != nil {
		panic(err)
	}
	obj := objs[0]
	res := engine.Check(obj) // res.Status, res.Reason, res.Message
	fmt.Println(res.Status, res.Reason)
	// Output:
	// Healthy RuleHealthy
}

func ExampleRule() {
	engine, err := health.New(health.WithRules(health.Rule{
		Group: "example.com", Kind: "Widget",
		Healthy:  `has(self.status) && self.status.phase == "Ready"`,
		Degraded: `has(self.status) && self.status.phase == "Failed"`,
		Message:  `has(self.status) ? "phase " + self.status.phase : "no status yet"`,
	}))
	if err != nil {
		panic(err)
	}
	objs, err := object.DecodeBytes([]byte(`
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: shop}
status: {phase: Failed}
`), object.DefaultDecodeOptions())
	if err != nil {
		panic(err)
	}
	fmt.Println(engine.Check(objs[0]))

	_, err = health.New(health.WithRules(health.Rule{Group: "example.com", Kind: "Widget", Healthy: `self.status.phase ==`}))
	var re *health.RuleError
	if errors.As(err, &re) {
		fmt.Println(errors.Is(err, health.ErrInvalidRule), re.Rule, re.Field)
	}
	// Output:
	// Degraded: RuleDegraded: phase Failed
	// true Widget.example.com Healthy
}

func ExampleWorst() {
	results := []health.ObjectResult{
		{ID: object.ID{Kind: "ConfigMap", Namespace: "shop", Name: "a"}, Result: health.Result{Status: health.Healthy}},
		{ID: object.ID{Group: "batch", Kind: "Job", Namespace: "shop", Name: "b"}, Result: health.Result{Status: health.Degraded}},
		{ID: object.ID{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "c"}, Result: health.Result{Status: health.Progressing}},
	}
	fmt.Println(health.Worst(results))
	health.Sort(results)
	for _, r := range results {
		fmt.Println(r.ID, r.Status)
	}
	// Output:
	// Degraded
	// Job.batch/shop/b Degraded
	// Deployment.apps/shop/c Progressing
	// ConfigMap/shop/a Healthy
}

func ExampleStatus_Kstatus() {
	fmt.Println(health.Degraded.Kstatus(), health.FromKstatus("InProgress"))
	// Output: Failed Progressing
}

// A custom resource nobody wrote a rule for is decided from its live CRD:
// here one CRD has no status subresource, so its objects are Healthy once
// they exist, and the other has one, so an object whose status nobody has
// written yet stays Unknown. Hosts give cluster's Cache.View() as CRDs.
func ExampleWithCRDs() {
	crd := func(group, kind string, status bool) *unstructured.Unstructured {
		v := map[string]any{"name": "v1", "served": true, "storage": true}
		if status {
			v["subresources"] = map[string]any{"status": map[string]any{}}
		}
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
			"spec": map[string]any{"group": group, "names": map[string]any{"kind": kind}, "versions": []any{v}},
		}}
	}
	live := map[schema.GroupKind]*unstructured.Unstructured{
		{Group: "example.com", Kind: "Gizmo"}:  crd("example.com", "Gizmo", false),
		{Group: "example.com", Kind: "Gadget"}: crd("example.com", "Gadget", true),
	}
	engine, err := health.New(health.WithCRDs(health.CRDsFunc(
		func(_ context.Context, gk schema.GroupKind) (*unstructured.Unstructured, bool, error) {
			c, ok := live[gk]
			return c, ok, nil
		})))
	if err != nil {
		panic(err)
	}
	objs, err := object.DecodeBytes([]byte(`
apiVersion: example.com/v1
kind: Gizmo
metadata: {name: g, namespace: shop}
---
apiVersion: example.com/v1
kind: Gadget
metadata: {name: g, namespace: shop}
`), object.DefaultDecodeOptions())
	if err != nil {
		panic(err)
	}
	for _, r := range health.CheckAll(engine, objs) {
		fmt.Printf("%s: %s (%s)\n", r.ID, r.Status, r.Reason)
	}
	// Output:
	// Gadget.example.com/shop/g: Unknown (NoStatus)
	// Gizmo.example.com/shop/g: Healthy (NoStatusSubresource)
}

// Overrides fix the health of kinds whose status no controller fills.
func ExampleWithOverrides() {
	engine, err := health.New(health.WithOverrides(health.Overrides{
		{Group: "monitoring.coreos.com", Kind: "ServiceMonitor"}: health.Healthy,
	}))
	if err != nil {
		panic(err)
	}
	objs, err := object.DecodeBytes([]byte(`
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: api, namespace: shop}
`), object.DefaultDecodeOptions())
	if err != nil {
		panic(err)
	}
	fmt.Println(engine.Check(objs[0]).Status)
	// Output:
	// Healthy
}

// A host's engine decides custom resources from the live CRDs of the
// cluster package's cache, and overrides the kinds whose status no
// controller fills, as the package overview wires it. (Compiled, not run:
// it needs a cluster.)
func ExampleWithCRDs_cache() {
	restConfig, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		panic(err)
	}
	client, err := cluster.New(restConfig)
	if err != nil {
		panic(err)
	}
	cache := cluster.NewCache(client, cluster.CacheOptions{})
	defer cache.Stop()

	engine, err := health.New(
		health.WithCRDs(cache.View()),
		health.WithOverrides(health.Overrides{{Group: "monitoring.coreos.com", Kind: "ServiceMonitor"}: health.Healthy}),
	)
	if err != nil {
		panic(err)
	}
	ids := []object.ID{{Group: "example.com", Kind: "Widget", Namespace: "shop", Name: "w"}}
	rep, err := health.Wait(context.Background(), cache.View(), engine, ids, health.DefaultWaitOptions())
	fmt.Println(rep.Status, err)
}

// Overrides fix the health of kinds that never report on themselves, such
// as prometheus-operator's, from a flag's values.
func ExampleParseOverrides() {
	overrides, err := health.ParseOverrides("ServiceMonitor.monitoring.coreos.com=Healthy")
	if err != nil {
		panic(err)
	}
	engine, err := health.New(health.WithOverrides(overrides))
	if err != nil {
		panic(err)
	}
	objs, err := object.DecodeBytes([]byte(`
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: api, namespace: shop}
spec: {endpoints: [{port: metrics}]}
`), object.DefaultDecodeOptions())
	if err != nil {
		panic(err)
	}
	fmt.Println(engine.Check(objs[0]))
	// Output:
	// Healthy: Override: the host counts every ServiceMonitor.monitoring.coreos.com that exists as healthy
}

// Wait reports skipped objects without waiting for them, and each
// progress report names what it still waits for.
func ExampleWait() {
	objs, err := object.DecodeBytes([]byte(`
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
---
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: alerts, namespace: shop}
`), object.DefaultDecodeOptions())
	if err != nil {
		panic(err)
	}
	view := newMemView(objs...)
	ids := []object.ID{object.IDOf(objs[0]), object.IDOf(objs[1]), {Kind: "Secret", Namespace: "shop", Name: "token"}}
	engine, err := health.New()
	if err != nil {
		panic(err)
	}
	opts := health.DefaultWaitOptions()
	opts.Timeout = 50 * time.Millisecond
	opts.Skip, err = health.ParseSkip("PrometheusRule.monitoring.coreos.com")
	if err != nil {
		panic(err)
	}
	opts.Progress = func(p health.Progress) { fmt.Println(p) }
	rep, err := health.Wait(context.Background(), view, engine, ids, opts)
	fmt.Println(errors.Is(err, health.ErrNotReady), rep.Status)
	for _, r := range rep.Skipped {
		fmt.Println("skipped:", r.ID, r.Status)
	}
	// Output:
	// 1/2 ready; waiting for Secret/shop/token (Missing: NotFound: object does not exist)
	// true Missing
	// skipped: PrometheusRule.monitoring.coreos.com/shop/alerts Unknown
}
