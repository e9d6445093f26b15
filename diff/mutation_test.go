package diff_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/object"
)

// TestServerMutationMakesVerdictsUncertain applies a Service with
// clusterIP "", as many Helm charts render it: the server allocates an IP
// into a field converge sets, and keeps it on later applies. A local merge
// alone calls that drift forever; a Differ that recorded the apply knows
// the server mutates this object and asks it instead.
func TestServerMutationMakesVerdictsUncertain(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	c, err := cluster.New(env.Config)
	require.NoError(t, err)
	svc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": "api", "namespace": ns},
		"spec": map[string]any{"clusterIP": "", "selector": map[string]any{"app": "api"},
			"ports": []any{map[string]any{"port": int64(80), "protocol": "TCP"}}},
	}}
	applied := applyAs(t, c, svc, object.FieldManager)
	ip, _, _ := unstructured.NestedString(applied.Object, "spec", "clusterIP")
	require.NotEmpty(t, ip, "the server allocated an IP")

	blind, err := diff.New(c, diff.WithReceipts(&diff.MemoryReceipts{}))
	require.NoError(t, err)
	res, err := blind.Diff(ctx, svc, applied)
	require.NoError(t, err)
	assert.Equal(t, diff.Update, res.Action, "a local merge alone sees drift: %s", res)
	assert.False(t, res.Uncertain)

	// Receipts answer the steady state; drop this one, as after a restart
	// with a store that lost it, to reach the local merge.
	store := &diff.MemoryReceipts{}
	d, err := diff.New(c, diff.WithReceipts(store), diff.WithDryRun(c))
	require.NoError(t, err)
	require.NoError(t, d.Record(ctx, svc, applied))
	store.Delete(object.IDOf(svc))
	res, err = d.Diff(ctx, svc, applied)
	require.NoError(t, err)
	assert.Equal(t, diff.ByDryRun, res.Method, "%s", res)
	assert.Equal(t, diff.Unchanged, res.Action, "the server keeps the allocated IP: %s\n%s", res, res.Diff)

	// And a real apply agrees: nothing is written.
	again := applyAs(t, c, svc, object.FieldManager)
	assert.Equal(t, applied.GetResourceVersion(), again.GetResourceVersion())
}
