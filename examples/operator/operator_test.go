package operator

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/reconcile"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

// TestReady: an Application becomes Ready (kubectl wait, the real
// kubectl), its objects exist, the status says what was applied, an event
// records the write, and kubectl shows the printer columns.
func TestReady(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	head := f.repo.Commit(t, "first", map[string]string{
		"apps/shop/config.yaml": configMapYAML("shop-config", map[string]string{"color": "blue"}),
		"apps/shop/deploy.yaml": deploymentYAML("shop", true),
	})
	f.application("shop", "apps/shop")

	_, err := f.kubectl("wait", "--for=condition=Ready", "application/shop", "--timeout=60s")
	require.NoError(t, err, "kubectl wait --for=condition=Ready")

	app := f.get("shop")
	ready := condition(app, v1alpha1.ConditionReady)
	assert.Equal(t, app.Generation, ready.ObservedGeneration)
	assert.Equal(t, app.Generation, app.Status.ObservedGeneration)
	assert.Equal(t, reconcile.ReasonSucceeded, ready.Reason)
	assert.Equal(t, "main@sha1:"+head, app.Status.LastAppliedRevision)
	assert.Equal(t, app.Status.LastAppliedRevision, app.Status.LastAttemptedRevision)
	assert.Equal(t, "Synced", app.Status.Sync)
	require.NotNil(t, app.Status.Inventory)
	assert.Equal(t, int32(2), app.Status.Inventory.Count)
	assert.Equal(t, map[string]string{"color": "blue"}, f.configMap("shop-config"))
	var dep appsv1.Deployment
	require.NoError(t, f.c.Get(ctxT(t), client.ObjectKey{Namespace: f.ns, Name: "shop"}, &dep))
	assert.Equal(t, "shop", dep.Labels["converge.dev/owner"], "applied as the Application")

	f.eventuallyEvent("shop", "Normal/Applied: revision main@sha1:"+head+": 2 created")

	// The Deployment becomes available on the living plane; a later pass
	// sees it.
	app = f.eventually("shop", "healthy", func(a *v1alpha1.Application) bool {
		return a.Status.Health == "Healthy" && condition(a, v1alpha1.ConditionHealthy).Status == metav1.ConditionTrue
	})
	require.NotNil(t, app.Status.LastPlan)

	out, err := f.kubectl("get", "applications.converge.dev", "shop")
	require.NoError(t, err)
	header := strings.Fields(strings.SplitN(out, "\n", 2)[0])
	assert.Equal(t, []string{"NAME", "READY", "REVISION", "HEALTH", "AGE"}, header)
	assert.Contains(t, out, "True")
	assert.Contains(t, out, "main@sha1:"+head)
	assert.Contains(t, out, "Healthy")
}

// TestNewCommit: a commit pushed to the branch is applied at the next
// interval, and the status moves to it.
func TestNewCommit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	first := f.repo.Commit(t, "first", map[string]string{"app/cm.yaml": configMapYAML("web", map[string]string{"v": "1"})})
	f.application("web", "app")
	f.eventually("web", "ready at the first commit", readyAt(first))

	second := f.repo.Commit(t, "second", map[string]string{"app/cm.yaml": configMapYAML("web", map[string]string{"v": "2"})})
	app := f.eventually("web", "ready at the second commit", readyAt(second))
	assert.Equal(t, map[string]string{"v": "2"}, f.configMap("web"))
	assert.Equal(t, int32(1), app.Status.LastPlan.Configured)
	f.eventuallyEvent("web", "Normal/Applied: revision main@sha1:"+second+": 0 created, 1 configured")
}

// TestSourceDown: while the Git server is down the last good state stays
// (nothing is pruned, though the Application prunes), Ready is False with
// the reason and the fetch's error, and a warning is recorded; when it is
// back, the next pass recovers, clears the condition and applies what
// changed meanwhile, pruning included.
func TestSourceDown(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	good := f.repo.Commit(t, "two maps", map[string]string{
		"app/a.yaml": configMapYAML("a", map[string]string{"k": "a"}),
		"app/b.yaml": configMapYAML("b", map[string]string{"k": "b"}),
	})
	f.application("two", "app", func(a *v1alpha1.Application) { a.Spec.SyncPolicy.Prune = true })
	f.eventually("two", "ready", readyAt(good))

	f.down.Store(true)
	app := f.eventually("two", "Ready=False for the fetch", func(a *v1alpha1.Application) bool {
		c := condition(a, v1alpha1.ConditionReady)
		return c.Status == metav1.ConditionFalse && c.Reason == reconcile.ReasonArtifactFailed
	})
	ready := condition(app, v1alpha1.ConditionReady)
	t.Logf("source down: Ready=%s %s: %s", ready.Status, ready.Reason, ready.Message)
	assert.Contains(t, ready.Message, "fetch", "the message says which stage failed")
	assert.Contains(t, ready.Message, "503", "and why")
	assert.Equal(t, metav1.ConditionTrue, condition(app, v1alpha1.ConditionReconciling).Status, "a retry is due")
	assert.Equal(t, "main@sha1:"+good, app.Status.LastAppliedRevision, "the last good revision stays")
	f.eventuallyEvent("two", "Warning/ArtifactFailed: ")

	// A commit the operator cannot see yet (the test's git CLI still
	// pushes): b leaves the source.
	head := f.repo.Commit(t, "drop b", map[string]string{"app/b.yaml": ""})
	time.Sleep(3 * testInterval) // several failed passes
	assert.NotNil(t, f.configMap("a"), "nothing is pruned while the source is down")
	assert.NotNil(t, f.configMap("b"), "nothing is pruned while the source is down")

	f.down.Store(false)
	app = f.eventually("two", "ready at the new commit", readyAt(head))
	assert.Equal(t, reconcile.ReasonSucceeded, condition(app, v1alpha1.ConditionReady).Reason)
	assert.Empty(t, condition(app, v1alpha1.ConditionStalled).Type)
	assert.Nil(t, f.configMap("b"), "the recovered pass prunes what left the source")
	assert.NotNil(t, f.configMap("a"))
	f.eventuallyEvent("two", "Normal/Recovered: recovered from ArtifactFailed")
	t.Logf("events: %q", f.events("two"))
}

// TestDependencyNeverHealthy: a dependency whose Deployment never becomes
// available keeps its dependent waiting, Ready=False with a reason and a
// message that names the dependency and its health, with nothing of the
// dependent applied; a dependency that does not exist is named too. When
// the dependency becomes healthy the dependent is applied.
func TestDependencyNeverHealthy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.repo.Commit(t, "db and web", map[string]string{
		"db/deploy.yaml": deploymentYAML("db", false),
		"web/cm.yaml":    configMapYAML("web", map[string]string{"db": "db:5432"}),
	})
	f.application("db", "db")
	f.application("web", "web", func(a *v1alpha1.Application) { a.Spec.DependsOn = []string{"db"} })
	f.application("orphan", "web", func(a *v1alpha1.Application) { a.Spec.DependsOn = []string{"ghost"} })

	f.eventually("db", "applied", func(a *v1alpha1.Application) bool {
		return condition(a, v1alpha1.ConditionReady).Status == metav1.ConditionTrue
	})
	app := f.eventually("web", "waiting for db's health", func(a *v1alpha1.Application) bool {
		c := condition(a, v1alpha1.ConditionReady)
		return c.Reason == reconcile.ReasonDependencyNotReady && strings.Contains(c.Message, "Progressing")
	})
	ready := condition(app, v1alpha1.ConditionReady)
	t.Logf("dependent: Ready=%s %s: %s", ready.Status, ready.Reason, ready.Message)
	assert.Equal(t, metav1.ConditionFalse, ready.Status)
	assert.Equal(t, app.Generation, ready.ObservedGeneration)
	assert.Contains(t, ready.Message, f.ns+"/db")
	f.eventuallyEvent("web", "Normal/DependencyNotReady: ")

	orphan := f.eventually("orphan", "waiting for a missing dependency", func(a *v1alpha1.Application) bool {
		return condition(a, v1alpha1.ConditionReady).Reason == reconcile.ReasonDependencyNotReady
	})
	assert.Contains(t, condition(orphan, v1alpha1.ConditionReady).Message, "ghost does not exist")

	time.Sleep(3 * testInterval) // several passes of db and web
	assert.Equal(t, reconcile.ReasonDependencyNotReady, condition(f.get("web"), v1alpha1.ConditionReady).Reason)
	assert.Nil(t, f.configMap("web"), "nothing of the dependent is applied")
	assert.Empty(t, f.get("web").Status.LastAppliedRevision)
	for _, e := range f.events("web") {
		assert.NotContains(t, e, "Applied", "no write was recorded")
	}

	// The dependency is fixed: the dependent follows.
	f.repo.Commit(t, "db schedulable", map[string]string{"db/deploy.yaml": deploymentYAML("db", true)})
	f.eventually("web", "ready once db is healthy", readyAt(""))
	assert.Equal(t, map[string]string{"db": "db:5432"}, f.configMap("web"))
	t.Logf("events of web: %q", f.events("web"))
}

// TestSuspend: a suspended Application is not reconciled (a new commit
// is not applied, the applied objects stay), says so, and resumes when
// unsuspended.
func TestSuspend(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	first := f.repo.Commit(t, "first", map[string]string{"app/cm.yaml": configMapYAML("s", map[string]string{"v": "1"})})
	f.application("s", "app")
	f.eventually("s", "ready", readyAt(first))

	app := f.get("s")
	app.Spec.Suspend = true
	require.NoError(t, f.c.Update(ctxT(t), app))
	f.eventually("s", "suspended", func(a *v1alpha1.Application) bool {
		c := condition(a, v1alpha1.ConditionReconciling)
		return c.Reason == reconcile.ReasonSuspended && c.ObservedGeneration == a.Generation
	})
	f.eventuallyEvent("s", "Normal/Suspended: ")

	second := f.repo.Commit(t, "second", map[string]string{"app/cm.yaml": configMapYAML("s", map[string]string{"v": "2"})})
	time.Sleep(3 * testInterval)
	app = f.get("s")
	assert.Equal(t, "main@sha1:"+first, app.Status.LastAppliedRevision, "the new commit is not applied")
	assert.Equal(t, "main@sha1:"+first, app.Status.LastAttemptedRevision, "nor fetched")
	assert.Equal(t, map[string]string{"v": "1"}, f.configMap("s"))
	assert.Equal(t, metav1.ConditionTrue, condition(app, v1alpha1.ConditionReady).Status, "Ready still says what was applied")

	app.Spec.Suspend = false
	require.NoError(t, f.c.Update(ctxT(t), app))
	f.eventually("s", "ready at the second commit", readyAt(second))
	assert.Equal(t, map[string]string{"v": "2"}, f.configMap("s"))
}

// TestValidation: the CRD's markers refuse what the operator could not
// reconcile, before it is stored.
func TestValidation(t *testing.T) {
	t.Parallel()
	_, c := startOperator(t)
	f := &fixture{t: t, c: c, ns: running.env.Namespace(t)}
	cases := map[string]struct {
		mutate func(*v1alpha1.Application)
		want   string
	}{
		"path outside the repository": {func(a *v1alpha1.Application) { a.Spec.Source.Path = "../etc" }, "path must be relative"},
		"absolute path":               {func(a *v1alpha1.Application) { a.Spec.Source.Path = "/etc" }, "path must be relative"},
		"no repository":               {func(a *v1alpha1.Application) { a.Spec.Source.RepoURL = "" }, "spec.source.repoURL"},
		"long name":                   {func(a *v1alpha1.Application) { a.Name = strings.Repeat("a", 55) }, "DNS label of at most 54"},
		"dotted name":                 {func(a *v1alpha1.Application) { a.Name = "a.b" }, "DNS label of at most 54"},
		"bad dependency":              {func(a *v1alpha1.Application) { a.Spec.DependsOn = []string{"Not_A_Name"} }, "spec.dependsOn[0]"},
		"bad destination":             {func(a *v1alpha1.Application) { a.Spec.Destination.Namespace = "UPPER" }, "spec.destination.namespace"},
		"two revisions": {func(a *v1alpha1.Application) {
			a.Spec.Source.TargetRevision, a.Spec.Source.Ref = "main", &v1alpha1.GitRef{Branch: "main"}
		}, "set targetRevision or ref, not both"},
		"empty ref":      {func(a *v1alpha1.Application) { a.Spec.Source.Ref = &v1alpha1.GitRef{} }, "ref names no revision"},
		"tag and semver": {func(a *v1alpha1.Application) { a.Spec.Source.Ref = &v1alpha1.GitRef{Tag: "v1", SemVer: ">=1"} }, "set one of branch, tag, semver, name and commit"},
		"short commit":   {func(a *v1alpha1.Application) { a.Spec.Source.Ref = &v1alpha1.GitRef{Commit: "abc1234"} }, "spec.source.ref.commit"},
		"render kind":    {func(a *v1alpha1.Application) { a.Spec.Render.Kind = "Jsonnet" }, "spec.render.kind"},
		"ignore nothing": {func(a *v1alpha1.Application) {
			a.Spec.IgnoreDifferences = []v1alpha1.IgnoreDifference{{Kind: "Deployment"}}
		}, "set jsonPointers, paths or managedFieldsManagers"},
		"negative retry limit": {func(a *v1alpha1.Application) { a.Spec.Retry = &v1alpha1.Retry{Limit: -1} }, "spec.retry.limit"},
		"zero factor": {func(a *v1alpha1.Application) {
			zero := int32(0)
			a.Spec.Retry = &v1alpha1.Retry{Backoff: &v1alpha1.Backoff{Factor: &zero}}
		}, "spec.retry.backoff.factor"},
		"conflicts": {func(a *v1alpha1.Application) { a.Spec.SyncOptions.Conflicts = "Ignore" }, "spec.syncOptions.conflicts"},
		"health check without a name": {func(a *v1alpha1.Application) {
			a.Spec.HealthChecks = []v1alpha1.HealthCheck{{APIVersion: "apps/v1", Kind: "Deployment"}}
		}, "spec.healthChecks[0].name"},
	}
	for name, tc := range cases {
		app := &v1alpha1.Application{
			ObjectMeta: metav1.ObjectMeta{Name: "v", Namespace: f.ns},
			Spec:       v1alpha1.ApplicationSpec{Source: v1alpha1.Source{RepoURL: "https://git.example/x.git"}},
		}
		tc.mutate(app)
		err := c.Create(ctxT(t), app)
		if assert.Error(t, err, name) {
			assert.Contains(t, err.Error(), tc.want, name)
		}
	}

	// An interval the pattern refuses, through kubectl as a user writes it.
	f.env = running.env
	out, err := f.kubectlApply("apiVersion: converge.dev/v1alpha1\nkind: Application\nmetadata: {name: every-ten}\nspec:\n  source: {repoURL: https://git.example/x.git}\n  interval: ten minutes\n")
	require.Error(t, err)
	assert.Contains(t, out, "spec.interval")

	// Every field at once, as a user writes it: the CRD's schema and its
	// rules take it, and it reads back field by field.
	full := `apiVersion: converge.dev/v1alpha1
kind: Application
metadata: {name: full}
spec:
  source:
    repoURL: https://git.example/x.git
    ref: {branch: release, commit: 0123456789abcdef0123456789abcdef01234567}
    path: apps/shop
  render: {kind: Kustomize}
  destination: {namespace: shop, cluster: in-cluster}
  syncPolicy: {automated: false, prune: true, selfHeal: true, allowEmpty: true}
  syncOptions: {createNamespace: true, prunePropagationPolicy: foreground, recreate: true, conflicts: Report, allowShared: true}
  retry: {limit: 5, backoff: {duration: 5s, factor: 2, maxDuration: 3m}}
  ignoreDifferences:
  - {group: apps, kind: Deployment, jsonPointers: [/spec/replicas], managedFieldsManagers: [kube-controller-manager]}
  - {kind: ConfigMap, name: "gen-*", paths: ['.data["generated"]']}
  healthChecks:
  - {apiVersion: apps/v1, kind: Deployment, name: db}
  wait: true
  dependsOn: [db]
  suspend: true
  interval: 10m
  timeout: 2m
`
	out, err = f.kubectlApply(full)
	require.NoError(t, err, out)
	var got v1alpha1.Application
	require.NoError(t, c.Get(ctxT(t), client.ObjectKey{Namespace: f.ns, Name: "full"}, &got))
	u, err := Unit(&got, time.Minute, time.Second)
	require.NoError(t, err, "what the CRD takes, the operator maps")
	assert.Equal(t, reconcile.RenderKustomize, u.Render.Kind)
	assert.Equal(t, 5, u.Retry.Limit)
	assert.Len(t, u.Ignore, 2)
	assert.Equal(t, "db", u.Health.Checks[0].Name)
	assert.True(t, u.Sync.Manual && u.Sync.AllowEmpty && u.Sync.CreateNamespace && u.Suspend && u.Health.Wait)

	// Defaults: automated unless said otherwise.
	out, err = f.kubectlApply("apiVersion: converge.dev/v1alpha1\nkind: Application\nmetadata: {name: minimal}\nspec:\n  source: {repoURL: https://git.example/x.git}\n")
	require.NoError(t, err, out)
	var app v1alpha1.Application
	require.NoError(t, c.Get(ctxT(t), client.ObjectKey{Namespace: f.ns, Name: "minimal"}, &app))
	require.NotNil(t, app.Spec.SyncPolicy.Automated)
	assert.True(t, *app.Spec.SyncPolicy.Automated)
	assert.False(t, app.Spec.SyncPolicy.Prune, "nothing is pruned unless asked")
}
