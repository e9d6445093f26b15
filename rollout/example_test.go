package rollout_test

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/rollout"
)

// empty is a cluster that holds nothing yet.
type empty struct{}

func (empty) Lookup(context.Context, schema.GroupVersionKind, string, string) (*unstructured.Unstructured, bool, error) {
	return nil, false, nil
}

// A Rollout's first revision is stable at once: Process replaces the
// Rollout by its Deployment, pins its Service and adds its state.
func ExampleEngine_Process() {
	objs, _ := object.DecodeBytes([]byte(`apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web:v1}]}
  strategy:
    canary:
      stableService: web
      steps: [{setWeight: 20}, {pause: {}}]
`), object.DefaultDecodeOptions())
	set := object.NewSet()
	for _, obj := range objs {
		_ = set.Add(obj, "example")
	}
	engine := rollout.New(rollout.Options{})
	out, statuses, err := engine.Process(context.Background(), rollout.Input{Set: set, Live: empty{}, Now: time.Now(), Namespace: "shop"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for id := range out.All() {
		fmt.Println(id.Kind, id.Name)
	}
	s := statuses[0]
	fmt.Println(s.Phase, s.Revision == s.Stable, s.Step == s.Steps)
	// Output:
	// Service web
	// Deployment web-65fb57dd7d
	// ConfigMap converge-rollout-web
	// Progressing true true
}
