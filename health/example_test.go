package health_test

import (
	"errors"
	"fmt"

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
