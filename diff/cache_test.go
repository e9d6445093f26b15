package diff

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
)

// TestFieldManagerCacheIsBounded diffs the same kinds over many passes
// whose schemas come back as new type converters each time, as they do
// when CRD changes make the cluster client drop its converters, and with
// no schema at all: the Differ keeps one field manager per kind.
func TestFieldManagerCacheIsBounded(t *testing.T) {
	cases := map[string]Schemas{
		"a new converter on every pass": SchemasFunc(func(context.Context, schema.GroupVersionKind) (managedfields.TypeConverter, error) {
			return builtinConverter(t), nil
		}),
		"no schema (deduced types)": SchemasFunc(func(context.Context, schema.GroupVersionKind) (managedfields.TypeConverter, error) {
			return nil, errors.New("no schema")
		}),
	}
	for name, schemas := range cases {
		t.Run(name, func(t *testing.T) {
			d, err := New(schemas)
			require.NoError(t, err)
			cm := decodeYAML(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\ndata: {a: b}\n")
			dep := decodeYAML(t, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: n}\nspec: {replicas: 1}\n")
			for range 50 {
				_, err := d.Diff(context.Background(), cm, cm.DeepCopy())
				require.NoError(t, err)
				_, err = d.Diff(context.Background(), dep, dep.DeepCopy())
				require.NoError(t, err)
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			assert.Len(t, d.managers, 2, "one field manager per kind")
		})
	}
}
