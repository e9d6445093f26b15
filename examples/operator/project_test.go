package operator

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/reconcile"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

func TestRestrictions(t *testing.T) {
	cases := map[string]struct {
		reason  string
		project *v1alpha1.Project
		want    *reconcile.Restrictions
		sa      string
	}{
		"no project": {
			reason: "an Application that names no Project is bound by nothing, as before Projects",
		},
		"empty project": {
			reason:  "a Project that lists nothing allows nothing: no repository, no destination, no cluster-scoped kind",
			project: &v1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: "empty", Namespace: "team-a"}},
			want:    &reconcile.Restrictions{Project: "empty"},
		},
		"tenant": {
			reason: "each field reaches the SDK's restrictions; a destination without a cluster is the operator's own, not any cluster",
			project: &v1alpha1.Project{
				ObjectMeta: metav1.ObjectMeta{Name: "team-a", Namespace: "team-a"},
				Spec: v1alpha1.ProjectSpec{
					SourceRepos:                []string{"https://github.com/myorg/*"},
					Destinations:               []v1alpha1.ProjectDestination{{Namespace: "team-a-*"}, {Namespace: "shared", Cluster: "*"}},
					ClusterResourceWhitelist:   []v1alpha1.GroupKindPattern{{Group: "", Kind: "Namespace"}},
					NamespaceResourceBlacklist: []v1alpha1.GroupKindPattern{{Group: "rbac.authorization.k8s.io", Kind: "*"}},
					ServiceAccountName:         "deployer",
				},
			},
			want: &reconcile.Restrictions{
				Project:                   "team-a",
				SourceRepos:               []string{"https://github.com/myorg/*"},
				Destinations:              []reconcile.DestinationPattern{{Cluster: "in-cluster", Namespace: "team-a-*"}, {Cluster: "*", Namespace: "shared"}},
				ClusterResources:          []reconcile.GroupKindPattern{{Group: "", Kind: "Namespace"}},
				NamespacedResourcesDenied: []reconcile.GroupKindPattern{{Group: "rbac.authorization.k8s.io", Kind: "*"}},
			},
			sa: "deployer",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			u := reconcile.Unit{Name: "shop", Namespace: "team-a", Destination: reconcile.Destination{ServiceAccount: "kept-without-a-project"}}
			Restrict(&u, tc.project)
			assert.Equal(t, tc.want, u.Restrictions, tc.reason)
			if tc.project == nil {
				assert.Equal(t, "kept-without-a-project", u.Destination.ServiceAccount, tc.reason)
			} else {
				assert.Equal(t, tc.sa, u.Destination.ServiceAccount, tc.reason)
			}
		})
	}
}

func TestSetStatusProjectViolation(t *testing.T) {
	failed := func(err error) reconcile.Status {
		return reconcile.Status{ObservedGeneration: 4, Err: err, Conditions: []metav1.Condition{
			{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: reconcile.ReasonFailed, Message: err.Error(), ObservedGeneration: 4},
			{Type: v1alpha1.ConditionReconciling, Status: metav1.ConditionTrue, Reason: reconcile.ReasonProgressingRetry, Message: "retried", ObservedGeneration: 4},
		}}
	}
	cases := map[string]struct {
		reason    string
		err       error
		ready     string
		stalled   bool
		retrying  bool
		wantInMsg string
	}{
		"refused by the project": {
			reason:    "a refusal of the restrictions is Stalled, reason ProjectViolation, keeping the SDK's message",
			err:       fmt.Errorf("team-a/shop: apply: %w: ClusterRole/x is not permitted", reconcile.ErrRestricted),
			ready:     ReasonProjectViolation,
			stalled:   true,
			wantInMsg: "ClusterRole/x is not permitted",
		},
		"another failure": {
			reason:    "a failure that is not the project's stays the SDK's, retried",
			err:       errors.New("team-a/shop: apply: the API server is down"),
			ready:     reconcile.ReasonFailed,
			retrying:  true,
			wantInMsg: "the API server is down",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var st v1alpha1.ApplicationStatus
			SetStatus(&st, failed(tc.err))
			ready := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady)
			require.NotNil(t, ready)
			assert.Equal(t, metav1.ConditionFalse, ready.Status, tc.reason)
			assert.Equal(t, tc.ready, ready.Reason, tc.reason)
			assert.Contains(t, ready.Message, tc.wantInMsg, tc.reason)
			assert.Equal(t, int64(4), ready.ObservedGeneration)
			assert.Equal(t, tc.stalled, meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionStalled), tc.reason)
			assert.Equal(t, tc.retrying, meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionReconciling), tc.reason)
		})
	}
}

// project creates a Project of the fixture's namespace that allows the
// fixture's repository and namespace, and nothing cluster-scoped.
func (f *fixture) project(name string, mutate ...func(*v1alpha1.Project)) *v1alpha1.Project {
	f.t.Helper()
	p := &v1alpha1.Project{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns},
		Spec: v1alpha1.ProjectSpec{
			SourceRepos:  []string{strings.TrimSuffix(f.repo.URL, "deploy.git") + "*"},
			Destinations: []v1alpha1.ProjectDestination{{Namespace: f.ns}},
		},
	}
	for _, m := range mutate {
		m(p)
	}
	require.NoError(f.t, f.c.Create(ctxT(f.t), p))
	return p
}

// violation waits until the Application is refused by its Project.
func (f *fixture) violation(name string) *v1alpha1.Application {
	f.t.Helper()
	return f.eventually(name, "refused by its project", func(a *v1alpha1.Application) bool {
		c := condition(a, v1alpha1.ConditionReady)
		return c.Status == metav1.ConditionFalse && c.Reason == ReasonProjectViolation && c.ObservedGeneration == a.Generation &&
			condition(a, v1alpha1.ConditionStalled).Status == metav1.ConditionTrue
	})
}

// nothingWritten fails when the Application left an inventory, that is
// when any pass of it wrote.
func (f *fixture) nothingWritten(name string) {
	f.t.Helper()
	assert.Nil(f.t, f.configMap("converge-"+name), "application %s wrote its inventory", name)
}

// A tenant Application within its Project applies, and its writes are
// made as the Project's service account: what the account's RBAC covers
// (ConfigMaps) applies, what it does not (a Secret) is forbidden to that
// account by the API server, though the Project allows the kind.
func TestProjectTenantAppliesAsItsServiceAccount(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	// The tenant's account may write ConfigMaps of its namespace (its
	// objects and its inventory), nothing else.
	for _, o := range []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "tenant", Namespace: f.ns}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "tenant", Namespace: f.ns},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "tenant", Namespace: f.ns},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "tenant"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "tenant", Namespace: f.ns}}},
	} {
		require.NoError(t, f.c.Create(ctx, o))
	}
	f.project("tenant", func(p *v1alpha1.Project) { p.Spec.ServiceAccountName = "tenant" })
	head := f.repo.Commit(t, "tenant", map[string]string{
		"ok/cm.yaml":         configMapYAML("tenant-config", map[string]string{"k": "v"}),
		"secret/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: tenant-secret\nstringData:\n  k: v\n",
	})

	f.application("ok", "ok", func(a *v1alpha1.Application) { a.Spec.Project = "tenant" })
	f.eventually("ok", "ready as the tenant", readyAt(head))
	assert.Equal(t, map[string]string{"k": "v"}, f.configMap("tenant-config"))

	f.application("secret", "secret", func(a *v1alpha1.Application) { a.Spec.Project = "tenant" })
	app := f.eventually("secret", "forbidden to the tenant", func(a *v1alpha1.Application) bool {
		c := condition(a, v1alpha1.ConditionReady)
		return c.Status == metav1.ConditionFalse && strings.Contains(c.Message, "forbidden")
	})
	ready := condition(app, v1alpha1.ConditionReady)
	assert.Contains(t, ready.Message, "system:serviceaccount:"+f.ns+":tenant", "the write was made as the Project's service account")
	assert.NotEqual(t, ReasonProjectViolation, ready.Reason, "the Project allows Secrets: RBAC refused it, not the Project")
	var s corev1.Secret
	err := f.c.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "tenant-secret"}, &s)
	assert.True(t, apierrors.IsNotFound(err), "the Secret was not written: %v", err)
}

// A tenant Application that names a namespace outside its Project, as its
// destination or in an object of its render, is refused before any write,
// Stalled with reason ProjectViolation and an event saying why; widening
// the Project lets it apply at once, the Application unchanged.
func TestProjectRefusesAnotherNamespace(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	other := f.env.Namespace(t)
	foreign := configMapYAML("foreign", map[string]string{"k": "v"})
	f.repo.Commit(t, "apps", map[string]string{
		"dest/cm.yaml":      configMapYAML("moved", map[string]string{"k": "v"}),
		"inline/mine.yaml":  configMapYAML("mine", nil),
		"inline/other.yaml": strings.Replace(foreign, "metadata:\n", "metadata:\n  namespace: "+other+"\n", 1),
	})
	p := f.project("tenant")

	f.application("dest", "dest", func(a *v1alpha1.Application) {
		a.Spec.Project = "tenant"
		a.Spec.Destination.Namespace = other
	})
	f.application("inline", "inline", func(a *v1alpha1.Application) { a.Spec.Project = "tenant" })

	app := f.violation("dest")
	msg := condition(app, v1alpha1.ConditionReady).Message
	t.Logf("destination refused: %s", msg)
	assert.Contains(t, msg, other, "the message names the namespace")
	assert.Contains(t, msg, `project "tenant"`, "and the project")
	assert.Equal(t, metav1.ConditionFalse, condition(app, v1alpha1.ConditionReconciling).Status, "no retry is due")
	f.eventuallyEvent("dest", "Warning/ProjectViolation: ")

	app = f.violation("inline")
	msg = condition(app, v1alpha1.ConditionReady).Message
	t.Logf("object refused: %s", msg)
	assert.Contains(t, msg, "ConfigMap/"+other+"/foreign", "the message names the object")
	assert.Contains(t, msg, `project "tenant"`)
	f.eventuallyEvent("inline", "Warning/ProjectViolation: ")

	// Nothing of either was written, in either namespace.
	f.nothingWritten("dest")
	f.nothingWritten("inline")
	assert.Nil(t, f.configMap("mine"), "the allowed object of a refused render is not written either")
	for _, name := range []string{"moved", "foreign"} {
		var cm corev1.ConfigMap
		err := f.c.Get(ctxT(t), client.ObjectKey{Namespace: other, Name: name}, &cm)
		assert.True(t, apierrors.IsNotFound(err), "ConfigMap %s/%s: %v", other, name, err)
	}

	// The platform team widens the Project: both apply, neither changed.
	require.NoError(t, f.c.Get(ctxT(t), client.ObjectKeyFromObject(p), p))
	p.Spec.Destinations = append(p.Spec.Destinations, v1alpha1.ProjectDestination{Namespace: other})
	require.NoError(t, f.c.Update(ctxT(t), p))
	for _, name := range []string{"dest", "inline"} {
		app := f.eventually(name, "ready once the project allows the namespace", readyAt(""))
		assert.False(t, meta.IsStatusConditionTrue(app.Status.Conditions, v1alpha1.ConditionStalled))
	}
}

// A tenant Application whose render holds a cluster-scoped kind is
// refused before any write: tenants get none unless their Project lists
// it.
func TestProjectRefusesClusterScopedKind(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	role := f.ns + "-reader"
	f.repo.Commit(t, "with a ClusterRole", map[string]string{
		"app/cm.yaml":   configMapYAML("a", nil),
		"app/role.yaml": fmt.Sprintf("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: %s\nrules: []\n", role),
	})
	f.project("tenant")
	f.application("app", "app", func(a *v1alpha1.Application) { a.Spec.Project = "tenant" })

	app := f.violation("app")
	msg := condition(app, v1alpha1.ConditionReady).Message
	t.Logf("refused: %s", msg)
	assert.Contains(t, msg, "ClusterRole.rbac.authorization.k8s.io/"+role)
	assert.Contains(t, msg, "cluster-scoped kind")
	ev := f.eventuallyEvent("app", "Warning/ProjectViolation: ")
	assert.Contains(t, ev, "ClusterRole.rbac.authorization.k8s.io/"+role, "the event says why")

	f.nothingWritten("app")
	assert.Nil(t, f.configMap("a"))
	var cr rbacv1.ClusterRole
	err := f.c.Get(ctxT(t), client.ObjectKey{Name: role}, &cr)
	assert.True(t, apierrors.IsNotFound(err), "ClusterRole %s: %v", role, err)
}

// A tenant Application of a repository its Project does not list is
// refused before the repository is fetched.
func TestProjectRefusesRepository(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.repo.Commit(t, "app", map[string]string{"app/cm.yaml": configMapYAML("a", nil)})
	f.project("tenant", func(p *v1alpha1.Project) { p.Spec.SourceRepos = []string{"https://git.example/elsewhere/*"} })
	f.application("app", "app", func(a *v1alpha1.Application) { a.Spec.Project = "tenant" })

	app := f.violation("app")
	msg := condition(app, v1alpha1.ConditionReady).Message
	t.Logf("refused: %s", msg)
	assert.Contains(t, msg, "is not among its source repositories")
	assert.Empty(t, app.Status.LastAttemptedRevision, "nothing was fetched")
	f.eventuallyEvent("app", "Warning/ProjectViolation: ")
	f.nothingWritten("app")
	assert.Nil(t, f.configMap("a"))
}

// An Application naming a Project that does not exist is Stalled, saying
// so, and writes nothing; once the Project is created it applies.
func TestProjectMissing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	head := f.repo.Commit(t, "app", map[string]string{"app/cm.yaml": configMapYAML("a", nil)})
	f.application("app", "app", func(a *v1alpha1.Application) { a.Spec.Project = "later" })

	app := f.eventually("app", "stalled for its project", func(a *v1alpha1.Application) bool {
		return meta.IsStatusConditionTrue(a.Status.Conditions, v1alpha1.ConditionStalled)
	})
	ready := condition(app, v1alpha1.ConditionReady)
	assert.Equal(t, metav1.ConditionFalse, ready.Status)
	assert.Equal(t, reconcile.ReasonInvalid, ready.Reason)
	assert.Contains(t, ready.Message, "Project "+f.ns+"/later does not exist")
	f.eventuallyEvent("app", "Warning/InvalidSpec: ")
	time.Sleep(2 * testInterval) // passes that could have written
	f.nothingWritten("app")
	assert.Nil(t, f.configMap("a"))

	f.project("later")
	f.eventually("app", "ready once the project exists", readyAt(head))
	assert.NotNil(t, f.configMap("a"))
}
