package diff

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"

	"github.com/converge-dev/converge/object"
)

// TestFieldsOnlyLiveHasInAtomicValuesAreUncertain: when the only
// differences are values live holds inside atomic values that desired
// does not set, they may be defaults the server fills in and the
// defaulter does not know (a newer server, a beta kind), or fields
// desired dropped. The verdict stays Update but is marked uncertain, so a
// dry-run decides instead of an apply on every pass.
func TestFieldsOnlyLiveHasInAtomicValuesAreUncertain(t *testing.T) {
	schemas := SchemasFunc(func(context.Context, schema.GroupVersionKind) (managedfields.TypeConverter, error) {
		return builtinConverter(t), nil
	})
	d, err := New(schemas)
	require.NoError(t, err)
	const desiredDoc = `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: api:1}]
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions: [{key: zone, operator: In, values: [a]}]
`
	desired := decodeYAML(t, desiredDoc)
	live := applied(t, d, desired)
	cases := map[string]struct {
		term      map[string]any
		uncertain bool
	}{
		"live holds more inside the atomic term": {
			term: map[string]any{
				"matchExpressions": []any{map[string]any{"key": "zone", "operator": "In", "values": []any{"a"}}},
				"matchFields":      []any{map[string]any{"key": "metadata.name", "operator": "In", "values": []any{"n1"}}},
			},
			uncertain: true,
		},
		"live holds another value": {
			term: map[string]any{
				"matchExpressions": []any{map[string]any{"key": "zone", "operator": "In", "values": []any{"b"}}},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			l := live.DeepCopy()
			terms := []any{tc.term}
			m := l.Object
			for _, k := range []string{"spec", "template", "spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"} {
				m = m[k].(map[string]any)
			}
			m["nodeSelectorTerms"] = terms
			res, err := d.Diff(context.Background(), desired, l)
			require.NoError(t, err)
			assert.Equal(t, Update, res.Action, "%s", res)
			assert.Equal(t, tc.uncertain, res.Uncertain, "%s", res)
		})
	}
}

// applied returns desired as a local apply would store it, with
// converge's managedFields entry.
func applied(t *testing.T, d *Differ, desired *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	fm, err := d.fieldManager(context.Background(), desired.GroupVersionKind())
	require.NoError(t, err)
	empty := desired.DeepCopy()
	empty.Object = map[string]any{"apiVersion": desired.GetAPIVersion(), "kind": desired.GetKind(),
		"metadata": map[string]any{"name": desired.GetName(), "namespace": desired.GetNamespace()}}
	out, err := fm.apply(empty, desired, object.FieldManager, true)
	require.NoError(t, err)
	require.NotEmpty(t, out.GetManagedFields())
	return out
}

// TestRuleRemovingListItems ignores a whole container that an injector
// adds: both sides lose it before the comparison, which types the
// remaining list by its keys.
func TestRuleRemovingListItems(t *testing.T) {
	schemas := SchemasFunc(func(context.Context, schema.GroupVersionKind) (managedfields.TypeConverter, error) {
		return builtinConverter(t), nil
	})
	d, err := New(schemas, WithIgnoreRules(IgnoreRule{Kind: "Deployment", Paths: []string{".spec.template.spec.containers[name=sidecar]"}}))
	require.NoError(t, err)
	desired := decodeYAML(t, `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: api:1}]
`)
	live := applied(t, d, desired)
	spec := live.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	spec["containers"] = append(spec["containers"].([]any), map[string]any{"name": "sidecar", "image": "proxy:1"})
	res, err := d.Diff(context.Background(), desired, live)
	require.NoError(t, err)
	assert.Equal(t, Unchanged, res.Action, "%s\n%s", res, res.Diff)
}
