package object

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestIDStringRoundTrip(t *testing.T) {
	cases := map[string]struct {
		id   ID
		want string
	}{
		"namespaced with group": {ID{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "api"}, "Deployment.apps/shop/api"},
		"core namespaced":       {ID{Kind: "ConfigMap", Namespace: "shop", Name: "settings"}, "ConfigMap/shop/settings"},
		"cluster-scoped":        {ID{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:viewer"}, "ClusterRole.rbac.authorization.k8s.io/system:viewer"},
		"core cluster-scoped":   {ID{Kind: "Namespace", Name: "shop"}, "Namespace/shop"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.id.String())
			got, err := ParseID(tc.want)
			require.NoError(t, err)
			assert.Equal(t, tc.id, got)
		})
	}
}

func TestParseIDRejects(t *testing.T) {
	for _, s := range []string{"", "Deployment", "a/b/c/d", "Deployment//api", "/ns/name", "Kind/", "Kind/ns/..", "Kind/../name"} {
		_, err := ParseID(s)
		assert.Error(t, err, "ParseID(%q)", s)
	}
}

func TestIDOf(t *testing.T) {
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion("apps/v1")
	obj.SetKind("Deployment")
	obj.SetNamespace("shop")
	obj.SetName("api")
	assert.Equal(t, ID{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "api"}, IDOf(obj))
	obj.SetAPIVersion("v1")
	assert.Equal(t, "", IDOf(obj).Group)
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"Deployment.apps/shop/api", "Namespace/x", "a/b/c/d", "K.g.h/n", "./.", "K/../x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			return
		}
		again, err := ParseID(id.String())
		if err != nil || again != id {
			t.Fatalf("ParseID(%q) = %#v, which does not round-trip: %#v, %v", s, id, again, err)
		}
	})
}
