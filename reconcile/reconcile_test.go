package reconcile_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/reconcile"
)

func TestAPassAppliesAndAnUnchangedPassCostsNothing(t *testing.T) {
	f := newFixture(t)
	rev := f.repo.Commit(t, "app", map[string]string{
		"app/a.yaml": configMapYAML("a", nil),
		"app/b.yaml": configMapYAML("b", nil),
		"README.md":  "not a manifest",
	})
	u := f.unit("app", "app")

	s := f.reconcile(u)
	if !s.Ready() || !strings.Contains(s.LastAppliedRevision, rev) || !s.Rendered || s.Sync != reconcile.Synced {
		t.Fatalf("first pass:\n%s", describe(s))
	}
	if c := s.Condition(reconcile.ConditionReady); c.ObservedGeneration != u.Generation || c.Reason != reconcile.ReasonSucceeded {
		t.Fatalf("Ready condition: %+v", c)
	}
	f.mustExist("a", "b")
	cm, _ := f.configMap("a")
	if got := cm.Annotations["converge.dev/source"]; got != reconcile.SourceIdentity(f.repo.URL) {
		t.Fatalf("the source is not recorded on the object: %q", got)
	}

	// The steady state: an unchanged revision and an in-sync cluster cost
	// no API request and no render.
	waitFor(t, 10*time.Second, "the cache settles", func() bool {
		s, err := f.r.Plan(f.ctx, u)
		return err == nil && s.Sync == reconcile.Synced
	})
	before := f.client.Requests()
	gitBefore := f.git.Requests()
	s = f.reconcile(u)
	if n := f.client.Requests().Sub(before).Total(); n != 0 {
		t.Fatalf("an unchanged pass sent %d API requests: %s", n, f.client.Requests().Sub(before))
	}
	if s.Rendered {
		t.Fatal("an unchanged revision was rendered again")
	}
	if s.Result.Writes != 0 || !s.Ready() {
		t.Fatalf("steady pass:\n%s", describe(s))
	}
	if n := f.git.Requests() - gitBefore; n > 1 {
		t.Fatalf("an unchanged pass cost %d Git requests; one reference listing at most", n)
	}
}

func TestAFailedFetchOrRenderKeepsTheLastStateAndPrunesNothing(t *testing.T) {
	var down atomic.Bool
	srv := gittest.NewServer(t, gittest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if down.Load() {
				http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	f := newFixture(t)
	f.repo = srv.NewRepo(t, "flaky")
	good := f.repo.Commit(t, "good", map[string]string{"app/a.yaml": configMapYAML("a", nil), "app/b.yaml": configMapYAML("b", nil)})
	u := f.unit("app", "app")
	f.reconcile(u)

	// The Git server goes down.
	down.Store(true)
	s, err := f.r.Reconcile(f.ctx, u)
	var se *reconcile.StageError
	if !errors.As(err, &se) || se.Stage != reconcile.StageFetch || condition(s, reconcile.ConditionReady) != "False/ArtifactFailed" {
		t.Fatalf("fetch failure: %v\n%s", err, describe(s))
	}
	if !strings.Contains(s.LastAppliedRevision, good) || s.Failures != 1 {
		t.Fatalf("the last applied revision was lost: %s", describe(s))
	}
	f.mustExist("a", "b")
	down.Store(false)

	// A commit that does not render: one object removed, one broken.
	f.repo.Commit(t, "broken", map[string]string{"app/b.yaml": "", "app/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: [not, a, map\n"})
	s, err = f.r.Reconcile(f.ctx, u)
	if !errors.As(err, &se) || se.Stage != reconcile.StageRender || condition(s, reconcile.ConditionReady) != "False/BuildFailed" {
		t.Fatalf("render failure: %v\n%s", err, describe(s))
	}
	if s.Failures != 2 || condition(s, reconcile.ConditionReconciling) != "True/ProgressingWithRetry" {
		t.Fatalf("failures are counted and retried: %s", describe(s))
	}
	f.mustExist("a", "b")

	// Fixed: b is pruned now, and the failures are over.
	f.repo.Commit(t, "fixed", map[string]string{"app/a.yaml": configMapYAML("a", nil)})
	s = f.reconcile(u)
	if s.Failures != 0 || !s.Ready() {
		t.Fatalf("recovery: %s", describe(s))
	}
	f.mustExist("a")
	f.mustBeGone("b")
}

func TestAnEmptyRenderIsRefusedUnlessAllowed(t *testing.T) {
	f := newFixture(t)
	f.repo.Commit(t, "app", map[string]string{"app/a.yaml": configMapYAML("a", nil)})
	u := f.unit("app", "app")
	f.reconcile(u)

	f.repo.Commit(t, "emptied", map[string]string{"app/a.yaml": "", "app/.gitkeep": "x"})
	s, err := f.r.Reconcile(f.ctx, u)
	if !errors.Is(err, reconcile.ErrEmptyRender) || s.Ready() {
		t.Fatalf("an empty render was not refused: %v\n%s", err, describe(s))
	}
	f.mustExist("a")

	u.Sync.AllowEmpty = true
	s = f.reconcile(u)
	if s.Result.Count(apply.Pruned) != 1 {
		t.Fatalf("AllowEmpty did not prune: %s", describe(s))
	}
	f.mustBeGone("a")
}

func TestAManualUnitIsPlannedUntilSynced(t *testing.T) {
	f := newFixture(t)
	f.repo.Commit(t, "app", map[string]string{"app/a.yaml": configMapYAML("a", nil)})
	u := f.unit("app", "app")
	u.Sync.Manual = true

	s := f.reconcile(u)
	if s.Sync != reconcile.OutOfSync || condition(s, reconcile.ConditionReady) != "False/OutOfSync" || s.Result.Writes != 0 {
		t.Fatalf("a manual unit: %s", describe(s))
	}
	f.mustBeGone("a")

	s, err := f.r.Sync(f.ctx, u)
	if err != nil || !s.Ready() || s.Sync != reconcile.Synced {
		t.Fatalf("sync: %v\n%s", err, describe(s))
	}
	f.mustExist("a")
	s = f.reconcile(u)
	if s.Sync != reconcile.Synced || !s.Ready() {
		t.Fatalf("after a sync, a manual unit in sync is Ready: %s", describe(s))
	}
}

func TestAGateHoldsTheApplyBack(t *testing.T) {
	var approved atomic.Bool
	var asked atomic.Int32
	gate := reconcile.GateFunc(func(_ context.Context, u *reconcile.Unit, plan *apply.Result) error {
		asked.Add(1)
		if !approved.Load() {
			return errors.New("waiting for approval of " + plan.String())
		}
		return nil
	})
	f := newFixture(t, reconcile.WithGate(gate))
	f.repo.Commit(t, "app", map[string]string{"app/a.yaml": configMapYAML("a", nil)})
	u := f.unit("app", "app")

	s, err := f.r.Reconcile(f.ctx, u)
	if !errors.Is(err, reconcile.ErrGateRefused) || condition(s, reconcile.ConditionReady) != "False/GateRefused" ||
		!strings.Contains(s.Condition(reconcile.ConditionReady).Message, "1 created") {
		t.Fatalf("gate: %v\n%s", err, describe(s))
	}
	f.mustBeGone("a")
	approved.Store(true)
	f.reconcile(u)
	f.mustExist("a")

	// In sync: the gate is not asked.
	n := asked.Load()
	f.reconcile(u)
	if asked.Load() != n {
		t.Fatal("the gate was asked about a pass with nothing to apply")
	}
}

func TestAForcePushToAnOlderCommitRollsBack(t *testing.T) {
	f := newFixture(t)
	old := f.repo.Commit(t, "v1", map[string]string{"app/a.yaml": configMapYAML("a", map[string]string{"version": "1"})})
	f.repo.Commit(t, "v2", map[string]string{
		"app/a.yaml": configMapYAML("a", map[string]string{"version": "2"}),
		"app/b.yaml": configMapYAML("b", nil),
	})
	u := f.unit("app", "app")
	f.reconcile(u)
	f.mustExist("a", "b")

	f.repo.ForcePush(t, old)
	s := f.reconcile(u)
	if !strings.Contains(s.LastAppliedRevision, old) {
		t.Fatalf("not rolled back: %s", describe(s))
	}
	f.mustBeGone("b")
	cm, _ := f.configMap("a")
	if cm.Data["version"] != "1" {
		t.Fatalf("a was not rolled back: %v", cm.Data)
	}
}

func TestSubstitutionFromConfigMapsAndSecrets(t *testing.T) {
	f := newFixture(t)
	f.repo.Commit(t, "app", map[string]string{"app/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  cluster: ${cluster_name}\n  region: ${region:=eu-west-1}\n  token: ${token}\n"})
	if err := f.env.Client.Create(f.ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cluster-config", Namespace: f.ns}, Data: map[string]string{"cluster_name": "prod-1"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.env.Client.Create(f.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "cluster-secrets", Namespace: f.ns}, StringData: map[string]string{"token": "s3cr3t"}}); err != nil {
		t.Fatal(err)
	}
	u := f.unit("app", "app")
	u.Substitute.From = []reconcile.SubstituteFrom{{Kind: "ConfigMap", Name: "cluster-config"}, {Kind: "Secret", Name: "cluster-secrets"}, {Kind: "ConfigMap", Name: "absent", Optional: true}}
	f.reconcile(u)
	cm, _ := f.configMap("a")
	if cm.Data["cluster"] != "prod-1" || cm.Data["region"] != "eu-west-1" || cm.Data["token"] != "s3cr3t" {
		t.Fatalf("substitution: %v", cm.Data)
	}

	// A changed variable renders again, with no new commit.
	var src corev1.ConfigMap
	if err := f.env.Client.Get(f.ctx, clientKey(f.ns, "cluster-config"), &src); err != nil {
		t.Fatal(err)
	}
	src.Data["cluster_name"] = "prod-2"
	if err := f.env.Client.Update(f.ctx, &src); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the new value is applied", func() bool {
		s, err := f.r.Reconcile(f.ctx, u)
		cm, _ := f.configMap("a")
		return err == nil && s.Rendered && cm.Data["cluster"] == "prod-2"
	})

	// A missing, non-optional source is a render failure that names it
	// and applies nothing.
	u.Substitute.From = append(u.Substitute.From, reconcile.SubstituteFrom{Kind: "Secret", Name: "missing"})
	_, err := f.r.Reconcile(f.ctx, u)
	if err == nil || !strings.Contains(err.Error(), "Secret "+f.ns+"/missing") || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("want a failure naming the missing Secret, got %v", err)
	}
}

func TestRestrictionsRefuseWhatTheProjectDoesNotAllow(t *testing.T) {
	f := newFixture(t)
	f.repo.Commit(t, "app", map[string]string{
		"app/a.yaml":  configMapYAML("a", nil),
		"app/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + f.ns + "-extra\n",
	})
	project := &reconcile.Restrictions{
		Project:      "production",
		SourceRepos:  []string{strings.TrimSuffix(f.repo.URL, "deploy.git") + "*"},
		Destinations: []reconcile.DestinationPattern{{Cluster: "https://kubernetes.default.svc", Namespace: f.ns}},
	}
	u := f.unit("app", "app")
	u.Restrictions = project
	_, err := f.r.Reconcile(f.ctx, u)
	if err == nil || !strings.Contains(err.Error(), "cluster-scoped kind Namespace is not permitted in project \"production\"") ||
		!errors.Is(err, reconcile.ErrRestricted) || !errors.Is(err, apply.ErrRefused) {
		t.Fatalf("want the Namespace refused by the project (ErrRestricted, apply.ErrRefused), got %v", err)
	}
	f.mustBeGone("a") // refused before anything was written

	project.ClusterResources = []reconcile.GroupKindPattern{{Group: "example.com", Kind: "Namespace"}}
	if _, err := f.r.Reconcile(f.ctx, u); err == nil {
		t.Fatal("a Namespace of another group let the core Namespace through")
	}
	project.ClusterResources = []reconcile.GroupKindPattern{{Group: "", Kind: "Namespace"}}
	f.reconcile(u)
	f.mustExist("a")

	other := u
	other.Name = "other"
	other.Restrictions = &reconcile.Restrictions{Project: "p", SourceRepos: []string{"https://github.com/elsewhere/*"},
		Destinations: []reconcile.DestinationPattern{{Cluster: "*", Namespace: "*"}}}
	if _, err := f.r.Reconcile(f.ctx, other); !errors.Is(err, reconcile.ErrRestricted) {
		t.Fatalf("a source outside the project: %v", err)
	}
	other.Restrictions.SourceRepos = []string{"*"}
	other.Destination.Namespace = "kube-system"
	other.Restrictions.Destinations = []reconcile.DestinationPattern{{Namespace: "team-*"}}
	if _, err := f.r.Reconcile(f.ctx, other); !errors.Is(err, reconcile.ErrRestricted) {
		t.Fatalf("a destination outside the project: %v", err)
	}
}

func TestDecryptionWithoutADecrypterFailsClosed(t *testing.T) {
	f := newFixture(t)
	f.repo.Commit(t, "app", map[string]string{"app/a.yaml": configMapYAML("a", nil)})
	u := f.unit("app", "app")
	u.Decryption = &reconcile.Decryption{Provider: "sops", SecretRef: "sops-age-key"}
	_, err := f.r.Reconcile(f.ctx, u)
	var se *reconcile.StageError
	if !errors.As(err, &se) || se.Stage != reconcile.StageRender || !strings.Contains(err.Error(), `"sops"`) {
		t.Fatalf("want a render failure naming the provider, got %v", err)
	}
	f.mustBeGone("a")
}

// Status answers while the unit's pass runs: dependents ask about their
// dependencies, and a host's status page about every unit.
func TestStatusDoesNotWaitForAPassUnderWay(t *testing.T) {
	inGate, release := make(chan struct{}), make(chan struct{})
	gate := reconcile.GateFunc(func(context.Context, *reconcile.Unit, *apply.Result) error {
		close(inGate)
		<-release
		return nil
	})
	f := newFixture(t, reconcile.WithGate(gate))
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	t.Cleanup(open) // a failure below must not leave the pass held
	f.repo.Commit(t, "app", map[string]string{"app/a.yaml": configMapYAML("a", nil)})
	u := f.unit("app", "app")
	done := make(chan error, 1)
	go func() { _, err := f.r.Reconcile(f.ctx, u); done <- err }()
	<-inGate
	answered := make(chan bool, 1)
	go func() { _, ok := f.r.Status(u.Ref()); answered <- ok }()
	select {
	case ok := <-answered:
		if ok {
			t.Fatal("a status before the first pass ended")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Status waited for the pass under way")
	}
	open()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s, ok := f.r.Status(u.Ref()); !ok || !s.Ready() {
		t.Fatalf("after the pass: %v", ok)
	}
}

// TestObjectHealthIsEachInventoryObjectFromTheCache: a host's resource
// tree, object by object, after a pass; nothing before one.
func TestObjectHealthIsEachInventoryObjectFromTheCache(t *testing.T) {
	f := newFixture(t)
	f.repo.Commit(t, "two", map[string]string{
		"tree/a.yaml": configMapYAML("a", nil),
		"tree/b.yaml": configMapYAML("b", nil),
	})
	u := f.unit("tree", "tree")
	if _, ok := f.r.ObjectHealth(f.ctx, u.Ref()); ok {
		t.Fatal("a unit that never ran has no object health")
	}
	f.reconcile(u)
	results, ok := f.r.ObjectHealth(f.ctx, u.Ref())
	if !ok || len(results) != 2 {
		t.Fatalf("want the health of a and b, got %v (%v)", results, ok)
	}
	for _, r := range results {
		if r.ID.Kind != "ConfigMap" || r.ID.Namespace != f.ns || r.Status != health.Healthy {
			t.Errorf("%s: %s, want a Healthy ConfigMap of %s", r.ID, r.Status, f.ns)
		}
	}
	if err := f.env.Client.Delete(f.ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "a"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		results, _ = f.r.ObjectHealth(f.ctx, u.Ref())
		if health.Worst(results) == health.Unknown || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := health.Worst(results); got != health.Unknown {
		t.Fatalf("a deleted object is Unknown in the tree, got %s", got)
	}
}
