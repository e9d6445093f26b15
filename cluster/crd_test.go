package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/structured-merge-diff/v6/typed"

	"github.com/converge-dev/converge/cluster"
)

func sprocketCRD(fields ...string) *unstructured.Unstructured {
	props := map[string]any{}
	for _, f := range fields {
		props[f] = map[string]any{"type": "string"}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "sprockets.change.example.com"},
		"spec": map[string]any{
			"group": "change.example.com", "scope": "Namespaced",
			"names": map[string]any{"kind": "Sprocket", "plural": "sprockets", "singular": "sprocket", "listKind": "SprocketList"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "properties": map[string]any{
					"spec": map[string]any{"type": "object", "properties": props},
				}}}}},
		},
	}}
}

// TestSchemaFollowsCRDChanges caches a CRD's schema, changes the CRD, and
// checks the type converter learns the new field without a restart.
func TestSchemaFollowsCRDChanges(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := cluster.New(env.Config)
	require.NoError(t, err)
	cache := cluster.NewCache(c, cluster.CacheOptions{})
	defer cache.Stop()
	require.NoError(t, cache.Prime(ctx, gvkConfigMap)) // starts the CRD watch too

	gvk := schema.GroupVersionKind{Group: "change.example.com", Version: "v1", Kind: "Sprocket"}
	sprocket := func(field string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "change.example.com/v1", "kind": "Sprocket",
			"metadata": map[string]any{"name": "s", "namespace": "default"},
			"spec":     map[string]any{field: "x"},
		}}
	}
	accepts := func(field string) bool {
		tc, err := c.TypeConverter(ctx, gvk)
		if err != nil {
			return false
		}
		_, err = tc.ObjectToTyped(sprocket(field), typed.AllowDuplicates)
		return err == nil
	}
	ri := c.Dynamic().Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	_, err = ri.Apply(ctx, "sprockets.change.example.com", sprocketCRD("color"), metav1.ApplyOptions{FieldManager: "test", Force: true})
	require.NoError(t, err)
	require.NoError(t, wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		return accepts("color"), nil
	}), "the new CRD's schema is learned")
	require.False(t, accepts("size"), "size is not in the schema yet")

	_, err = ri.Apply(ctx, "sprockets.change.example.com", sprocketCRD("color", "size"), metav1.ApplyOptions{FieldManager: "test", Force: true})
	require.NoError(t, err)
	require.NoError(t, wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		return accepts("size"), nil
	}), "the changed schema is learned")
}
