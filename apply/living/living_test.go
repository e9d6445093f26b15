// Package living_test applies workloads to the living control plane
// (controllers, scheduler and kwok's fake nodes) and waits for their health.
package living_test

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/internal/testenv"
	"github.com/converge-dev/converge/object"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.Options{Mode: testenv.Living}, &env)
}

func deployment(name, image string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"replicas": int64(2),
			"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": name}},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": name, "image": image}}},
			}}}}
}

func job(name string, annotations map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": name},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"restartPolicy": "Never",
			"containers":    []any{map[string]any{"name": "m", "image": "registry.example/migrate:1.0.0"}}}}}}}
	u.SetAnnotations(annotations)
	return u
}

// A PreSync Job runs to completion before the Deployment is applied, is
// deleted once it succeeded, and the Deployment is waited for until
// healthy.
func TestPreSyncJobThenDeploymentBecomesHealthy(t *testing.T) {
	ns := env.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := cluster.New(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	a, err := apply.New(c, apply.Owner{Name: "shop", Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	set := object.NewSet()
	for _, o := range []*unstructured.Unstructured{
		deployment("api", "registry.example/api:1.4.2"),
		job("migrate", map[string]string{object.ArgoHook: "PreSync", object.ArgoHookDeletePolicy: "HookSucceeded"}),
	} {
		if err := set.Add(o, "test"); err != nil {
			t.Fatal(err)
		}
	}
	var phases []string
	opts := apply.DefaultOptions()
	opts.Namespace = ns
	opts.Wait = true
	opts.WaitTimeout = 2 * time.Minute
	opts.Progress = func(e apply.Event) { phases = append(phases, string(e.Phase)+":"+e.ID.Kind) }
	res, err := a.Apply(ctx, set, opts)
	if err != nil {
		for _, o := range res.Objects {
			t.Logf("%s %s %s %v", o.Phase, o.ID, o.Action, o.Err)
		}
		t.Fatal(err)
	}
	if len(phases) != 2 || phases[0] != "PreSync:Job" || phases[1] != "Sync:Deployment" {
		t.Fatalf("order: %v", phases)
	}
	if res.Health == nil || res.Health.Status != health.Healthy {
		t.Fatalf("health after apply: %+v", res.Health)
	}
	_, err = c.Get(ctx, schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}, ns, "migrate")
	if !apierrors.IsNotFound(err) {
		t.Fatalf("a succeeded HookSucceeded Job was not deleted: %v", err)
	}

	// The hook runs again on the next apply (BeforeHookCreation is not
	// needed: it was deleted), and an unchanged Deployment is not written.
	res, err = a.Apply(ctx, set, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Objects {
		if o.ID.Kind == "Deployment" && o.Action != apply.Unchanged {
			t.Fatalf("second apply: Deployment %s", o.Action)
		}
	}
}
