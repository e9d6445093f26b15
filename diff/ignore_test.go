package diff_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/object"
)

// TestIgnoreRules scales a Deployment as an HPA would and edits an
// annotation converge owns, then checks which rules hide which drift.
func TestIgnoreRules(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	c, err := cluster.New(env.Config)
	require.NoError(t, err)
	dep := desiredObjects(ns, 0, "original")[3]
	dep.SetAnnotations(map[string]string{"example.com/checksum": "abc"})
	applyAs(t, c, dep, object.FieldManager)
	mutate(t, c, dep, "scale") // the "hpa" manager sets replicas to 4
	ri, _, err := c.ResourceFor(ctx, dep)
	require.NoError(t, err)
	live, err := ri.Get(ctx, dep.GetName(), metav1.GetOptions{})
	require.NoError(t, err)
	require.NoError(t, unstructured.SetNestedField(live.Object, "def", "metadata", "annotations", "example.com/checksum"))
	live, err = ri.Update(ctx, live, metav1.UpdateOptions{FieldManager: "checksum-operator"})
	require.NoError(t, err)

	cases := map[string]struct {
		rules []diff.IgnoreRule
		want  []string
	}{
		"no rules: both are drift": {
			want: []string{`.metadata.annotations.example.com/checksum`, ".spec.replicas"},
		},
		"ignore the HPA's fields by manager": {
			rules: []diff.IgnoreRule{{Group: "apps", Kind: "Deployment", Managers: []string{"hpa"}}},
			want:  []string{`.metadata.annotations.example.com/checksum`},
		},
		"ignore by JSON pointer": {
			rules: []diff.IgnoreRule{{Kind: "Deployment", JSONPointers: []string{"/spec/replicas", "/metadata/annotations/example.com~1checksum"}}},
		},
		"ignore by path expression": {
			rules: []diff.IgnoreRule{{Name: "o*", Paths: []string{".spec.replicas", `.metadata.annotations["example.com/checksum"]`}}},
		},
		"a rule scoped to another namespace does nothing": {
			rules: []diff.IgnoreRule{{Namespace: "elsewhere", Paths: []string{".spec.replicas"}}},
			want:  []string{`.metadata.annotations.example.com/checksum`, ".spec.replicas"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d, err := diff.New(c, diff.WithIgnoreRules(tc.rules...), diff.WithReceipts(&diff.MemoryReceipts{}))
			require.NoError(t, err)
			res, err := d.Diff(ctx, dep, live)
			require.NoError(t, err)
			assert.Equal(t, tc.want, res.Paths)
			if len(tc.want) == 0 {
				assert.Equal(t, diff.Unchanged, res.Action, "%s", res)
			} else {
				assert.Equal(t, diff.Update, res.Action)
			}
		})
	}
}

func TestInvalidIgnoreRules(t *testing.T) {
	for name, rule := range map[string]diff.IgnoreRule{
		"path without a dot":      {Paths: []string{"spec.replicas"}},
		"unterminated bracket":    {Paths: []string{".spec.containers[name=api"}},
		"empty field":             {Paths: []string{".spec..replicas"}},
		"pointer without a slash": {JSONPointers: []string{"spec/replicas"}},
		"bad pointer escape":      {JSONPointers: []string{"/metadata/a~2b"}},
		"bad glob":                {Name: "[a-"},
	} {
		t.Run(name, func(t *testing.T) {
			err := diff.ValidateIgnoreRules([]diff.IgnoreRule{rule})
			assert.ErrorIs(t, err, diff.ErrInvalidRule)
			_, err = diff.New(diff.SchemasFunc(nil), diff.WithIgnoreRules(rule))
			assert.ErrorIs(t, err, diff.ErrInvalidRule)
		})
	}
	assert.NoError(t, diff.ValidateIgnoreRules(diff.DefaultIgnoreRules()))
}

// TestCanonicalFormsAreNotDrift applies values the server canonicalizes and
// checks the local merge sees no change without help from receipts.
func TestCanonicalFormsAreNotDrift(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	c, err := cluster.New(env.Config)
	require.NoError(t, err)
	dep := desiredObjects(ns, 0, "original")[3]
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	container := containers[0].(map[string]any)
	container["resources"] = map[string]any{"limits": map[string]any{"cpu": "1000m", "memory": "0.5Gi"}}
	container["args"] = []any{}
	container["ports"] = []any{map[string]any{"containerPort": int64(8080), "protocol": "TCP"}}
	require.NoError(t, unstructured.SetNestedSlice(dep.Object, containers, "spec", "template", "spec", "containers"))
	require.NoError(t, unstructured.SetNestedField(dep.Object, 2.0, "spec", "replicas"))
	applied := applyAs(t, c, dep, object.FieldManager)

	d, err := diff.New(c, diff.WithReceipts(&diff.MemoryReceipts{}))
	require.NoError(t, err)
	res, err := d.Diff(ctx, dep, applied)
	require.NoError(t, err)
	assert.Equal(t, diff.Unchanged, res.Action, "%s\n%s", res, res.Diff)
	assert.Equal(t, diff.ByLocalMerge, res.Method)
	assert.False(t, res.Uncertain, res.Reason)
}
