package kube_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/secrets"
	"github.com/converge-dev/converge/secrets/kube"
)

const marker = "s3cr3t-MARKER-value-7f1c"

func TestMapValue(t *testing.T) {
	f := newFixture(t)
	other := f.namespace(t)
	f.secret(t, f.ns, "db", map[string]string{"user": "app", "password": marker})
	f.secret(t, other, "token", map[string]string{"token": "abc"})
	f.secret(t, f.ns, "empty", nil)
	p := kube.New(f.cs, kube.WithNamespace(f.ns))

	m, err := p.Map(ctx(t), "db")
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"user": []byte("app"), "password": []byte(marker)}, m)

	m, err = p.Map(ctx(t), f.ns+"/db")
	require.NoError(t, err)
	assert.Len(t, m, 2, "namespace/name reads the same Secret")

	v, err := p.Value(ctx(t), "db", "user")
	require.NoError(t, err)
	assert.Equal(t, "app", string(v))

	v, err = p.Value(ctx(t), other+"/token", "")
	require.NoError(t, err)
	assert.Equal(t, "abc", string(v), "the only property of another namespace's Secret")

	m, err = p.Map(ctx(t), "empty")
	require.NoError(t, err)
	assert.NotNil(t, m)
	assert.Empty(t, m)

	_, err = p.Value(ctx(t), "db", "")
	require.Error(t, err, "two properties, none named")
	assert.Contains(t, err.Error(), "password, user")
	assert.NotContains(t, err.Error(), marker)
}

func TestNotFound(t *testing.T) {
	f := newFixture(t)
	f.secret(t, f.ns, "db", map[string]string{"password": marker})
	p := kube.New(f.cs, kube.WithNamespace(f.ns), kube.WithName("prod"))
	cases := map[string]struct {
		reason        string
		key, property string
		want          string
	}{
		"no secret":   {reason: "a missing Secret", key: "nope", want: `prod: get secret ` + f.ns + `/nope: not found`},
		"no property": {reason: "a missing data key", key: "db", property: "user", want: `prod: key "db" has no property "user": not found`},
		"no namespace": {reason: "a namespace that does not exist is a missing Secret",
			key: "no-such-ns/db", want: `prod: get secret no-such-ns/db: not found`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := p.Value(ctx(t), tc.key, tc.property)
			require.Error(t, err, tc.reason)
			assert.ErrorIs(t, err, secrets.ErrNotFound, tc.reason)
			assert.True(t, strings.HasPrefix(err.Error(), tc.want), "%s: %q", tc.reason, err)
			assert.NotContains(t, err.Error(), marker)
		})
	}
	_, err := p.Map(ctx(t), "nope")
	assert.True(t, apierrors.IsNotFound(err), "the API error stays reachable")
}

func TestInvalidKey(t *testing.T) {
	// No request is needed to refuse a malformed key: a nil client
	// would panic if one were sent.
	p := kube.New(nil)
	for _, key := range []string{"", "a/b/c", "../x", "ns/UPPER", "/db"} {
		_, err := p.Map(context.Background(), key)
		assert.ErrorIs(t, err, kube.ErrInvalidKey, key)
	}
	_, err := p.List(context.Background(), "a/b/c")
	assert.ErrorIs(t, err, kube.ErrInvalidKey)
	_, err = p.List(context.Background(), "Bad_NS/")
	assert.ErrorIs(t, err, kube.ErrInvalidKey)
}

func TestAllowedNamespaces(t *testing.T) {
	f := newFixture(t)
	tenant, system := f.ns, f.namespace(t)
	f.secret(t, tenant, "db", map[string]string{"password": "ok"})
	f.secret(t, system, "root", map[string]string{"password": marker})
	// An admin client: only the option stands between a tenant's manifest
	// and the other namespace.
	p := kube.New(f.cs, kube.WithNamespace(tenant), kube.WithAllowedNamespaces(tenant))

	_, err := p.Value(ctx(t), "db", "password")
	require.NoError(t, err)

	for _, call := range map[string]func() error{
		"map":   func() error { _, err := p.Map(ctx(t), system+"/root"); return err },
		"value": func() error { _, err := p.Value(ctx(t), system+"/root", "password"); return err },
		"list":  func() error { _, err := p.List(ctx(t), system+"/"); return err },
	} {
		err := call()
		require.Error(t, err)
		assert.ErrorIs(t, err, kube.ErrNamespaceRefused)
		assert.NotErrorIs(t, err, secrets.ErrNotFound, "refused is not missing")
		assert.Contains(t, err.Error(), fmt.Sprintf("namespace %q is not among the 1 allowed", system))
		assert.NotContains(t, err.Error(), marker)
	}

	none := kube.New(f.cs, kube.WithNamespace(tenant), kube.WithAllowedNamespaces())
	_, err = none.Map(ctx(t), "db")
	assert.ErrorIs(t, err, kube.ErrNamespaceRefused, "an empty allow-list refuses everything")
}

func TestList(t *testing.T) {
	f := newFixture(t)
	other := f.namespace(t)
	for _, n := range []string{"db-b", "app", "db-a", "db-c", "cache"} {
		f.secret(t, f.ns, n, map[string]string{"k": "v"})
	}
	f.secret(t, other, "db-x", map[string]string{"k": "v"})
	// A page of two makes List follow continue tokens.
	p := kube.New(f.cs, kube.WithNamespace(f.ns), kube.WithPageSize(2))

	keys, err := p.List(ctx(t), "")
	require.NoError(t, err)
	assert.Equal(t, []string{"app", "cache", "db-a", "db-b", "db-c"}, keys)

	keys, err = p.List(ctx(t), "db-")
	require.NoError(t, err)
	assert.Equal(t, []string{"db-a", "db-b", "db-c"}, keys)

	keys, err = p.List(ctx(t), other+"/")
	require.NoError(t, err)
	assert.Equal(t, []string{other + "/db-x"}, keys)
	_, err = p.Map(ctx(t), keys[0])
	require.NoError(t, err, "a listed key reads")

	keys, err = p.List(ctx(t), other+"/nothing")
	require.NoError(t, err)
	assert.Empty(t, keys)
}

func TestContextCanceled(t *testing.T) {
	f := newFixture(t)
	f.secret(t, f.ns, "db", map[string]string{"k": "v"})
	p := kube.New(f.cs, kube.WithNamespace(f.ns))
	c, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Map(c, "db")
	assert.ErrorIs(t, err, context.Canceled)
	_, err = p.List(c, "")
	assert.ErrorIs(t, err, context.Canceled)
}

// TestRBAC reads through a ServiceAccount that may get and list Secrets
// in one namespace only: the API server's refusal of the other is
// ErrForbidden, not a missing Secret, and names no value.
func TestRBAC(t *testing.T) {
	f := newFixture(t)
	own, foreign := f.ns, f.namespace(t)
	f.secret(t, own, "db", map[string]string{"password": "mine"})
	f.secret(t, foreign, "db", map[string]string{"password": marker})

	c := ctx(t)
	_, err := f.cs.CoreV1().ServiceAccounts(own).Create(c, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = f.cs.RbacV1().Roles(own).Create(c, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "secret-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list"}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = f.cs.RbacV1().RoleBindings(own).Create(c, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "secret-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "secret-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "reader", Namespace: own}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	sa, err := kubernetes.NewForConfig(cluster.Impersonate(f.env.Config, own, "reader"))
	require.NoError(t, err)
	p := kube.New(sa, kube.WithNamespace(own))

	v, err := p.Value(c, "db", "password")
	require.NoError(t, err)
	assert.Equal(t, "mine", string(v))
	keys, err := p.List(c, "")
	require.NoError(t, err)
	assert.Equal(t, []string{"db"}, keys)

	_, err = p.Value(c, foreign+"/db", "password")
	require.Error(t, err)
	assert.ErrorIs(t, err, kube.ErrForbidden)
	assert.NotErrorIs(t, err, secrets.ErrNotFound)
	assert.True(t, apierrors.IsForbidden(err))
	assert.Contains(t, err.Error(), "get secret "+foreign+"/db: forbidden by the API server")
	assert.Contains(t, err.Error(), "system:serviceaccount:"+own+":reader", "the server's message names who was refused")
	assert.NotContains(t, err.Error(), marker)

	_, err = p.List(c, foreign+"/")
	assert.ErrorIs(t, err, kube.ErrForbidden)

	// Forbidden also for a Secret that does not exist: the server does
	// not reveal which names exist in a namespace it refuses.
	_, err = p.Map(c, foreign+"/nope")
	assert.ErrorIs(t, err, kube.ErrForbidden)
}
