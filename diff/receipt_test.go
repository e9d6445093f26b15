package diff_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/object"
)

// TestReceiptsCostNoRequests applies objects, records receipts from the
// apply responses, and checks that diffing them against a synced watch
// cache is exact and costs no request; then that another manager's change
// to an owned field is caught.
func TestReceiptsCostNoRequests(t *testing.T) {
	ns := namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := cluster.New(env.Config)
	require.NoError(t, err)
	installWidgetCRD(t, c)
	cache := cluster.NewCache(c, cluster.CacheOptions{Namespaces: []string{ns}})
	defer cache.Stop()
	receipts := &diff.MemoryReceipts{}
	d, err := diff.New(c, diff.WithReceipts(receipts))
	require.NoError(t, err)

	desired := desiredObjects(ns, 0, "original")
	for _, obj := range desired {
		applied := applyAs(t, c, obj, object.FieldManager)
		require.NoError(t, d.Record(ctx, obj, applied))
	}
	assert.Equal(t, len(desired), receipts.Len())
	for _, obj := range desired {
		require.NoError(t, cache.Prime(ctx, obj.GroupVersionKind()))
	}
	// Let the watches deliver the applies.
	waitForCache(t, cache, desired)

	before := c.Requests()
	for _, obj := range desired {
		live, err := cache.Get(ctx, obj.GroupVersionKind(), ns, obj.GetName())
		require.NoError(t, err)
		res, err := d.Diff(ctx, obj, live)
		require.NoError(t, err)
		assert.Equal(t, diff.Unchanged, res.Action, "%s", res)
		assert.Equal(t, diff.ByReceipt, res.Method, "%s", res)
	}
	assert.Zero(t, c.Requests().Sub(before).Total(), "diffing in-sync objects from the cache: %s", c.Requests().Sub(before))

	// kubectl edit of a field converge owns: the entry loses the field,
	// the receipt no longer matches, and the local merge reports drift.
	cm := desired[0]
	live, err := c.Get(ctx, cm.GroupVersionKind(), ns, cm.GetName())
	require.NoError(t, err)
	require.NoError(t, unstructured.SetNestedField(live.Object, "edited", "data", "key"))
	ri, _, err := c.ResourceFor(ctx, cm)
	require.NoError(t, err)
	edited, err := ri.Update(ctx, live, metav1.UpdateOptions{FieldManager: "kubectl-edit"})
	require.NoError(t, err)
	waitForVersion(t, cache, cm, edited.GetResourceVersion())

	cached, err := cache.Get(ctx, cm.GroupVersionKind(), ns, cm.GetName())
	require.NoError(t, err)
	res, err := d.Diff(ctx, cm, cached)
	require.NoError(t, err)
	assert.Equal(t, diff.Update, res.Action)
	assert.Equal(t, diff.ByLocalMerge, res.Method)
	assert.Equal(t, []string{".data.key"}, res.Paths)
	assert.Equal(t, []diff.Conflict{{Manager: "kubectl-edit", Path: ".data.key"}}, res.Conflicts)
	assert.Contains(t, res.Diff, "-  key: edited\n+  key: v1\n")
}

func waitForCache(t *testing.T, cache *cluster.Cache, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		require.NoError(t, wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			_, err := cache.Get(ctx, o.GroupVersionKind(), o.GetNamespace(), o.GetName())
			return err == nil, nil
		}))
	}
}

func waitForVersion(t *testing.T, cache *cluster.Cache, o *unstructured.Unstructured, rv string) {
	t.Helper()
	require.NoError(t, wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		live, err := cache.Get(ctx, o.GroupVersionKind(), o.GetNamespace(), o.GetName())
		return err == nil && live.GetResourceVersion() == rv, nil
	}))
}
