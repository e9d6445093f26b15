package apply_test

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/object"
)

// A tenant's applier acts as the tenant's service account: what its RBAC
// allows applies, what it does not fails on the API server's word.
func TestImpersonatedTenantIsLimitedByItsRBAC(t *testing.T) {
	f := newFixture(t)
	other := env.Namespace(t)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "tenant", Namespace: f.ns}}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "tenant", Namespace: f.ns},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"*"}}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "tenant", Namespace: f.ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "tenant"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "tenant", Namespace: f.ns}}}
	if err := env.Client.Create(f.ctx, sa); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(f.ctx, role); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(f.ctx, binding); err != nil {
		t.Fatal(err)
	}

	tc, err := cluster.New(cluster.Impersonate(env.Config, f.ns, "tenant"))
	if err != nil {
		t.Fatal(err)
	}
	owner := apply.Owner{Name: "tenant-app", Namespace: f.ns}
	// A tenant may not watch cluster-wide or list CRDs: its cache is
	// scoped to its namespace.
	cacheOpts := apply.CacheOptions(object.FieldManager)
	cacheOpts.Namespaces = []string{f.ns}
	cacheOpts.IgnoreCRDChanges = true
	cache := cluster.NewCache(tc, cacheOpts)
	t.Cleanup(cache.Stop)
	a, err := apply.New(tc, owner, apply.WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	res, err := a.Apply(f.ctx, setOf(t, configMap("mine", nil)), f.options())
	if err != nil {
		t.Fatalf("tenant apply in its namespace: %v\n%s", err, describe(res))
	}
	foreign := configMap("theirs", nil)
	foreign.SetNamespace(other)
	res, err = a.Apply(f.ctx, setOf(t, configMap("mine", nil), foreign), f.options())
	if err == nil {
		t.Fatal("the tenant wrote into a namespace its RBAC does not cover")
	}
	var oe *apply.ObjectError
	if !errors.As(err, &oe) || oe.ID.Namespace != other || !apierrors.IsForbidden(err) {
		t.Fatalf("want Forbidden naming %s first, got %v", other, err)
	}
	if res.PruneSkipped == "" {
		t.Fatal("prune ran after a failed apply")
	}
}
