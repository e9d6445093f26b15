package apply_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/internal/testenv"
	"github.com/converge-dev/converge/object"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.Options{Mode: testenv.Bare}, &env)
}

// fixture is one test's client, namespace and applier.
type fixture struct {
	t       *testing.T
	ctx     context.Context
	ns      string
	client  *cluster.Client
	applier *apply.Applier
}

func newFixture(t *testing.T, opts ...apply.Option) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	c, err := cluster.New(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ns := env.Namespace(t)
	a, err := apply.New(c, apply.Owner{Name: "app", Namespace: ns}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return &fixture{t: t, ctx: ctx, ns: ns, client: c, applier: a}
}

func (f *fixture) options() apply.Options {
	o := apply.DefaultOptions()
	o.Namespace = f.ns
	o.PruneTimeout = 30 * time.Second
	return o
}

func (f *fixture) apply(set *object.Set, opts apply.Options) *apply.Result {
	f.t.Helper()
	res, err := f.applier.Apply(f.ctx, set, opts)
	if err != nil {
		f.t.Fatalf("apply: %v\n%s", err, describe(res))
	}
	return res
}

func describe(res *apply.Result) string {
	if res == nil {
		return "(no result)"
	}
	var b strings.Builder
	for _, o := range res.Objects {
		fmt.Fprintf(&b, "  %s %s %s %s %v\n", o.Phase, o.ID, o.Action, o.Reason, o.Err)
	}
	return b.String()
}

func configMap(name string, data map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name}}}
	d := map[string]any{}
	for k, v := range data {
		d[k] = v
	}
	u.Object["data"] = d
	return u
}

func setOf(t *testing.T, objs ...*unstructured.Unstructured) *object.Set {
	t.Helper()
	s := object.NewSet()
	for _, o := range objs {
		if err := s.Add(o, "test"); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (f *fixture) actions(res *apply.Result) map[string]apply.Action {
	out := map[string]apply.Action{}
	for _, o := range res.Objects {
		out[o.ID.Kind+"/"+o.ID.Name] = o.Action
	}
	return out
}

func (f *fixture) getConfigMap(name string) (*corev1.ConfigMap, error) {
	var cm corev1.ConfigMap
	err := env.Client.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: name}, &cm)
	return &cm, err
}

func TestApplyCreatesThenCostsNothingWhenUnchanged(t *testing.T) {
	f := newFixture(t)
	set := setOf(t, configMap("a", map[string]string{"k": "1"}), configMap("b", map[string]string{"k": "2"}))

	res := f.apply(set, f.options())
	if got := f.actions(res); got["ConfigMap/a"] != apply.Created || got["ConfigMap/b"] != apply.Created {
		t.Fatalf("first apply: %v", got)
	}
	cm, err := f.getConfigMap("a")
	if err != nil {
		t.Fatal(err)
	}
	if cm.Labels[object.LabelOwner] != "app" || cm.Labels[object.LabelOwnerNamespace] != f.ns {
		t.Fatalf("ownership labels missing: %v", cm.Labels)
	}

	before := f.client.Requests()
	res = f.apply(set, f.options())
	spent := f.client.Requests().Sub(before)
	if res.Count(apply.Unchanged) != 2 || res.Writes != 0 {
		t.Fatalf("second apply: %s, %d writes\n%s", res, res.Writes, describe(res))
	}
	if n := spent.Total(); n != 0 {
		t.Fatalf("an unchanged re-apply sent %d requests: %s", n, spent)
	}
}

func TestApplyWritesOnlyDriftedObjects(t *testing.T) {
	f := newFixture(t)
	set := setOf(t, configMap("a", map[string]string{"k": "1"}), configMap("b", map[string]string{"k": "2"}))
	f.apply(set, f.options())

	// Another manager changes a field converge owns.
	cm, err := f.getConfigMap("a")
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["k"] = "changed by hand"
	if err := env.Client.Update(f.ctx, cm, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		res, err := f.applier.Plan(f.ctx, set, f.options())
		return err == nil && res.Count(apply.Configured) == 1
	})

	res := f.apply(set, f.options())
	if got := f.actions(res); got["ConfigMap/a"] != apply.Configured || got["ConfigMap/b"] != apply.Unchanged || res.Writes != 1 {
		t.Fatalf("drift: %v, %d writes", got, res.Writes)
	}
	cm, err = f.getConfigMap("a")
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["k"] != "1" {
		t.Fatalf("drift not reverted: %q", cm.Data["k"])
	}
}

func TestPlanWritesNothing(t *testing.T) {
	f := newFixture(t)
	set := setOf(t, configMap("a", map[string]string{"k": "1"}))
	before := f.client.Requests()
	res, err := f.applier.Plan(f.ctx, set, f.options())
	if err != nil {
		t.Fatal(err)
	}
	if !res.DryRun || res.Count(apply.Created) != 1 {
		t.Fatalf("plan: %s", describe(res))
	}
	if w := f.client.Requests().Sub(before).Writes(); w != 0 {
		t.Fatalf("plan wrote %d times", w)
	}
	if _, err := f.getConfigMap("a"); !apierrors.IsNotFound(err) {
		t.Fatalf("plan created the object: %v", err)
	}
}

func TestPruneDeletesOnlyWhatLeftTheSetAndIsStillOwned(t *testing.T) {
	f := newFixture(t)
	kept := configMap("kept", nil)
	kept.SetAnnotations(map[string]string{object.FluxPrune: "disabled"})
	set := setOf(t, configMap("stays", nil), configMap("goes", nil), configMap("released", nil), kept)
	f.apply(set, f.options())

	// "released" loses its ownership label: converge must not delete it.
	cm, err := f.getConfigMap("released")
	if err != nil {
		t.Fatal(err)
	}
	delete(cm.Labels, object.LabelOwner)
	if err := env.Client.Update(f.ctx, cm); err != nil {
		t.Fatal(err)
	}
	// Something converge never applied, in the same namespace.
	if err := env.Client.Create(f.ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "foreign", Namespace: f.ns}}); err != nil {
		t.Fatal(err)
	}

	res := f.apply(setOf(t, configMap("stays", nil)), f.options())
	got := f.actions(res)
	if got["ConfigMap/goes"] != apply.Pruned || got["ConfigMap/released"] != apply.Kept || got["ConfigMap/kept"] != apply.Kept {
		t.Fatalf("prune: %v\n%s", got, describe(res))
	}
	if _, ok := got["ConfigMap/foreign"]; ok {
		t.Fatal("prune looked at an object converge never applied")
	}
	for name, wantGone := range map[string]bool{"goes": true, "released": false, "kept": false, "foreign": false, "stays": false} {
		_, err := f.getConfigMap(name)
		if gone := apierrors.IsNotFound(err); gone != wantGone {
			t.Errorf("%s: gone=%v, want %v (%v)", name, gone, wantGone, err)
		}
	}
	// Kept and released objects leave the inventory: bringing the label
	// back does not make a later call prune them.
	res = f.apply(setOf(t, configMap("stays", nil)), f.options())
	if n := res.Count(apply.Pruned) + res.Count(apply.Kept); n != 0 {
		t.Fatalf("inventory still holds released objects:\n%s", describe(res))
	}
}

func TestEmptySetPrunesNothingUnlessAllowed(t *testing.T) {
	f := newFixture(t)
	f.apply(setOf(t, configMap("a", nil)), f.options())

	res := f.apply(object.NewSet(), f.options())
	if res.PruneSkipped == "" || res.Count(apply.Pruned) != 0 {
		t.Fatalf("an empty set pruned:\n%s", describe(res))
	}
	if _, err := f.getConfigMap("a"); err != nil {
		t.Fatal(err)
	}
	opts := f.options()
	opts.AllowEmptyPrune = true
	res = f.apply(object.NewSet(), opts)
	if res.Count(apply.Pruned) != 1 {
		t.Fatalf("AllowEmptyPrune did not prune:\n%s", describe(res))
	}
}

func TestRefusedSetWritesNothing(t *testing.T) {
	f := newFixture(t, apply.WithPolicy(apply.TenantPolicy{Namespaces: []string{"elsewhere"}}))
	before := f.client.Requests()
	_, err := f.applier.Apply(f.ctx, setOf(t, configMap("a", nil)), f.options())
	if !errors.Is(err, apply.ErrRefused) || !strings.Contains(err.Error(), "ConfigMap/") {
		t.Fatalf("want a refusal naming the object, got %v", err)
	}
	if w := f.client.Requests().Sub(before).Writes(); w != 0 {
		t.Fatalf("a refused set caused %d writes", w)
	}

	g := newFixture(t)
	bad := configMap("typo", nil)
	bad.SetAnnotations(map[string]string{object.AnnotationSyncWave: "first"})
	if _, err := g.applier.Apply(g.ctx, setOf(t, configMap("ok", nil), bad), g.options()); !errors.Is(err, apply.ErrRefused) {
		t.Fatalf("a bad wave annotation was accepted: %v", err)
	}
	if _, err := g.getConfigMap("ok"); !apierrors.IsNotFound(err) {
		t.Fatal("part of a refused set was written")
	}
}

func TestIfNotPresentAndIgnore(t *testing.T) {
	f := newFixture(t)
	seed := configMap("seed", map[string]string{"password": "change-me"})
	seed.SetAnnotations(map[string]string{object.FluxSSA: "IfNotPresent"})
	ignored := configMap("ignored", nil)
	ignored.SetAnnotations(map[string]string{object.AnnotationApply: "Ignore"})
	f.apply(setOf(t, seed, ignored), f.options())
	if _, err := f.getConfigMap("ignored"); !apierrors.IsNotFound(err) {
		t.Fatalf("an ignored object was created: %v", err)
	}
	cm, err := f.getConfigMap("seed")
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["password"] = "filled in by hand"
	if err := env.Client.Update(f.ctx, cm); err != nil {
		t.Fatal(err)
	}
	res := f.apply(setOf(t, seed, ignored), f.options())
	if got := f.actions(res); got["ConfigMap/seed"] != apply.Skipped {
		t.Fatalf("IfNotPresent object: %v", got)
	}
	cm, _ = f.getConfigMap("seed")
	if cm.Data["password"] != "filled in by hand" {
		t.Fatal("an IfNotPresent object was updated")
	}
}

func TestWavesApplyInOrderAndAFailureStopsLaterWaves(t *testing.T) {
	f := newFixture(t)
	var order []object.ID
	opts := f.options()
	opts.Progress = func(e apply.Event) {
		if e.Phase == apply.PhaseSync {
			order = append(order, e.ID)
		}
	}
	opts.Concurrency = 1
	late := configMap("late", nil)
	late.SetAnnotations(map[string]string{object.ArgoSyncWave: "5"})
	early := configMap("early", nil)
	early.SetAnnotations(map[string]string{object.AnnotationSyncWave: "-1"})
	f.apply(setOf(t, late, configMap("middle", nil), early), opts)
	var names []string
	for _, id := range order {
		names = append(names, id.Name)
	}
	if strings.Join(names, ",") != "early,middle,late" {
		t.Fatalf("waves out of order: %v", names)
	}

	// An invalid object in wave 0 fails; wave 5 is skipped; prune is
	// skipped.
	invalid := configMap("Not_A_Valid_Name", nil)
	res, err := f.applier.Apply(f.ctx, setOf(t, invalid, configMap("middle", nil), configMap("after", nil), late), f.options())
	if err == nil {
		t.Fatal("want an error")
	}
	var oe *apply.ObjectError
	if !errors.As(err, &oe) || oe.ID.Name != "Not_A_Valid_Name" {
		t.Fatalf("error does not name the object first: %v", err)
	}
	got := f.actions(res)
	if got["ConfigMap/late"] != apply.Skipped || got["ConfigMap/after"] != apply.Created || res.PruneSkipped == "" {
		t.Fatalf("after a failure: %v, prune skipped %q", got, res.PruneSkipped)
	}
	if _, err := f.getConfigMap("early"); err != nil {
		t.Fatalf("prune ran after a failed apply: %v", err)
	}
}

func TestCRDAndCustomResourceInOneSet(t *testing.T) {
	f := newFixture(t)
	group := strings.ReplaceAll(f.ns, "-", "") + ".example.com"
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "widgets." + group},
		"spec": map[string]any{
			"group": group, "scope": "Namespaced",
			"names": map[string]any{"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object",
					"properties": map[string]any{"spec": map[string]any{"type": "object",
						"properties": map[string]any{"size": map[string]any{"type": "integer"}}}}}}}},
		}}}
	widget := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": group + "/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "w"}, "spec": map[string]any{"size": int64(3)}}}
	set := setOf(t, widget, crd, configMap("anchor", nil))

	plan, err := f.applier.Plan(f.ctx, set, f.options())
	if err != nil {
		t.Fatalf("plan with a CRD not yet installed: %v", err)
	}
	if plan.Count(apply.Created) != 3 {
		t.Fatalf("plan:\n%s", describe(plan))
	}
	res := f.apply(set, f.options())
	if res.Objects[0].ID.Kind != "CustomResourceDefinition" || res.Count(apply.Created) != 3 {
		t.Fatalf("CRD not first or not created:\n%s", describe(res))
	}
	// An in-sync set that holds a CRD is free too: no discovery refresh,
	// no request, pass after pass.
	waitFor(t, func() bool {
		res, err := f.applier.Plan(f.ctx, set, f.options())
		return err == nil && res.Count(apply.Unchanged) == 3
	})
	for pass := range 3 {
		before := f.client.Requests()
		res = f.apply(set, f.options())
		if res.Count(apply.Unchanged) != 3 || res.Writes != 0 {
			t.Fatalf("re-apply %d:\n%s", pass, describe(res))
		}
		if n := f.client.Requests().Sub(before).Total(); n != 0 {
			t.Fatalf("re-apply %d of a set with a CRD sent %d requests: %s", pass, n, f.client.Requests().Sub(before))
		}
	}

	// Both leave the set: the widget goes before its CRD.
	keepOne := setOf(t, configMap("anchor", nil))
	res = f.apply(keepOne, f.options())
	var pruned []string
	for _, o := range res.Objects {
		if o.Action == apply.Pruned {
			pruned = append(pruned, o.ID.Kind)
		}
	}
	if strings.Join(pruned, ",") != "Widget,CustomResourceDefinition" {
		t.Fatalf("prune order: %v\n%s", pruned, describe(res))
	}
}

func TestImmutableFieldIsReportedOrRecreated(t *testing.T) {
	f := newFixture(t)
	job := func(image string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": "migrate"},
			"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
				"restartPolicy": "Never",
				"containers":    []any{map[string]any{"name": "m", "image": image}}}}}}}
	}
	f.apply(setOf(t, job("registry.example/migrate:1.0.0")), f.options())
	var before unstructured.Unstructured
	before.SetGroupVersionKind(schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"})
	if err := env.Client.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: "migrate"}, &before); err != nil {
		t.Fatal(err)
	}

	res, err := f.applier.Apply(f.ctx, setOf(t, job("registry.example/migrate:1.1.0")), f.options())
	if !errors.Is(err, apply.ErrImmutable) {
		t.Fatalf("want ErrImmutable, got %v\n%s", err, describe(res))
	}

	recreate := job("registry.example/migrate:1.1.0")
	recreate.SetAnnotations(map[string]string{object.AnnotationRecreate: "enabled"})
	res = f.apply(setOf(t, recreate), f.options())
	if got := f.actions(res); got["Job/migrate"] != apply.Recreated {
		t.Fatalf("recreate: %v", got)
	}
	var after unstructured.Unstructured
	after.SetGroupVersionKind(before.GroupVersionKind())
	if err := env.Client.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: "migrate"}, &after); err != nil {
		t.Fatal(err)
	}
	if after.GetUID() == before.GetUID() {
		t.Fatal("the Job was not recreated")
	}
}

func TestConflictsForcedByDefaultOrReported(t *testing.T) {
	f := newFixture(t)
	f.apply(setOf(t, configMap("a", map[string]string{"k": "git"})), f.options())
	// Another manager applies the same field with force: now it owns it.
	other := configMap("a", map[string]string{"k": "other"})
	other.SetNamespace(f.ns)
	ri, _, err := f.client.ResourceFor(context.Background(), other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ri.Apply(f.ctx, "a", other, metav1.ApplyOptions{FieldManager: "other-controller", Force: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		res, err := f.applier.Plan(f.ctx, setOf(t, configMap("a", map[string]string{"k": "git"})), f.options())
		return err == nil && res.Count(apply.Configured) == 1
	})

	opts := f.options()
	opts.Conflicts = apply.ReportConflicts
	_, err = f.applier.Apply(f.ctx, setOf(t, configMap("a", map[string]string{"k": "git"})), opts)
	var ce *apply.ConflictError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "other-controller") {
		t.Fatalf("want a conflict naming other-controller, got %v", err)
	}
	cm, _ := f.getConfigMap("a")
	if cm.Data["k"] != "other" {
		t.Fatal("a reported conflict was written")
	}

	f.apply(setOf(t, configMap("a", map[string]string{"k": "git"})), f.options())
	cm, _ = f.getConfigMap("a")
	if cm.Data["k"] != "git" {
		t.Fatalf("Git did not win: %q", cm.Data["k"])
	}
}

func TestHooksRunAtTheirPhaseAndAreDeletedByPolicy(t *testing.T) {
	f := newFixture(t)
	pre := configMap("pre", nil)
	pre.SetAnnotations(map[string]string{object.ArgoHook: "PreSync", object.ArgoHookDeletePolicy: "HookSucceeded"})
	post := configMap("post", nil)
	post.SetAnnotations(map[string]string{object.HelmHook: "post-install,post-upgrade"})
	never := configMap("never", nil)
	never.SetAnnotations(map[string]string{object.HelmHook: "pre-delete"})
	var order []string
	opts := f.options()
	opts.Progress = func(e apply.Event) { order = append(order, string(e.Phase)+":"+e.ID.Name) }
	opts.Concurrency = 1
	res := f.apply(setOf(t, post, configMap("app", nil), pre, never), opts)
	if got := strings.Join(order, ","); got != "PreSync:pre,Sync:app,PostSync:post" && !strings.Contains(got, "PreSync:pre,Sync:app,PostSync:post") {
		t.Fatalf("hook order: %s", got)
	}
	if got := f.actions(res); got["ConfigMap/never"] != apply.Skipped {
		t.Fatalf("a pre-delete hook was applied: %v", got)
	}
	if _, err := f.getConfigMap("pre"); !apierrors.IsNotFound(err) {
		t.Fatalf("HookSucceeded hook not deleted: %v", err)
	}
	if _, err := f.getConfigMap("post"); err != nil {
		t.Fatalf("post hook: %v", err)
	}
	// Hooks are not in the inventory: removing them prunes nothing.
	res = f.apply(setOf(t, configMap("app", nil)), f.options())
	if res.Count(apply.Pruned) != 0 {
		t.Fatalf("a hook was pruned:\n%s", describe(res))
	}
}

func TestCreateNamespace(t *testing.T) {
	f := newFixture(t)
	target := f.ns + "-target"
	opts := f.options()
	opts.Namespace = target
	opts.CreateNamespace = true
	res := f.apply(setOf(t, configMap("a", nil)), opts)
	if got := f.actions(res); got["Namespace/"+target] != apply.Created || got["ConfigMap/a"] != apply.Created {
		t.Fatalf("create namespace: %v", got)
	}
	t.Cleanup(func() {
		_ = env.Client.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: target}})
	})
}

func TestTakeOverFromKubectl(t *testing.T) {
	f := newFixture(t)
	// kubectl apply (client-side) created it, with a field Git no longer has.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "legacy", Namespace: f.ns,
		Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"old":"x","k":"1"}}`}},
		Data: map[string]string{"old": "x", "k": "1"}}
	if err := env.Client.Create(f.ctx, cm, client.FieldOwner("kubectl-client-side-apply")); err != nil {
		t.Fatal(err)
	}
	opts := f.options()
	opts.TakeOverKubectl = true
	f.apply(setOf(t, configMap("legacy", map[string]string{"k": "1"})), opts)
	got, err := f.getConfigMap("legacy")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Data["old"]; ok {
		t.Fatalf("a field removed from Git survived the take-over: %v", got.Data)
	}
	if _, ok := got.Annotations["kubectl.kubernetes.io/last-applied-configuration"]; ok {
		t.Fatal("kubectl's last-applied annotation survived")
	}
	for _, m := range got.ManagedFields {
		if m.Manager == "kubectl-client-side-apply" {
			t.Fatalf("kubectl still manages fields: %+v", got.ManagedFields)
		}
	}
}

func TestInventoryKeepsTenThousandIDs(t *testing.T) {
	f := newFixture(t)
	inv := apply.NewConfigMapInventory(f.client, f.ns, "big", nil)
	ids := make([]object.ID, 10_000)
	for i := range ids {
		ids[i] = object.ID{Group: "apps", Kind: "Deployment", Namespace: fmt.Sprintf("team-%03d", i%300), Name: fmt.Sprintf("service-with-a-long-name-%05d", i)}
	}
	if err := inv.Store(f.ctx, ids); err != nil {
		t.Fatal(err)
	}
	fresh := apply.NewConfigMapInventory(f.client, f.ns, "big", nil)
	got, err := fresh.Load(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ids) {
		t.Fatalf("loaded %d IDs, stored %d", len(got), len(ids))
	}
	want := map[object.ID]bool{}
	for _, id := range ids {
		want[id] = true
	}
	for _, id := range got {
		if !want[id] {
			t.Fatalf("loaded an ID never stored: %s", id)
		}
	}

	// A tampered inventory is an error, not an empty list.
	cm, err := f.getConfigMap("big")
	if err != nil {
		t.Fatal(err)
	}
	cm.BinaryData["inventory.gz"] = []byte("not gzip")
	if err := env.Client.Update(f.ctx, cm); err != nil {
		t.Fatal(err)
	}
	if _, err := apply.NewConfigMapInventory(f.client, f.ns, "big", nil).Load(f.ctx); err == nil {
		t.Fatal("a corrupt inventory loaded without error")
	}
}

func TestOwnerMustBeALabelValue(t *testing.T) {
	c, err := cluster.New(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []apply.Owner{{}, {Name: "Has Spaces"}, {Name: strings.Repeat("x", 60)}, {Name: "ok", Namespace: "bad/ns"}} {
		if _, err := apply.New(c, o); err == nil {
			t.Errorf("owner %+v accepted", o)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The owner's namespace may be created by the set itself: the inventory is
// recorded once it exists.
func TestInventoryInANamespaceTheSetCreates(t *testing.T) {
	f := newFixture(t)
	home := f.ns + "-home"
	a, err := apply.New(f.client, apply.Owner{Name: "platform", Namespace: home})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName(home)
	t.Cleanup(func() {
		_ = env.Client.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: home}})
	})
	if _, err := a.Apply(f.ctx, setOf(t, ns, configMap("a", nil)), f.options()); err != nil {
		t.Fatal(err)
	}
	ids, err := apply.NewConfigMapInventory(f.client, home, "converge-platform", nil).Load(f.ctx)
	if err != nil || len(ids) != 2 {
		t.Fatalf("inventory: %v, %v", ids, err)
	}
}

func TestSecretInventoryRoundTrips(t *testing.T) {
	f := newFixture(t)
	ids := []object.ID{{Kind: "ConfigMap", Namespace: f.ns, Name: "a"}, {Group: "apps", Kind: "Deployment", Namespace: f.ns, Name: "b"}}
	if err := apply.NewSecretInventory(f.client, f.ns, "inv", nil).Store(f.ctx, ids); err != nil {
		t.Fatal(err)
	}
	got, err := apply.NewSecretInventory(f.client, f.ns, "inv", nil).Load(f.ctx)
	if err != nil || len(got) != 2 {
		t.Fatalf("got %v, %v", got, err)
	}
	var s corev1.Secret
	if err := env.Client.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: "inv"}, &s); err != nil || len(s.Data["inventory.gz"]) == 0 {
		t.Fatalf("not stored in a Secret: %v", err)
	}
}

func TestPlanShowsDiffsAndWhatWouldBePruned(t *testing.T) {
	f := newFixture(t)
	f.apply(setOf(t, configMap("a", map[string]string{"k": "1"}), configMap("b", nil)), f.options())
	waitFor(t, func() bool {
		res, err := f.applier.Plan(f.ctx, setOf(t, configMap("a", map[string]string{"k": "1"}), configMap("b", nil)), f.options())
		return err == nil && res.Count(apply.Unchanged) == 2
	})
	before := f.client.Requests()
	res, err := f.applier.Plan(f.ctx, setOf(t, configMap("a", map[string]string{"k": "2"})), f.options())
	if err != nil {
		t.Fatal(err)
	}
	got := f.actions(res)
	if got["ConfigMap/a"] != apply.Configured || got["ConfigMap/b"] != apply.Pruned {
		t.Fatalf("plan: %v", got)
	}
	for _, o := range res.Objects {
		if o.ID.Name == "a" && (o.Diff == nil || !strings.Contains(o.Diff.Diff, "+  k: \"2\"")) {
			t.Fatalf("no diff for a change: %+v", o.Diff)
		}
	}
	if w := f.client.Requests().Sub(before).Writes(); w != 0 {
		t.Fatalf("plan wrote %d times", w)
	}
	if _, err := f.getConfigMap("b"); err != nil {
		t.Fatal("plan pruned for real")
	}
}

// converge sends its applies without the server's strict second parse
// (fieldValidation=Ignore); server-side apply must still refuse a field the
// kind's schema does not declare, so a typo never vanishes silently.
func TestUnknownFieldsAreRefused(t *testing.T) {
	f := newFixture(t)
	typo := configMap("typo", map[string]string{"k": "v"})
	typo.Object["dataa"] = map[string]any{"k": "v"}
	deploy := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web"},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
				"spec": map[string]any{"containers": []any{map[string]any{
					"name": "web", "image": "nginx", "imagePullPolcy": "Always"}}}}}}}
	res, err := f.applier.Apply(f.ctx, setOf(t, typo, deploy, configMap("fine", nil)), f.options())
	if err == nil {
		t.Fatalf("unknown fields were accepted:\n%s", describe(res))
	}
	if res == nil || len(res.Objects) != 3 {
		t.Fatalf("want a result for each of the 3 objects, got:\n%s", describe(res))
	}
	for _, o := range res.Objects {
		want := map[string]string{"typo": "dataa", "web": "imagePullPolcy"}[o.ID.Name]
		switch {
		case want == "" && o.Action != apply.Created:
			t.Errorf("%s: %s %v, want Created", o.ID, o.Action, o.Err)
		case want != "" && (o.Action != apply.Failed || o.Err == nil || !strings.Contains(o.Err.Error(), want)):
			t.Errorf("%s: %s %v, want Failed naming %q", o.ID, o.Action, o.Err, want)
		}
	}
	if _, err := f.getConfigMap("typo"); !apierrors.IsNotFound(err) {
		t.Errorf("the object with an unknown field was written: %v", err)
	}
}
