package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/fluxcd/pkg/ssa"
	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlruntimelog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/object"
)

// diffComparison measures converge's diff from a synced watch cache with
// apply receipts against fluxcd/pkg/ssa's Diff (a GET and a dry-run PATCH
// per object) on the same objects of the same API server.
var diffComparison = comparison{name: "diff", run: runDiff}

const (
	fluxManager     = "flux-bench"
	fluxConcurrency = 8 // Flux's Diff is sequential; give it workers
)

func runDiff(ctx context.Context, h *harness) ([]result, error) {
	env, err := h.bare()
	if err != nil {
		return nil, err
	}
	c, err := cluster.New(env.Config)
	if err != nil {
		return nil, err
	}
	ns := "bench-diff"
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return nil, err
	}
	objs := benchObjects(ns, 10_000)
	d, err := diff.New(c)
	if err != nil {
		return nil, err
	}
	// Both managers apply every object, so both own its fields and both
	// diffs start from "unchanged".
	start := time.Now()
	if err := forEach(ctx, objs, 16, func(ctx context.Context, o *unstructured.Unstructured) error {
		applied, err := applyObject(ctx, c, o, object.FieldManager)
		if err != nil {
			return err
		}
		if err := d.Record(ctx, o, applied); err != nil {
			return err
		}
		_, err = applyObject(ctx, c, o, fluxManager)
		return err
	}); err != nil {
		return nil, fmt.Errorf("create objects: %w", err)
	}
	logf("diff: %d objects applied by both managers in %s", len(objs), time.Since(start).Round(time.Second))

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start = time.Now()
	cache := cluster.NewCache(c, cluster.CacheOptions{Namespaces: []string{ns}})
	defer cache.Stop()
	if err := cache.Prime(ctx, kindsOf(objs)...); err != nil {
		return nil, err
	}
	// A host warms the schemas of the kinds it applies once, at start-up;
	// without it the first local merge of each group-version pays one
	// OpenAPI request.
	for _, gvk := range kindsOf(objs) {
		if _, err := c.TypeConverter(ctx, gvk); err != nil {
			return nil, err
		}
	}
	syncTime := time.Since(start)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	cacheMiB := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (1 << 20)

	fluxClient, err := cluster.New(env.Config) // counts Flux's requests apart
	if err != nil {
		return nil, err
	}
	ctrlruntimelog.SetLogger(logr.Discard())
	ctrl, err := client.New(fluxClient.Config(), client.Options{})
	if err != nil {
		return nil, err
	}
	flux := ssa.NewResourceManager(ctrl, nil, ssa.Owner{Field: fluxManager, Group: "bench.flux"})

	var results []result
	for _, n := range []int{1000, 10_000} {
		r, err := diffRound(ctx, fmt.Sprintf("diff-noop-%d", n), c, cache, d, fluxClient, flux, objs[:n], 0)
		if err != nil {
			return results, err
		}
		if n == 10_000 {
			r.Extra = append(r.Extra, fmt.Sprintf("cache_heap_mib=%.0f cache_sync=%s", cacheMiB, seconds(syncTime)))
		}
		results = append(results, r)
	}

	// 10% drifted: another manager edits a field converge owns.
	drift := objs[:1000]
	var last *unstructured.Unstructured
	for i := 0; i < len(drift); i += 10 {
		if last, err = editOwned(ctx, c, drift[i]); err != nil {
			return results, err
		}
	}
	if err := waitCached(ctx, cache, last); err != nil {
		return results, err
	}
	r, err := diffRound(ctx, "diff-drift-10pct", c, cache, d, fluxClient, flux, drift, len(drift)/10)
	if err != nil {
		return results, err
	}
	// The comparisons after this one meet the control plane as it was.
	return append(results, r), emptyNamespace(ctx, c, ns, kindsOf(objs))
}

// diffRound diffs objs with both, checks both found wantChanged objects,
// and returns the BENCH result.
func diffRound(ctx context.Context, name string, c *cluster.Client, cache *cluster.Cache, d *diff.Differ,
	fluxClient *cluster.Client, flux *ssa.ResourceManager, objs []*unstructured.Unstructured, wantChanged int) (result, error) {
	// Two passes: the first after the apply checks receipts; the second is
	// the steady state every later reconcile pays. Both are printed; the
	// steady state is the converge figure.
	before := c.Requests()
	var passes [2]time.Duration
	changed := 0
	for pass := range passes {
		start := time.Now()
		changed = 0
		for _, o := range objs {
			live, err := cache.Get(ctx, o.GroupVersionKind(), o.GetNamespace(), o.GetName())
			if err != nil {
				return result{}, err
			}
			res, err := d.Diff(ctx, o, live)
			if err != nil {
				return result{}, err
			}
			if res.Action != diff.Unchanged {
				changed++
			}
		}
		passes[pass] = time.Since(start)
	}
	convergeTime := passes[1]
	requests := c.Requests().Sub(before)

	fluxBefore := fluxClient.Requests()
	start := time.Now()
	fluxChanged := 0
	results := make([]ssa.Action, len(objs))
	err := forEachIndex(ctx, len(objs), fluxConcurrency, func(ctx context.Context, i int) error {
		entry, _, _, err := flux.Diff(ctx, objs[i].DeepCopy(), ssa.DefaultDiffOptions())
		if err != nil {
			return err
		}
		results[i] = entry.Action
		return nil
	})
	if err != nil {
		return result{}, fmt.Errorf("flux diff: %w", err)
	}
	fluxTime := time.Since(start)
	for _, a := range results {
		if a != ssa.UnchangedAction {
			fluxChanged++
		}
	}
	fluxRequests := fluxClient.Requests().Sub(fluxBefore)
	if changed != wantChanged || fluxChanged != wantChanged {
		return result{}, fmt.Errorf("%s: converge found %d changed, flux %d, want %d", name, changed, fluxChanged, wantChanged)
	}
	return result{
		Name: name, Converge: convergeTime, PeerName: "flux-ssa", Peer: fluxTime,
		Requests: requests.Total(), Writes: requests.Writes(),
		Extra: []string{fmt.Sprintf("objects=%d changed=%d first_pass=%s peer_requests=%d peer_requests_by_verb=%q",
			len(objs), changed, seconds(passes[0]), fluxRequests.Total(), fluxRequests.String())},
	}, nil
}

// benchObjects returns n objects of four kinds in namespace ns.
func benchObjects(ns string, n int) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, n)
	for i := range n {
		name := fmt.Sprintf("obj-%05d", i)
		meta := map[string]any{"name": name, "namespace": ns, "labels": map[string]any{"app": name, object.LabelOwner: "bench"}}
		var o map[string]any
		switch i % 4 {
		case 0:
			o = map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
				"data": map[string]any{"mode": "blue", "level": "info", "index": fmt.Sprint(i)}}
		case 1:
			// data, not stringData: the server never stores stringData, so
			// two appliers of stringData take its ownership from each other
			// on every apply, and the set would never be a no-op.
			o = map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": meta,
				"data": map[string]any{"password": base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "secret-%d", i))}}
		case 2:
			o = map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": meta,
				"spec": map[string]any{"selector": map[string]any{"app": name},
					"ports": []any{map[string]any{"name": "http", "port": int64(80), "targetPort": int64(8080)}}}}
		case 3:
			o = map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
				"spec": map[string]any{"replicas": int64(1),
					"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
					"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": name}},
						"spec": map[string]any{"containers": []any{map[string]any{
							"name": "app", "image": "registry.example/app:1.0.0",
							"resources": map[string]any{"limits": map[string]any{"cpu": "500m", "memory": "128Mi"}},
							"env":       []any{map[string]any{"name": "INDEX", "value": fmt.Sprint(i)}},
						}}}}}}
		}
		out[i] = &unstructured.Unstructured{Object: o}
	}
	return out
}

func kindsOf(objs []*unstructured.Unstructured) []schema.GroupVersionKind {
	seen := map[schema.GroupVersionKind]bool{}
	var out []schema.GroupVersionKind
	for _, o := range objs {
		if gvk := o.GroupVersionKind(); !seen[gvk] {
			seen[gvk] = true
			out = append(out, gvk)
		}
	}
	return out
}

func applyObject(ctx context.Context, c *cluster.Client, o *unstructured.Unstructured, manager string) (*unstructured.Unstructured, error) {
	ri, _, err := c.ResourceFor(ctx, o)
	if err != nil {
		return nil, err
	}
	return ri.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: manager, Force: true})
}

// editOwned changes, as kubectl edit would, a label both appliers own.
func editOwned(ctx context.Context, c *cluster.Client, o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ri, _, err := c.ResourceFor(ctx, o)
	if err != nil {
		return nil, err
	}
	live, err := ri.Get(ctx, o.GetName(), metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	labels := live.GetLabels()
	labels["app"] = "edited"
	live.SetLabels(labels)
	return ri.Update(ctx, live, metav1.UpdateOptions{FieldManager: "kubectl-edit"})
}

func waitCached(ctx context.Context, cache *cluster.Cache, o *unstructured.Unstructured) error {
	return wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		live, err := cache.Get(ctx, o.GroupVersionKind(), o.GetNamespace(), o.GetName())
		return err == nil && live.GetResourceVersion() == o.GetResourceVersion(), nil
	})
}

func forEach(ctx context.Context, objs []*unstructured.Unstructured, workers int, f func(context.Context, *unstructured.Unstructured) error) error {
	return forEachIndex(ctx, len(objs), workers, func(ctx context.Context, i int) error { return f(ctx, objs[i]) })
}

func forEachIndex(ctx context.Context, n, workers int, f func(context.Context, int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i := range n {
		g.Go(func() error { return f(ctx, i) })
	}
	return g.Wait()
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...) }
