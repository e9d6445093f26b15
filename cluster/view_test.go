package cluster_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
)

var _ health.View = cluster.View{}

// TestHealthWaitOnTheCache waits, through the cache's View, for objects
// that do not exist yet, creates them, and checks the wait ends Healthy
// with no per-object GET.
func TestHealthWaitOnTheCache(t *testing.T) {
	ns := env.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := cluster.New(env.Config)
	require.NoError(t, err)
	cache := cluster.NewCache(c, cluster.CacheOptions{Namespaces: []string{ns}})
	defer cache.Stop()

	var ids []object.ID
	for i := range 1000 {
		ids = append(ids, object.ID{Kind: "ConfigMap", Namespace: ns, Name: fmt.Sprintf("cm-%04d", i)})
	}
	checker, err := health.New()
	require.NoError(t, err)
	before := c.Requests()
	done := make(chan error, 1)
	var report health.Report
	go func() {
		var err error
		report, err = health.Wait(ctx, cache.View(), checker, ids, health.DefaultWaitOptions())
		done <- err
	}()
	// Missing objects are Missing, not an error and not a request.
	obj, found, err := cache.View().Get(ctx, ids[0])
	require.NoError(t, err)
	assert.False(t, found)
	assert.Nil(t, obj)

	for _, id := range ids {
		apply(t, c, configMap(ns, id.Name, "v1"))
	}
	require.NoError(t, <-done)
	assert.Equal(t, health.Healthy, report.Status)
	assert.Len(t, report.Results, len(ids))
	made := c.Requests().Sub(before)
	assert.Zero(t, made[cluster.RequestKey{Verb: cluster.VerbGet, Resource: "configmaps"}], "no per-object GETs: %s", made)
	assert.LessOrEqual(t, made.Verb(cluster.VerbWatch), int64(2), "one watch for the kind: %s", made)
}

var _ health.CRDs = cluster.View{}

var gvrCRDs = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// unitCRD returns a CRD for kind in group, with or without a status
// subresource, labelled as unit's.
func unitCRD(group, kind string, status bool, unit string) *unstructured.Unstructured {
	v := map[string]any{"name": "v1", "served": true, "storage": true,
		"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}
	if status {
		v["subresources"] = map[string]any{"status": map[string]any{}}
	}
	plural := strings.ToLower(kind) + "s"
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": plural + "." + group, "labels": map[string]any{object.LabelOwner: unit}},
		"spec": map[string]any{
			"group": group, "scope": "Namespaced",
			"names":    map[string]any{"kind": kind, "plural": plural, "singular": strings.ToLower(kind), "listKind": kind + "List"},
			"versions": []any{v},
		},
	}}
}

// waitEstablished waits until the API server serves the CRD named name.
func waitEstablished(ctx context.Context, t *testing.T, c *cluster.Client, name string) {
	t.Helper()
	require.NoError(t, wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		crd, err := c.Dynamic().Resource(gvrCRDs).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, cd := range conds {
			if m, _ := cd.(map[string]any); m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	}), "CRD %s established", name)
}

// applyNew applies obj, retrying while the API server's discovery does not
// serve its kind yet (a CRD established a moment ago).
func applyNew(ctx context.Context, t *testing.T, c *cluster.Client, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	var out *unstructured.Unstructured
	var last error
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		ri, _, err := c.ResourceFor(ctx, obj)
		if err == nil {
			out, err = ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: object.FieldManager, Force: true})
		}
		last = err
		return err == nil, nil
	})
	require.NoError(t, err, "apply %s: %v", object.IDOf(obj), last)
	return out
}

// TestHealthFromLiveCRDs is the "CRDs first" layout: unit A applies CRDs,
// one without a status subresource (Gizmo), one with a status subresource
// some controller fills (Gadget) and one with a status subresource that no
// controller ever fills (Monitor, as prometheus-operator's ServiceMonitor);
// then unit B, whose cache sees only its own objects, applies custom
// resources of those kinds. An engine that reads the live CRDs through
// the cache's View decides them without a rule of the host's and without a
// request per check; an override covers Monitor; a wait that would block
// on the Gadget names it while waiting, and passes when told to skip it.
// Before, the CLI decided from the CRDs in the rendered set only, so every
// one of these was Unknown and blocked the wait.
func TestHealthFromLiveCRDs(t *testing.T) {
	ns := env.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := cluster.New(env.Config)
	require.NoError(t, err)
	group := "t" + rand.String(6) + ".example.com"

	// Unit A: the CRDs.
	for _, crd := range []*unstructured.Unstructured{
		unitCRD(group, "Gizmo", false, "unit-a"),
		unitCRD(group, "Gadget", true, "unit-a"),
		unitCRD(group, "Monitor", true, "unit-a"),
	} {
		apply(t, c, crd)
		t.Cleanup(func() {
			_ = c.Dynamic().Resource(gvrCRDs).Delete(context.Background(), crd.GetName(), metav1.DeleteOptions{})
		})
		waitEstablished(ctx, t, c, crd.GetName())
	}

	// Unit B: its cache, its objects.
	cache := cluster.NewCache(c, cluster.CacheOptions{Selector: labels.SelectorFromSet(labels.Set{object.LabelOwner: "unit-b"})})
	defer cache.Stop()
	cr := func(kind string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": group + "/v1", "kind": kind,
			"metadata": map[string]any{"name": strings.ToLower(kind), "namespace": ns, "labels": map[string]any{object.LabelOwner: "unit-b"}},
			"spec":     map[string]any{"size": int64(1)},
		}}
	}
	gizmo, gadget, monitor := applyNew(ctx, t, c, cr("Gizmo")), applyNew(ctx, t, c, cr("Gadget")), applyNew(ctx, t, c, cr("Monitor"))
	gizmoID, gadgetID, monitorID := object.IDOf(gizmo), object.IDOf(gadget), object.IDOf(monitor)

	view := cache.View()
	// The engine as it was: every one of them Unknown, so --wait failed.
	plain, err := health.New()
	require.NoError(t, err)
	for _, id := range []object.ID{gizmoID, gadgetID, monitorID} {
		obj, found, err := view.Get(ctx, id)
		require.NoError(t, err)
		require.True(t, found, "%s in unit B's cache", id)
		assert.Equal(t, "NoStatus", plain.Check(obj).Reason, "%s without the live CRD", id)
	}

	engine, err := health.New(health.WithCRDs(view),
		health.WithOverrides(health.Overrides{{Group: group, Kind: "Monitor"}: health.Healthy}))
	require.NoError(t, err)

	opts := health.DefaultWaitOptions()
	opts.Timeout = time.Minute
	rep, err := health.Wait(ctx, view, engine, []object.ID{gizmoID, monitorID}, opts)
	require.NoError(t, err, "report: %+v", rep)
	reasons := map[object.ID]string{}
	for _, r := range rep.Results {
		reasons[r.ID] = r.Reason
	}
	assert.Equal(t, "NoStatusSubresource", reasons[gizmoID], "decided from the live CRD that unit A applied")
	assert.Equal(t, "Override", reasons[monitorID])

	// The Gadget has a status subresource and nothing has written it:
	// Unknown, and a wait on it says so while it waits.
	var mu sync.Mutex
	var last health.Progress
	short := health.DefaultWaitOptions()
	short.Timeout = 2 * time.Second
	short.Progress = func(p health.Progress) { mu.Lock(); last = p; mu.Unlock() }
	rep, err = health.Wait(ctx, view, engine, []object.ID{gizmoID, gadgetID, monitorID}, short)
	require.ErrorIs(t, err, health.ErrNotReady)
	mu.Lock()
	require.Len(t, last.Waiting, 1)
	assert.Equal(t, gadgetID, last.Waiting[0].ID)
	assert.Equal(t, "NoStatus", last.Waiting[0].Reason)
	assert.Contains(t, last.String(), "2/3 ready; waiting for "+gadgetID.String()+" (Unknown: NoStatus: ")
	mu.Unlock()

	// Skipped, it is reported and does not block.
	skip := opts
	skip.Skip = health.Skip{Kinds: []schema.GroupKind{gadgetID.GroupKind()}}
	rep, err = health.Wait(ctx, view, engine, []object.ID{gizmoID, gadgetID, monitorID}, skip)
	require.NoError(t, err, "report: %+v", rep)
	require.Len(t, rep.Skipped, 1)
	assert.Equal(t, gadgetID, rep.Skipped[0].ID)
	assert.Equal(t, health.Unknown, rep.Skipped[0].Status)

	// Once the CRD watch is up, checks cost no request.
	before := c.Requests()
	for range 50 {
		for _, id := range []object.ID{gizmoID, gadgetID} {
			obj, found, err := view.Get(ctx, id)
			require.NoError(t, err)
			require.True(t, found)
			engine.CheckContext(ctx, obj)
		}
	}
	assert.Zero(t, c.Requests().Sub(before).Total(), "requests: %s", c.Requests().Sub(before))

	// A controller reports on the Gadget: its report decides.
	live, err := c.Dynamic().Resource(schema.GroupVersionResource{Group: group, Version: "v1", Resource: "gadgets"}).Namespace(ns).Get(ctx, "gadget", metav1.GetOptions{})
	require.NoError(t, err)
	live.Object["status"] = map[string]any{"observedGeneration": live.GetGeneration(),
		"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "Ready", "message": "ready",
			"lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}}}
	_, err = c.Dynamic().Resource(schema.GroupVersionResource{Group: group, Version: "v1", Resource: "gadgets"}).Namespace(ns).UpdateStatus(ctx, live, metav1.UpdateOptions{})
	require.NoError(t, err)
	rep, err = health.Wait(ctx, view, engine, []object.ID{gadgetID}, opts)
	require.NoError(t, err, "report: %+v", rep)
	assert.Equal(t, health.Healthy, rep.Results[0].Status, rep.Results[0].String())

	// Unit A gives the Gizmo a status subresource: the engine follows the
	// live CRD without a restart.
	apply(t, c, unitCRD(group, "Gizmo", true, "unit-a"))
	require.NoError(t, wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		obj, found, err := view.Get(ctx, gizmoID)
		if err != nil || !found {
			return false, err
		}
		return engine.CheckContext(ctx, obj).Reason == "NoStatus", nil
	}), "the changed CRD is followed")
}

// TestViewCRD: the View finds CRDs by kind, whoever applied them, and
// finds none when the cache is told not to watch CRDs.
func TestViewCRD(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := cluster.New(env.Config)
	require.NoError(t, err)
	group := "t" + rand.String(6) + ".example.com"
	crd := unitCRD(group, "Sprocket", true, "someone-else")
	apply(t, c, crd)
	t.Cleanup(func() {
		_ = c.Dynamic().Resource(gvrCRDs).Delete(context.Background(), crd.GetName(), metav1.DeleteOptions{})
	})

	selective := cluster.NewCache(c, cluster.CacheOptions{Selector: labels.SelectorFromSet(labels.Set{object.LabelOwner: "me"})})
	defer selective.Stop()
	view := selective.View()
	gk := schema.GroupKind{Group: group, Kind: "Sprocket"}
	require.NoError(t, wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		_, found, err := view.CRD(ctx, gk)
		return found, err
	}), "a CRD outside the cache's selector is found")
	got, _, err := view.CRD(ctx, gk)
	require.NoError(t, err)
	assert.Equal(t, crd.GetName(), got.GetName())
	versions, _, _ := unstructured.NestedSlice(got.Object, "spec", "versions")
	require.Len(t, versions, 1)
	_, hasSchema := versions[0].(map[string]any)["schema"]
	assert.False(t, hasSchema, "schemas are not kept")
	assert.Contains(t, versions[0].(map[string]any), "subresources")
	_, found, err := view.CRD(ctx, schema.GroupKind{Group: group, Kind: "Nothing"})
	require.NoError(t, err)
	assert.False(t, found)

	ignoring := cluster.NewCache(c, cluster.CacheOptions{IgnoreCRDChanges: true})
	defer ignoring.Stop()
	before := c.Requests()
	_, found, err = ignoring.View().CRD(ctx, gk)
	require.NoError(t, err)
	assert.False(t, found, "a cache not allowed to watch CRDs finds none")
	assert.Zero(t, c.Requests().Sub(before).Total())

	_, _, err = cluster.View{}.CRD(ctx, gk)
	assert.Error(t, err, "a View not made by Cache.View says so")
}
