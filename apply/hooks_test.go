package apply_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/object"
)

func hook(name, phase string, wave int, policy string) *unstructured.Unstructured {
	h := configMap(name, nil)
	a := map[string]string{object.ArgoHook: phase, object.ArgoSyncWave: fmt.Sprint(wave)}
	if policy != "" {
		a[object.ArgoHookDeletePolicy] = policy
	}
	h.SetAnnotations(a)
	return h
}

func withWave(u *unstructured.Unstructured, wave int) *unstructured.Unstructured {
	u.SetAnnotations(map[string]string{object.ArgoSyncWave: fmt.Sprint(wave)})
	return u
}

// The defect of issue 19: a migration hook reran on every pass, and plan
// listed hooks as "+ create" forever.
func TestHooksRunOnlyWhenTheSyncChangesSomething(t *testing.T) {
	f := newFixture(t)
	set := func(version string) *object.Set {
		return setOf(t, configMap("app", map[string]string{"version": version}), hook("migrate", "PreSync", 0, "HookSucceeded"))
	}
	res := f.apply(set("1"), f.options())
	if got := f.actions(res); got["ConfigMap/migrate"] != apply.Created {
		t.Fatalf("first sync: the hook did not run: %v", got)
	}

	// Nothing changed: the hook does not run, nothing is written, and a
	// plan says it would not run.
	waitFor(t, func() bool {
		res, err := f.applier.Plan(f.ctx, set("1"), f.options())
		return err == nil && res.Count(apply.Unchanged) == 1
	})
	plan, err := f.applier.Plan(f.ctx, set("1"), f.options())
	if err != nil {
		t.Fatal(err)
	}
	if got := f.actions(plan); got["ConfigMap/migrate"] != apply.Skipped {
		t.Fatalf("plan of an in-sync set: the hook %s", got["ConfigMap/migrate"])
	}
	before := f.client.Requests()
	res = f.apply(set("1"), f.options())
	if got := f.actions(res); got["ConfigMap/migrate"] != apply.Skipped || res.Writes != 0 {
		t.Fatalf("in-sync sync ran the hook: %v, %d writes\n%s", got, res.Writes, describe(res))
	}
	if n := f.client.Requests().Sub(before).Total(); n != 0 {
		t.Fatalf("an in-sync set with hooks cost %d requests", n)
	}
	if _, err := f.getConfigMap("migrate"); !apierrors.IsNotFound(err) {
		t.Fatalf("the hook was created again: %v", err)
	}

	// A sync the host forces runs it; so does a change.
	forced := f.options()
	forced.ForceHooks = true
	if got := f.actions(f.apply(set("1"), forced)); got["ConfigMap/migrate"] != apply.Created {
		t.Fatalf("ForceHooks: %v", got)
	}
	plan, _ = f.applier.Plan(f.ctx, set("2"), f.options())
	if got := f.actions(plan); got["ConfigMap/migrate"] != apply.Created {
		t.Fatalf("plan of a change: the hook %s", got["ConfigMap/migrate"])
	}
	if got := f.actions(f.apply(set("2"), f.options())); got["ConfigMap/migrate"] != apply.Created || got["ConfigMap/app"] != apply.Configured {
		t.Fatalf("a change: %v", got)
	}
}

// The defect of issue 19, from argocd-example-apps' sync-waves: a wave-2
// object was created before the wave-1 hook.
func TestSyncHooksAndObjectsShareOneWaveOrder(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	var order []string
	opts := f.options()
	opts.Progress = func(e apply.Event) {
		mu.Lock()
		order = append(order, e.ID.Name)
		mu.Unlock()
	}
	f.apply(setOf(t,
		withWave(configMap("backend", nil), 0),
		hook("maint-page-up", "Sync", 1, ""),
		withWave(configMap("frontend", nil), 2),
		hook("maint-page-down", "Sync", 3, ""),
		hook("upgrade-sql-schema", "PreSync", 0, ""),
	), opts)
	if got := strings.Join(order, ","); got != "upgrade-sql-schema,backend,maint-page-up,frontend,maint-page-down" {
		t.Fatalf("order: %s", got)
	}
}

// The defect of issue 19: a PreSync hook ran before the namespace it
// lives in existed, whether the repository defines it or it is created
// on request.
func TestPreSyncHooksRunAfterTheirNamespace(t *testing.T) {
	f := newFixture(t)
	for _, onRequest := range []bool{false, true} {
		target := f.child(fmt.Sprintf("prepost%v", onRequest)[:9])
		f.deleteNamespaceLater(target)
		opts := f.options()
		opts.Namespace = target
		objs := []*unstructured.Unstructured{configMap("app", nil), hook("before", "PreSync", 0, "")}
		if onRequest {
			opts.CreateNamespace = true
		} else {
			objs = append(objs, namespaceObject(target))
		}
		a := f.applierFor(apply.Owner{Name: fmt.Sprintf("prepost-%v", onRequest), Namespace: f.ns})
		res, err := a.Apply(f.ctx, setOf(t, objs...), opts)
		if err != nil {
			t.Fatalf("onRequest=%v: %v\n%s", onRequest, err, describe(res))
		}
		if _, err := f.getConfigMapIn(target, "before"); err != nil {
			t.Fatalf("onRequest=%v: the hook: %v", onRequest, err)
		}
	}
}

func TestResultsAreInApplyOrder(t *testing.T) {
	f := newFixture(t)
	var objs []*unstructured.Unstructured
	for i := range 30 {
		objs = append(objs, configMap(fmt.Sprintf("cm-%02d", 29-i), nil))
	}
	opts := f.options()
	opts.Concurrency = 16
	res := f.apply(setOf(t, objs...), opts)
	var names []string
	for _, o := range res.Objects {
		names = append(names, o.ID.Name)
	}
	if !slices.IsSorted(names) || len(names) != 30 {
		t.Fatalf("results in completion order, not apply order: %v", names)
	}
}

// A hook deleted right after it succeeded (a Job's TTL controller does
// this the moment it completes) still succeeded: the apply goes on, and
// does not wait for a deleted object until its timeout.
func TestAHookDeletedOnceItSucceededCountsAsSucceeded(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	go func() { // deletes the hook the moment it exists
		for ctx.Err() == nil {
			_ = env.Client.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "short-lived", Namespace: f.ns}})
		}
	}()
	opts := f.options()
	opts.WaitTimeout = 20 * time.Second
	start := time.Now()
	res, err := f.applier.Apply(f.ctx, setOf(t, configMap("app", nil), hook("short-lived", "PreSync", 0, "")), opts)
	if err != nil {
		t.Fatalf("a hook gone after it succeeded failed the sync: %v\n%s", err, describe(res))
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("the apply waited %s for a hook that was gone", took)
	}
}
