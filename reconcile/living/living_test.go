// Package living_test runs the reconcile engine on the living control
// plane (controllers, scheduler and kwok's fake nodes), where workloads
// roll out and become healthy, or do not.
package living_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/internal/testenv"
	"github.com/converge-dev/converge/reconcile"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.Options{Mode: testenv.Living}, &env)
}

// An operator unit (its CRD and the controller Deployment) and a unit of
// its custom resources, as Flux's dependsOn writes them: the custom
// resources are applied only once the operator is Ready and healthy,
// here after the controller's Deployment became available.
func TestDependsOnWaitsForACRDAndControllerUnitToBeHealthy(t *testing.T) {
	ns := env.Namespace(t)
	group := strings.ReplaceAll(ns, "-", "") + ".example.com"
	repo := gittest.NewServer(t).NewRepo(t, "platform")
	repo.Commit(t, "operator and widgets", map[string]string{
		"operator/crd.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.` + group + `
spec:
  group: ` + group + `
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
`,
		"operator/controller.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: widget-controller
spec:
  replicas: 1
  minReadySeconds: 3
  selector:
    matchLabels: {app: widget-controller}
  template:
    metadata:
      labels: {app: widget-controller}
    spec:
      containers:
      - name: controller
        image: registry.example.com/widget-controller:1.0.0
`,
		"widgets/widget.yaml": "apiVersion: " + group + "/v1\nkind: Widget\nmetadata:\n  name: first\nspec:\n  size: 3\n",
	})

	c, err := cluster.New(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	r, err := reconcile.New(c)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	unit := func(name, path string) reconcile.Unit {
		return reconcile.Unit{
			Name: name, Namespace: ns, Source: reconcile.Source{URL: repo.URL}, Path: path,
			Destination: reconcile.Destination{Namespace: ns},
			Sync:        reconcile.Sync{Prune: true},
			Health:      reconcile.Health{Wait: true},
			Timeout:     2 * time.Minute,
		}
	}
	operator, widgets := unit("operator", "operator"), unit("widgets", "widgets")
	widgets.DependsOn = []reconcile.Ref{{Name: "operator"}}

	var (
		mu                         sync.Mutex
		waited                     bool
		operatorReady, widgetsDone time.Time
		widgetsStatus              reconcile.Status
	)
	opts := reconcile.DefaultLoopOptions()
	opts.DependencyRetry = 200 * time.Millisecond
	opts.OnStatus = func(s reconcile.Status) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case s.Unit.Name == "widgets" && s.Condition(reconcile.ConditionReady) != nil &&
			s.Condition(reconcile.ConditionReady).Reason == reconcile.ReasonDependencyNotReady:
			waited = true
		case s.Unit.Name == "operator" && s.Ready() && operatorReady.IsZero():
			operatorReady = s.Finished
		case s.Unit.Name == "widgets" && s.Ready() && widgetsDone.IsZero():
			widgetsDone, widgetsStatus = s.Finished, s
		}
	}
	loop := reconcile.NewLoop(r, opts)
	if err := loop.Set(widgets, operator); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- loop.Run(ctx) }()
	for {
		mu.Lock()
		finished := !widgetsDone.IsZero()
		mu.Unlock()
		if finished || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	if widgetsDone.IsZero() {
		t.Fatal("the widgets unit never became Ready")
	}
	if !waited {
		t.Fatal("the widgets unit never waited for the operator")
	}
	if widgetsDone.Before(operatorReady) {
		t.Fatalf("the widgets were applied (%s) before the operator was Ready (%s)", widgetsDone, operatorReady)
	}
	var d appsv1.Deployment
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "widget-controller"}, &d); err != nil {
		t.Fatal(err)
	}
	if d.Status.AvailableReplicas != 1 {
		t.Fatalf("the controller is not available: %+v", d.Status)
	}
	if widgetsStatus.Health != "Healthy" {
		t.Fatalf("widgets: health %s: a Widget whose CRD has no status subresource is Healthy once it exists", widgetsStatus.Health)
	}
	if s, ok := r.Status(widgets.Ref()); !ok || !s.Ready() {
		t.Fatal("stopping the Loop overwrote the last status with the interrupted pass")
	}
}
