package object

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func newObject(apiVersion, kind, namespace, name string) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{Object: map[string]any{}}
	obj.SetAPIVersion(apiVersion)
	obj.SetKind(kind)
	obj.SetNamespace(namespace)
	obj.SetName(name)
	return obj
}

func TestSetKeepsInsertionOrder(t *testing.T) {
	s := NewSet()
	require.NoError(t, s.Add(newObject("v1", "Service", "shop", "api"), "a.yaml"))
	require.NoError(t, s.Add(newObject("v1", "ConfigMap", "shop", "api"), "b.yaml"))
	require.NoError(t, s.Add(newObject("v1", "Namespace", "", "shop"), "c.yaml"))
	assert.Equal(t, []string{"Service/shop/api", "ConfigMap/shop/api", "Namespace/shop"}, idStrings(s.IDs()))

	var kinds []string
	for id, obj := range s.All() {
		assert.Equal(t, id, IDOf(obj))
		kinds = append(kinds, id.Kind)
	}
	assert.Equal(t, []string{"Service", "ConfigMap", "Namespace"}, kinds)
	assert.Equal(t, "b.yaml", s.Source(ID{Kind: "ConfigMap", Namespace: "shop", Name: "api"}))
}

func TestSetDuplicateNamesBothSources(t *testing.T) {
	s := NewSet()
	require.NoError(t, s.Add(newObject("apps/v1", "Deployment", "shop", "api"), "base/deploy.yaml"))
	// Another version of the same group and kind is the same object.
	err := s.Add(newObject("apps/v1beta1", "Deployment", "shop", "api"), "overlay/extra.yaml")
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrDuplicate))
	var dup *DuplicateError
	require.ErrorAs(t, err, &dup)
	assert.Equal(t, "base/deploy.yaml", dup.First)
	assert.Equal(t, "overlay/extra.yaml", dup.Second)
	assert.Equal(t, "Deployment.apps/shop/api: defined twice, in base/deploy.yaml and in overlay/extra.yaml", err.Error())
	assert.Equal(t, 1, s.Len())
}

func TestSetRejectsObjectsWithoutIdentity(t *testing.T) {
	s := NewSet()
	err := s.Add(newObject("v1", "ConfigMap", "shop", ""), "cm.yaml")
	assert.ErrorContains(t, err, "cm.yaml: ConfigMap object has no name")
	assert.Error(t, s.Add(newObject("v1", "", "shop", "x"), "cm.yaml"))
	assert.Equal(t, 0, s.Len())
}

func TestSetRejectsGenerateName(t *testing.T) {
	s := NewSet()
	job := newObject("batch/v1", "Job", "shop", "")
	job.SetGenerateName("migrate-")
	err := s.Add(job, "hooks/migrate.yaml")
	require.ErrorIs(t, err, ErrGenerateName)
	var ge *GenerateNameError
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, GenerateNameError{Kind: "Job", GenerateName: "migrate-"}, *ge)
	assert.Equal(t, `hooks/migrate.yaml: Job with generateName "migrate-" and no name: generateName is not supported (converge tracks every object by its name)`, err.Error())
	assert.Equal(t, 0, s.Len())

	job.SetName("migrate")
	require.NoError(t, s.Add(job, "hooks/migrate.yaml"), "a name wins over generateName, as on the API server")
}

func TestSetReplaceRemoveCopy(t *testing.T) {
	s := NewSet()
	require.NoError(t, s.Add(newObject("v1", "ConfigMap", "shop", "a"), "a.yaml"))
	require.NoError(t, s.Add(newObject("v1", "ConfigMap", "shop", "b"), "b.yaml"))

	replacement := newObject("v1", "ConfigMap", "shop", "a")
	replacement.SetLabels(map[string]string{"x": "y"})
	require.NoError(t, s.Replace(replacement))
	got, ok := s.Get(IDOf(replacement))
	require.True(t, ok)
	assert.Same(t, replacement, got)
	assert.Equal(t, "a.yaml", s.Source(IDOf(replacement)), "replace keeps the source")
	assert.Equal(t, "ConfigMap/shop/a", s.IDs()[0].String(), "replace keeps the position")

	cp := s.DeepCopy()
	assert.True(t, s.Remove(IDOf(replacement)))
	assert.False(t, s.Remove(IDOf(replacement)))
	assert.Equal(t, 1, s.Len())
	assert.Equal(t, 2, cp.Len(), "the copy is independent")
	cpObj, _ := cp.Get(IDOf(replacement))
	assert.NotSame(t, replacement, cpObj)
	assert.Equal(t, replacement.Object, cpObj.Object)
}

func TestSetSortAppliesClassesFirst(t *testing.T) {
	s := NewSet()
	for _, o := range []*unstructured.Unstructured{
		newObject("example.com/v1", "Widget", "shop", "w"),
		newObject("apps/v1", "Deployment", "shop", "api"),
		newObject("v1", "Service", "shop", "api"),
		newObject("rbac.authorization.k8s.io/v1", "ClusterRole", "", "viewer"),
		newObject("v1", "Namespace", "", "shop"),
		newObject("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com"),
		newObject("v1", "ConfigMap", "shop", "b"),
		newObject("v1", "ConfigMap", "shop", "a"),
	} {
		require.NoError(t, s.Add(o, ""))
	}
	s.Sort()
	assert.Equal(t, []string{
		"CustomResourceDefinition.apiextensions.k8s.io/widgets.example.com",
		"Namespace/shop",
		"ClusterRole.rbac.authorization.k8s.io/viewer",
		"ConfigMap/shop/a",
		"ConfigMap/shop/b",
		"Service/shop/api",
		"Deployment.apps/shop/api",
		"Widget.example.com/shop/w",
	}, idStrings(s.IDs()))
}

func TestClassOf(t *testing.T) {
	assert.Equal(t, ClassCustomResourceDefinition, ClassOf(ID{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}.GroupKind()))
	assert.Equal(t, ClassNamespace, ClassOf(ID{Kind: "Namespace"}.GroupKind()))
	assert.Equal(t, ClassClusterRBAC, ClassOf(ID{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}.GroupKind()))
	assert.Equal(t, ClassOther, ClassOf(ID{Group: "rbac.authorization.k8s.io", Kind: "Role"}.GroupKind()))
	assert.Equal(t, ClassOther, ClassOf(ID{Group: "example.com", Kind: "Namespace"}.GroupKind()), "a custom Namespace kind is not a Namespace")
	assert.Equal(t, "ClusterRBAC", ClassClusterRBAC.String())
	assert.True(t, KnownClusterScoped(ID{Kind: "Namespace"}.GroupKind()))
	assert.False(t, KnownClusterScoped(ID{Kind: "ConfigMap"}.GroupKind()))
}

func idStrings(ids []ID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}
