// Package living_test applies workloads to the living control plane
// (controllers, scheduler and kwok's fake nodes) and waits for their health.
package living_test

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/diff"
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

	// Nothing changed: the next apply leaves the Deployment alone and does
	// not run the migration again.
	res, err = a.Apply(ctx, set, opts)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]apply.Action{}
	for _, o := range res.Objects {
		actions[o.ID.Kind] = o.Action
	}
	if actions["Deployment"] != apply.Unchanged || actions["Job"] != apply.Skipped || res.Writes != 0 {
		t.Fatalf("second apply: %v, %d writes", actions, res.Writes)
	}
}

// A hook Job with ttlSecondsAfterFinished: 0 is deleted by the TTL
// controller the moment it completes; the hook still counts as
// succeeded.
func TestHookJobDeletedOnCompletionByItsTTLSucceeds(t *testing.T) {
	ns := env.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := cluster.New(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	a, err := apply.New(c, apply.Owner{Name: "ttl", Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	migrate := job("migrate", map[string]string{object.ArgoHook: "PreSync"})
	if err := unstructured.SetNestedField(migrate.Object, int64(0), "spec", "ttlSecondsAfterFinished"); err != nil {
		t.Fatal(err)
	}
	set := object.NewSet()
	for _, o := range []*unstructured.Unstructured{deployment("api", "registry.example/api:1.4.2"), migrate} {
		if err := set.Add(o, "test"); err != nil {
			t.Fatal(err)
		}
	}
	opts := apply.DefaultOptions()
	opts.Namespace = ns
	opts.WaitTimeout = 2 * time.Minute
	res, err := a.Apply(ctx, set, opts)
	if err != nil {
		for _, o := range res.Objects {
			t.Logf("%s %s %s %v", o.Phase, o.ID, o.Action, o.Err)
		}
		t.Fatal(err)
	}
}

// An ignore rule on /spec/replicas keeps the field out of the apply while
// another manager owns it (Argo CD's RespectIgnoreDifferences): an
// HPA-style scaler's replicas survive an image change from Git, and the
// Deployment still rolls out.
func TestIgnoredFieldsAnotherManagerOwnsAreNotSent(t *testing.T) {
	ns := env.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := cluster.New(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	d, err := diff.New(c, diff.WithDryRun(c), diff.WithIgnoreRules(diff.IgnoreRule{Group: "apps", Kind: "Deployment", JSONPointers: []string{"/spec/replicas"}}))
	if err != nil {
		t.Fatal(err)
	}
	a, err := apply.New(c, apply.Owner{Name: "shop", Namespace: ns}, apply.WithDiffer(d))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	opts := apply.DefaultOptions()
	opts.Namespace = ns
	opts.Wait = true
	opts.WaitTimeout = 2 * time.Minute
	setOf := func(image string) *object.Set {
		s := object.NewSet()
		if err := s.Add(deployment("web", image), "git"); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if _, err := a.Apply(ctx, setOf("registry.example/web:1.0.0"), opts); err != nil {
		t.Fatal(err)
	}

	// The autoscaler scales to 4 through the scale subresource.
	gvr := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	scale := []byte(`{"spec":{"replicas":4}}`)
	if _, err := c.Dynamic().Resource(gvr).Namespace(ns).Patch(ctx, "web", types.MergePatchType, scale,
		metav1.PatchOptions{FieldManager: "horizontal-pod-autoscaler"}, "scale"); err != nil {
		t.Fatal(err)
	}
	// Git changes the image: the Deployment is written, its replicas not.
	res, err := a.Apply(ctx, setOf("registry.example/web:1.1.0"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Writes == 0 {
		t.Fatal("the image change was not applied")
	}
	live, err := c.Get(ctx, schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, ns, "web")
	if err != nil {
		t.Fatal(err)
	}
	replicas, _, _ := unstructured.NestedInt64(live.Object, "spec", "replicas")
	containers, _, _ := unstructured.NestedSlice(live.Object, "spec", "template", "spec", "containers")
	image, _ := containers[0].(map[string]any)["image"].(string)
	if replicas != 4 || image != "registry.example/web:1.1.0" {
		t.Fatalf("replicas %d (want the autoscaler's 4), image %s", replicas, image)
	}
	if res.Health == nil || res.Health.Status != health.Healthy {
		t.Fatalf("the new image did not roll out: %+v", res.Health)
	}
}
