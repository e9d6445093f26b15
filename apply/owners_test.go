package apply_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/object"
)

// applierFor returns another Applier on the fixture's cluster.
func (f *fixture) applierFor(owner apply.Owner, opts ...apply.Option) *apply.Applier {
	f.t.Helper()
	a, err := apply.New(f.client, owner, opts...)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(a.Close)
	return a
}

// child returns a short namespace name unique to the test.
func (f *fixture) child(name string) string { return name + "-" + f.ns[len(f.ns)-5:] }

func namespaceObject(name string) *unstructured.Unstructured {
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName(name)
	return ns
}

func (f *fixture) namespace(name string) (*corev1.Namespace, error) {
	var ns corev1.Namespace
	err := env.Client.Get(f.ctx, client.ObjectKey{Name: name}, &ns)
	if err == nil && ns.DeletionTimestamp != nil {
		return &ns, apierrors.NewNotFound(corev1.Resource("namespaces"), name) // going away
	}
	return &ns, err
}

func (f *fixture) deleteNamespaceLater(name string) {
	f.t.Cleanup(func() {
		_ = env.Client.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	})
}

// finalizeWhenDeleted plays the namespace controller, which a bare plane
// does not run: once the Namespace is being deleted, it clears its
// finalizers so that the deletion completes.
func (f *fixture) finalizeWhenDeleted(name string) {
	ctx, cancel := context.WithCancel(f.ctx)
	f.t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			var ns corev1.Namespace
			if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, &ns); err == nil && ns.DeletionTimestamp != nil {
				ns.Spec.Finalizers = nil
				_ = env.Client.SubResource("finalize").Update(ctx, &ns)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
}

func mustApply(t *testing.T, ctx context.Context, a *apply.Applier, set *object.Set, opts apply.Options) *apply.Result {
	t.Helper()
	res, err := a.Apply(ctx, set, opts)
	if err != nil {
		t.Fatalf("apply for %s: %v\n%s", a.Owner(), err, describe(res))
	}
	return res
}

// The defect of issue 19: apply --create-namespace, then the same command
// without it, pruned the Namespace and everything in it.
func TestNamespaceCreatedOnRequestIsNeverPrunedUnlessAsked(t *testing.T) {
	f := newFixture(t)
	target := f.child("guestbook")
	f.deleteNamespaceLater(target)
	opts := f.options()
	opts.Namespace = target
	opts.CreateNamespace = true
	set := setOf(t, configMap("guestbook-ui", nil))

	res := f.apply(set, opts)
	if got := f.actions(res); got["Namespace/"+target] != apply.Created || got["ConfigMap/guestbook-ui"] != apply.Created {
		t.Fatalf("first apply: %v", got)
	}
	ns, err := f.namespace(target)
	if err != nil {
		t.Fatal(err)
	}
	if ns.Labels[object.LabelOwner] != "" || ns.Annotations[object.AnnotationCreatedFor] != f.ns+"/app" {
		t.Fatalf("a Namespace created on request must carry the created-for mark and no owner labels: %v %v", ns.Labels, ns.Annotations)
	}

	// The same command without --create-namespace.
	opts.CreateNamespace = false
	res = f.apply(set, opts)
	if n := res.Count(apply.Pruned); n != 0 {
		t.Fatalf("dropping CreateNamespace pruned:\n%s", describe(res))
	}
	if _, err := f.namespace(target); err != nil {
		t.Fatalf("the Namespace created on request is gone: %v", err)
	}
	var cm corev1.ConfigMap
	if err := env.Client.Get(f.ctx, client.ObjectKey{Namespace: target, Name: "guestbook-ui"}, &cm); err != nil {
		t.Fatalf("the objects in it are gone: %v", err)
	}

	// Deleting the application (an empty set, pruning allowed) prunes
	// what it applied, and still not the Namespace...
	opts.AllowEmptyPrune = true
	res = f.apply(object.NewSet(), opts)
	if got := f.actions(res); got["ConfigMap/guestbook-ui"] != apply.Pruned {
		t.Fatalf("delete: %v\n%s", got, describe(res))
	}
	if _, err := f.namespace(target); err != nil {
		t.Fatalf("the Namespace created on request was pruned without being asked: %v", err)
	}
	// ...unless the host asks, and then the result says what it took.
	opts.PruneCreatedNamespace = true
	plan, err := f.applier.Plan(f.ctx, object.NewSet(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.actions(plan); got["Namespace/"+target] != apply.Pruned {
		t.Fatalf("plan with PruneCreatedNamespace: %v\n%s", got, describe(plan))
	}
	f.finalizeWhenDeleted(target)
	res = f.apply(object.NewSet(), opts)
	var reason string
	for _, o := range res.Objects {
		if o.ID.Kind == "Namespace" && o.Action == apply.Pruned {
			reason = o.Reason
		}
	}
	if !strings.Contains(reason, "everything in it") {
		t.Fatalf("a Namespace prune must say it takes everything in it, said %q\n%s", reason, describe(res))
	}
	if _, err := f.namespace(target); !apierrors.IsNotFound(err) {
		t.Fatalf("PruneCreatedNamespace left the Namespace: %v", err)
	}
}

// A Namespace an earlier version of converge created on request was
// labelled and recorded; the set still has objects in it.
func TestNamespaceIsKeptWhileTheSetHasObjectsInIt(t *testing.T) {
	f := newFixture(t)
	target := f.child("legacy")
	f.deleteNamespaceLater(target)
	opts := f.options()
	opts.Namespace = target
	f.apply(setOf(t, namespaceObject(target), configMap("a", nil)), opts)

	res := f.apply(setOf(t, configMap("a", nil)), opts)
	if got := f.actions(res); got["Namespace/"+target] != apply.Kept {
		t.Fatalf("a Namespace that holds the set's objects was not kept: %v\n%s", got, describe(res))
	}
	ns, err := f.namespace(target)
	if err != nil {
		t.Fatalf("the Namespace is gone: %v", err)
	}
	if _, labelled := ns.Labels[object.LabelOwner]; labelled {
		t.Fatalf("a kept Namespace must be let go of, not stay marked as this owner's: %v", ns.Labels)
	}
	if _, err := f.getConfigMapIn(target, "a"); err != nil {
		t.Fatalf("the set's object in it is gone: %v", err)
	}
}

func (f *fixture) getConfigMapIn(namespace, name string) (*corev1.ConfigMap, error) {
	var cm corev1.ConfigMap
	err := env.Client.Get(f.ctx, client.ObjectKey{Namespace: namespace, Name: name}, &cm)
	return &cm, err
}

// The defect of issue 19: two units with --namespace monitoring
// --create-namespace rewrote each other's owner label on the Namespace,
// and whichever labelled it last deleted it, with the other unit's
// objects, when it dropped the flag.
func TestTwoUnitsCreatingOneNamespaceLeaveEachOtherAlone(t *testing.T) {
	f := newFixture(t)
	shared := f.child("monitoring")
	f.deleteNamespaceLater(shared)
	a := f.applierFor(apply.Owner{Name: "prometheus", Namespace: f.ns})
	b := f.applierFor(apply.Owner{Name: "grafana", Namespace: f.ns})
	opts := f.options()
	opts.Namespace = shared
	opts.CreateNamespace = true

	mustApply(t, f.ctx, a, setOf(t, configMap("prometheus", nil)), opts)
	plan, err := b.Plan(f.ctx, setOf(t, configMap("grafana", nil)), opts)
	if err != nil {
		t.Fatal(err)
	}
	res := mustApply(t, f.ctx, b, setOf(t, configMap("grafana", nil)), opts)
	for _, r := range []*apply.Result{plan, res} {
		if got := f.actions(r); got["Namespace/"+shared] != apply.Unchanged {
			t.Fatalf("the second unit must leave an existing Namespace alone: %v", got)
		}
	}
	ns, err := f.namespace(shared)
	if err != nil {
		t.Fatal(err)
	}
	if ns.Annotations[object.AnnotationCreatedFor] != f.ns+"/prometheus" || ns.Labels[object.LabelOwner] != "" {
		t.Fatalf("the second unit rewrote the Namespace's marks: %v %v", ns.Labels, ns.Annotations)
	}

	// Each drops the flag in turn: nothing of the other goes.
	opts.CreateNamespace = false
	mustApply(t, f.ctx, a, setOf(t, configMap("prometheus", nil)), opts)
	mustApply(t, f.ctx, b, setOf(t, configMap("grafana", nil)), opts)
	if _, err := f.namespace(shared); err != nil {
		t.Fatalf("the shared Namespace is gone: %v", err)
	}
	for _, name := range []string{"prometheus", "grafana"} {
		if _, err := f.getConfigMapIn(shared, name); err != nil {
			t.Fatalf("%s's object is gone: %v", name, err)
		}
	}
}

func TestAnObjectOfAnotherOwnerIsRefusedOrShared(t *testing.T) {
	f := newFixture(t)
	a := f.applier
	b := f.applierFor(apply.Owner{Name: "other", Namespace: f.ns})
	opts := f.options()
	mustApply(t, f.ctx, a, setOf(t, configMap("common", map[string]string{"k": "v"}), configMap("a-only", nil)), opts)

	// Refused by default, in a plan and in an apply, naming the owner.
	plan, err := b.Plan(f.ctx, setOf(t, configMap("common", map[string]string{"k": "v"})), opts)
	if !errors.Is(err, apply.ErrOwnedByOther) || f.actions(plan)["ConfigMap/common"] != apply.Failed {
		t.Fatalf("plan: want the object refused as another owner's, got %v\n%s", err, describe(plan))
	}
	before := f.client.Requests()
	_, err = b.Apply(f.ctx, setOf(t, configMap("common", map[string]string{"k": "v"})), opts)
	var oe *apply.OwnerError
	if !errors.As(err, &oe) || len(oe.Owners) != 1 || oe.Owners[0].Name != "app" || !strings.Contains(err.Error(), f.ns+"/app") {
		t.Fatalf("apply: want an OwnerError naming %s/app, got %v", f.ns, err)
	}
	if w := f.client.Requests().Sub(before).Writes(); w > 1 { // the inventory's first record at most
		t.Fatalf("a refused object was written (%d writes)", w)
	}
	cm, err := f.getConfigMap("common")
	if err != nil || cm.Labels[object.LabelOwner] != "app" {
		t.Fatalf("the other owner took the object over: %v %v", cm.Labels, err)
	}

	// Shared on request: both hold it, the first owner's labels stay.
	shared := opts
	shared.Sharing = apply.AllowShared
	mustApply(t, f.ctx, b, setOf(t, configMap("common", map[string]string{"k": "v"})), shared)
	cm, _ = f.getConfigMap("common")
	if cm.Labels[object.LabelOwner] != "app" || cm.Annotations[object.AnnotationCoOwners] != f.ns+"/other" {
		t.Fatalf("shared object marks: %v %v", cm.Labels, cm.Annotations)
	}
	// The first owner re-applies without erasing the co-owner...
	mustApply(t, f.ctx, a, setOf(t, configMap("common", map[string]string{"k": "v"}), configMap("a-only", nil)), opts)
	cm, _ = f.getConfigMap("common")
	if cm.Annotations[object.AnnotationCoOwners] != f.ns+"/other" {
		t.Fatalf("the first owner's apply erased the co-owner: %v", cm.Annotations)
	}
	// ...and at rest, neither owner's apply costs a request.
	waitFor(t, func() bool {
		ra, errA := a.Plan(f.ctx, setOf(t, configMap("common", map[string]string{"k": "v"}), configMap("a-only", nil)), opts)
		rb, errB := b.Plan(f.ctx, setOf(t, configMap("common", map[string]string{"k": "v"})), shared)
		return errA == nil && errB == nil && ra.Count(apply.Unchanged) == 2 && rb.Count(apply.Unchanged) == 1
	})
	before = f.client.Requests()
	ra := mustApply(t, f.ctx, a, setOf(t, configMap("common", map[string]string{"k": "v"}), configMap("a-only", nil)), opts)
	rb := mustApply(t, f.ctx, b, setOf(t, configMap("common", map[string]string{"k": "v"})), shared)
	if n := f.client.Requests().Sub(before).Total(); n != 0 || ra.Writes+rb.Writes != 0 {
		t.Fatalf("a shared object at rest cost %d requests:\n%s%s", n, describe(ra), describe(rb))
	}

	// The first owner drops it: it survives, now the other's alone.
	res := mustApply(t, f.ctx, a, setOf(t, configMap("a-only", nil)), opts)
	if got := f.actions(res); got["ConfigMap/common"] != apply.Kept {
		t.Fatalf("a shared object was not kept: %v\n%s", got, describe(res))
	}
	cm, err = f.getConfigMap("common")
	if err != nil {
		t.Fatalf("a prune deleted an object another owner holds: %v", err)
	}
	if cm.Labels[object.LabelOwner] != "other" || cm.Annotations[object.AnnotationCoOwners] != "" {
		t.Fatalf("after the first owner let go: %v %v", cm.Labels, cm.Annotations)
	}
	if cm.Data["k"] != "v" {
		t.Fatalf("letting go changed the object's content: %v", cm.Data)
	}
	// The other owner, now alone, prunes it for real.
	mustApply(t, f.ctx, b, setOf(t, configMap("b-only", nil)), shared)
	if _, err := f.getConfigMap("common"); !apierrors.IsNotFound(err) {
		t.Fatalf("the last owner's prune left it: %v", err)
	}
}

// The defect of issue 19: the default owner came from --path alone, so
// two repositories with a guestbook/ folder were one owner, and the
// second one's apply pruned the first one's objects.
func TestPruneRefusesObjectsLastAppliedFromAnotherSource(t *testing.T) {
	f := newFixture(t)
	first := f.applierFor(apply.Owner{Name: "guestbook", Namespace: f.ns, Source: "https://git.example.com/team-a/apps"})
	second := f.applierFor(apply.Owner{Name: "guestbook", Namespace: f.ns, Source: "https://git.example.com/team-b/apps"})
	opts := f.options()
	mustApply(t, f.ctx, first, setOf(t, configMap("ui", nil), configMap("api", nil)), opts)
	cm, err := f.getConfigMap("ui")
	if err != nil || cm.Annotations[object.AnnotationSource] != "https://git.example.com/team-a/apps" {
		t.Fatalf("source not recorded: %v %v", cm.Annotations, err)
	}

	for _, dry := range []bool{true, false} {
		run := second.Apply
		if dry {
			run = second.Plan
		}
		res, err := run(f.ctx, setOf(t, configMap("frontend", nil)), opts)
		if !errors.Is(err, apply.ErrOtherSource) || !strings.Contains(err.Error(), "team-a") {
			t.Fatalf("dry=%v: want the prune refused naming the other source, got %v\n%s", dry, err, describe(res))
		}
		if res.Count(apply.Pruned) != 0 || !strings.Contains(res.PruneSkipped, "refused") {
			t.Fatalf("dry=%v: %s\n%s", dry, res.PruneSkipped, describe(res))
		}
	}
	for _, name := range []string{"ui", "api"} {
		if _, err := f.getConfigMap(name); err != nil {
			t.Fatalf("%s, applied from the other repository, was pruned: %v", name, err)
		}
	}

	// The host may say it means it.
	opts.PruneOtherSources = true
	res := mustApply(t, f.ctx, second, setOf(t, configMap("frontend", nil)), opts)
	if res.Count(apply.Pruned) != 2 {
		t.Fatalf("PruneOtherSources: %s\n%s", res, describe(res))
	}
}

func TestNamespacePruneKeepsAnotherOwnersObjects(t *testing.T) {
	f := newFixture(t)
	team := f.child("team")
	f.deleteNamespaceLater(team)
	platform := f.applierFor(apply.Owner{Name: "platform", Namespace: f.ns})
	app := f.applierFor(apply.Owner{Name: "shop", Namespace: f.ns})
	opts := f.options()
	mustApply(t, f.ctx, platform, setOf(t, namespaceObject(team), configMap("elsewhere", nil)), opts)
	inTeam := opts
	inTeam.Namespace = team
	mustApply(t, f.ctx, app, setOf(t, configMap("cart", nil)), inTeam)

	// The platform unit drops the Namespace from Git.
	res := mustApply(t, f.ctx, platform, setOf(t, configMap("elsewhere", nil)), opts)
	var kept apply.ObjectResult
	for _, o := range res.Objects {
		if o.ID.Kind == "Namespace" {
			kept = o
		}
	}
	if kept.Action != apply.Kept || !strings.Contains(kept.Reason, f.ns+"/shop") {
		t.Fatalf("a Namespace holding another owner's objects: %+v\n%s", kept, describe(res))
	}
	if _, err := f.getConfigMapIn(team, "cart"); err != nil {
		t.Fatalf("another owner's object went with the Namespace: %v", err)
	}
}

func TestSharedCacheMustHoldEveryOwner(t *testing.T) {
	f := newFixture(t)
	narrow := cluster.NewCache(f.client, cluster.CacheOptions{
		Selector: labels.SelectorFromSet(labels.Set{object.LabelOwner: "app"}),
	})
	defer narrow.Stop()
	if _, err := apply.New(f.client, apply.Owner{Name: "app"}, apply.WithCache(narrow)); err == nil {
		t.Fatal("a cache that holds one owner's objects only was accepted")
	}
	shared := cluster.NewCache(f.client, apply.CacheOptions(object.FieldManager))
	defer shared.Stop()
	a, err := apply.New(f.client, apply.Owner{Name: "app"}, apply.WithCache(shared))
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
}

func TestOwnerSourceMustNotHoldCredentials(t *testing.T) {
	c, err := cluster.New(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	_, err = apply.New(c, apply.Owner{Name: "app", Source: "https://user:hunter2@git.example.com/r"})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("want a refusal without the password, got %v", err)
	}
}
