package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fluxcd/pkg/ssa"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlruntimelog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/object"
)

// applyComparison measures converge's Applier against fluxcd/pkg/ssa's
// ApplyAllStaged on the same mixed sets (ConfigMaps, Services, Deployments
// and custom resources) of the same API server: the first apply, an
// unchanged re-apply, and a re-apply after another field manager changed
// 10% of the objects. Each tool works in its own namespaces, so neither
// sees the other's objects. Besides times and requests, each line gives the
// CPU time this process (cpu, peer_cpu) and the control plane (server_cpu,
// peer_server_cpu) spent on the step: the API server shares the machine's
// cores, so what the server must do bounds both tools' times.
var applyComparison = comparison{name: "apply", run: runApply}

const (
	// applyConcurrency is converge's default Options.Concurrency, and the
	// concurrency Flux gets first.
	applyConcurrency = 8
	widgetGroup      = "apply.bench.converge.dev"
)

// applyConcurrencies are the concurrencies both tools are tried at on the
// 1,000-object sets; each one's best time is reported. (Flux's ApplyAll
// runs its GETs and dry-runs concurrently and its writes one after
// another.)
var applyConcurrencies = []int{applyConcurrency, 4, 16, 32}

var widgetGVK = schema.GroupVersionKind{Group: widgetGroup, Version: "v1", Kind: "Widget"}

// applySizes are the set sizes measured; drift is measured on the first.
var applySizes = []int{1000, 10_000}

func runApply(ctx context.Context, h *harness) ([]result, error) {
	env, err := h.bare()
	if err != nil {
		return nil, err
	}
	// Three clients, so that each one's requests are counted apart:
	// converge's, Flux's, and the one that sets up and drifts objects.
	c, err := cluster.New(env.Config)
	if err != nil {
		return nil, err
	}
	other, err := cluster.New(env.Config)
	if err != nil {
		return nil, err
	}
	fluxClient, err := cluster.New(env.Config)
	if err != nil {
		return nil, err
	}
	ctrlruntimelog.SetLogger(logr.Discard())
	ctrl, err := client.New(fluxClient.Config(), client.Options{})
	if err != nil {
		return nil, err
	}
	if err := installWidgets(ctx, other); err != nil {
		return nil, err
	}
	// Both are long-running controllers in real life: their discovery, and
	// converge's OpenAPI schemas (the diff comparison does the same), are
	// warm before the first apply.
	kinds := kindsOf(applyObjects("warm", 4))
	for _, gvk := range kinds {
		if _, err := c.RESTMapping(ctx, gvk); err != nil {
			return nil, err
		}
		if _, err := ctrl.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return nil, fmt.Errorf("flux: %w", err)
		}
		if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
			_, err := c.TypeConverter(ctx, gvk) // a new CRD's schema is published shortly after it is Established
			return err == nil, nil
		}); err != nil {
			return nil, fmt.Errorf("schema of %s: %w", gvk, err)
		}
	}

	var results []result
	for i, n := range applySizes {
		concurrencies := applyConcurrencies
		if i > 0 {
			// Trying every concurrency on 10,000 objects would take many
			// minutes; the larger sets are compared at converge's default
			// and at the highest.
			concurrencies = []int{applyConcurrency, concurrencies[len(concurrencies)-1]}
		}
		rs, err := applyRounds(ctx, env.Client, c, other, fluxClient, ctrl, n, i == 0, concurrencies)
		results = append(results, rs...)
		if err != nil {
			return results, err
		}
	}
	return results, nil
}

// applyRound is one tool's measurement of one step.
type applyRound struct {
	time     time.Duration
	requests cluster.Requests
	cpu      cpuUsage // spent during the step
}

// cpuUsage is CPU time spent by this process (converge or Flux, and the
// bench around them) and by the control plane (kube-apiserver and etcd).
// On a shared machine it is steadier than wall time, and it says whose
// work a step is made of.
type cpuUsage struct{ client, server time.Duration }

func cpuNow() cpuUsage {
	var u cpuUsage
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		u.client = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	u.server = controlPlaneCPU()
	return u
}

func (u cpuUsage) sub(earlier cpuUsage) cpuUsage {
	return cpuUsage{client: u.client - earlier.client, server: u.server - earlier.server}
}

// controlPlaneCPU is the CPU time used so far by this process's children
// named kube-apiserver and etcd, from /proc; 0 where there is none.
func controlPlaneCPU() time.Duration {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	self := strconv.Itoa(os.Getpid())
	var ticks int64
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime stime: fields 14 and 15.
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || end+2 > len(s) {
			continue
		}
		comm, f := s[open+1:end], strings.Fields(s[end+2:])
		if len(f) < 13 || f[1] != self || (comm != "kube-apiserver" && comm != "etcd") {
			continue
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += utime + stime
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// applyRounds measures create, no-op and (with drift) 10%-drift on n
// objects, converge and Flux each at every concurrency given, in turn, so
// that both meet the control plane in the same states. Each side's best
// time per step is reported, with the concurrency it came from, and both
// sides' times at converge's default concurrency.
func applyRounds(ctx context.Context, setup client.Client, c, other, fluxClient *cluster.Client, ctrl client.Client,
	n int, drift bool, concurrencies []int) ([]result, error) {
	steps := []string{fmt.Sprintf("apply-create-%d", n), fmt.Sprintf("apply-noop-%d", n)}
	if drift {
		steps = append(steps, "apply-drift-10pct")
	}
	conv, flux := newBestRounds(len(steps)), newBestRounds(len(steps))
	var steady applyRound
	for i, k := range concurrencies {
		runConverge := func() error {
			rounds, st, err := convergeRounds(ctx, setup, c, other, n, k, drift)
			if err != nil {
				return err
			}
			conv.add(k, rounds)
			if k == applyConcurrency {
				steady = st
			}
			return nil
		}
		runFlux := func() error {
			rounds, err := fluxRounds(ctx, setup, other, fluxClient, ctrl, n, k, drift)
			if err != nil {
				return err
			}
			flux.add(k, rounds)
			return nil
		}
		// Each goes first every other time: whoever runs first meets a
		// control plane with fewer objects in it.
		first, second := runConverge, runFlux
		if i%2 == 1 {
			first, second = runFlux, runConverge
		}
		if err := first(); err != nil {
			return nil, err
		}
		if err := second(); err != nil {
			return nil, err
		}
	}

	out := make([]result, len(steps))
	for i, name := range steps {
		best, peer := conv.best[i], flux.best[i]
		extra := []string{fmt.Sprintf("objects=%d", n)}
		if i == 2 {
			extra = append(extra, fmt.Sprintf("drifted=%d", n/10))
		}
		extra = append(extra, fmt.Sprintf("concurrency=%d peer_concurrency=%d", conv.at[i], flux.at[i]))
		if same, ok := conv.byConcurrency[applyConcurrency]; ok {
			extra = append(extra, fmt.Sprintf("converge_at_%d=%s peer_at_%d=%s",
				applyConcurrency, seconds(same[i].time), applyConcurrency, seconds(flux.byConcurrency[applyConcurrency][i].time)))
		}
		if i == 1 {
			extra = append(extra, fmt.Sprintf("steady=%s steady_requests=%d", seconds(steady.time), steady.requests.Total()))
		}
		extra = append(extra,
			fmt.Sprintf("cpu=%s server_cpu=%s peer_cpu=%s peer_server_cpu=%s",
				seconds(best.cpu.client), seconds(best.cpu.server), seconds(peer.cpu.client), seconds(peer.cpu.server)),
			fmt.Sprintf("requests_by_verb=%q peer_requests_by_verb=%q", best.requests.String(), peer.requests.String()),
			fmt.Sprintf("peer_requests=%d", peer.requests.Total()))
		out[i] = result{
			Name: name, Converge: best.time, PeerName: "flux-ssa", Peer: peer.time,
			Requests: best.requests.Total(), Writes: best.requests.Writes(), Extra: extra,
		}
	}
	return out, nil
}

// bestRounds keeps one tool's fastest round per step, and every round by
// concurrency.
type bestRounds struct {
	best          []applyRound
	at            []int
	byConcurrency map[int][]applyRound
}

func newBestRounds(steps int) *bestRounds {
	return &bestRounds{best: make([]applyRound, steps), at: make([]int, steps), byConcurrency: map[int][]applyRound{}}
}

func (b *bestRounds) add(concurrency int, rounds []applyRound) {
	b.byConcurrency[concurrency] = rounds
	for i, r := range rounds {
		if b.at[i] == 0 || r.time < b.best[i].time {
			b.best[i], b.at[i] = r, concurrency
		}
	}
}

// convergeRounds runs converge's steps on n new objects at concurrency k,
// and a second unchanged apply: the steady state of every later reconcile.
func convergeRounds(ctx context.Context, setup client.Client, c, other *cluster.Client, n, k int, drift bool) (rounds []applyRound, steady applyRound, err error) {
	start := time.Now()
	ns := fmt.Sprintf("bench-apply-%d-c%d", n, k)
	if err := createNamespace(ctx, setup, ns); err != nil {
		return nil, steady, err
	}
	objs := applyObjects(ns, n)
	set := object.NewSet()
	for _, o := range objs {
		if err := set.Add(o.DeepCopy(), "bench"); err != nil {
			return nil, steady, err
		}
	}
	a, err := apply.New(c, apply.Owner{Name: ns, Namespace: ns})
	if err != nil {
		return nil, steady, err
	}
	defer a.Close()
	opts := apply.DefaultOptions()
	opts.Concurrency = k
	step := func(want apply.Action, count int) (applyRound, error) {
		before, cpu := c.Requests(), cpuNow()
		start := time.Now()
		res, err := a.Apply(ctx, set, opts)
		r := applyRound{time: time.Since(start), requests: c.Requests().Sub(before), cpu: cpuNow().sub(cpu)}
		if err != nil {
			return r, fmt.Errorf("converge apply: %w", err)
		}
		if got := res.Count(want); got != count {
			return r, fmt.Errorf("converge apply: %d %s, want %d (%s)", got, want, count, res)
		}
		return r, nil
	}
	for _, s := range []struct {
		want  apply.Action
		count int
	}{{apply.Created, n}, {apply.Unchanged, n}} {
		r, err := step(s.want, s.count)
		if err != nil {
			return nil, steady, err
		}
		rounds = append(rounds, r)
	}
	if steady, err = step(apply.Unchanged, n); err != nil {
		return nil, steady, err
	}
	if drift {
		if err := driftObjects(ctx, other, objs, a.Cache()); err != nil {
			return nil, steady, err
		}
		r, err := step(apply.Configured, n/10)
		if err != nil {
			return nil, steady, err
		}
		rounds = append(rounds, r)
	}
	logf("apply: converge at concurrency %d on %d objects in %s (create %s, no-op %s)",
		k, n, time.Since(start).Round(time.Second), seconds(rounds[0].time), seconds(rounds[1].time))
	return rounds, steady, emptyNamespace(ctx, other, ns, kindsOf(objs)) // the inventory is a ConfigMap too
}

// fluxRounds runs Flux's ApplyAllStaged steps on n new objects at
// concurrency k.
func fluxRounds(ctx context.Context, setup client.Client, other, fluxClient *cluster.Client, ctrl client.Client, n, k int, drift bool) ([]applyRound, error) {
	start := time.Now()
	ns := fmt.Sprintf("bench-apply-flux-%d-c%d", n, k)
	if err := createNamespace(ctx, setup, ns); err != nil {
		return nil, err
	}
	flux := ssa.NewResourceManager(ctrl, nil, ssa.Owner{Field: fluxManager, Group: "bench.flux"})
	flux.SetConcurrency(k)
	objs := applyObjects(ns, n)
	flux.SetOwnerLabels(objs, ns, ns)
	step := func(want ssa.Action, count int) (applyRound, error) {
		copies := make([]*unstructured.Unstructured, len(objs))
		for i, o := range objs {
			copies[i] = o.DeepCopy()
		}
		before, cpu := fluxClient.Requests(), cpuNow()
		start := time.Now()
		cs, err := flux.ApplyAllStaged(ctx, copies, ssa.DefaultApplyOptions())
		r := applyRound{time: time.Since(start), requests: fluxClient.Requests().Sub(before), cpu: cpuNow().sub(cpu)}
		if err != nil {
			return r, fmt.Errorf("flux apply: %w", err)
		}
		got := 0
		for _, e := range cs.Entries {
			if e.Action == want {
				got++
			}
		}
		if got != count {
			return r, fmt.Errorf("flux apply: %d %s, want %d", got, want, count)
		}
		return r, nil
	}
	var rounds []applyRound
	for _, s := range []struct {
		want  ssa.Action
		count int
	}{{ssa.CreatedAction, n}, {ssa.UnchangedAction, n}} {
		r, err := step(s.want, s.count)
		if err != nil {
			return nil, err
		}
		rounds = append(rounds, r)
	}
	if drift {
		if err := driftObjects(ctx, other, objs, nil); err != nil {
			return nil, err
		}
		r, err := step(ssa.ConfiguredAction, n/10)
		if err != nil {
			return nil, err
		}
		rounds = append(rounds, r)
	}
	logf("apply: flux at concurrency %d on %d objects in %s (create %s, no-op %s)",
		k, n, time.Since(start).Round(time.Second), seconds(rounds[0].time), seconds(rounds[1].time))
	return rounds, emptyNamespace(ctx, other, ns, kindsOf(objs))
}

// emptyNamespace deletes the objects of the given kinds from ns, so that
// each measurement meets a control plane holding as many objects as the
// one before it. Some of the API server's work grows with them: in
// kube-apiserver 1.37 each new Service's ClusterIP allocation counts every
// allocated address, which after the diff comparison's 2,750 Services
// doubled the server's CPU per object created, for both tools alike.
func emptyNamespace(ctx context.Context, c *cluster.Client, ns string, kinds []schema.GroupVersionKind) error {
	for _, gvk := range kinds {
		m, err := c.RESTMapping(ctx, gvk)
		if err != nil {
			return err
		}
		err = c.Dynamic().Resource(m.Resource).Namespace(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("empty namespace %s of %s: %w", ns, m.Resource.Resource, err)
		}
	}
	return nil
}

// driftObjects changes, as another field manager, a field the applier owns
// on every tenth object, then waits until cache (when given) has seen every
// change, so that the drift is visible before the timed apply.
func driftObjects(ctx context.Context, other *cluster.Client, objs []*unstructured.Unstructured, cache *cluster.Cache) error {
	var edited []*unstructured.Unstructured
	for i := 0; i < len(objs); i += 10 {
		e, err := editOwned(ctx, other, objs[i])
		if err != nil {
			return fmt.Errorf("drift: %w", err)
		}
		edited = append(edited, e)
	}
	if cache == nil {
		return nil
	}
	for _, e := range edited {
		if err := waitCached(ctx, cache, e); err != nil {
			return fmt.Errorf("drift of %s not seen by the cache: %w", e.GetName(), err)
		}
	}
	return nil
}

func createNamespace(ctx context.Context, c client.Client, name string) error {
	err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// installWidgets installs the CRD of the custom resources of the sets and
// waits until it is Established.
func installWidgets(ctx context.Context, c *cluster.Client) error {
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "widgets." + widgetGroup},
		"spec": map[string]any{
			"group": widgetGroup, "scope": "Namespaced",
			"names": map[string]any{"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object",
					"properties": map[string]any{"spec": map[string]any{"type": "object",
						"properties": map[string]any{
							"size":  map[string]any{"type": "integer"},
							"color": map[string]any{"type": "string"},
							"tags":  map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
						}}}}}}},
		}}}
	if _, err := applyObject(ctx, c, crd, "bench-setup"); err != nil {
		return fmt.Errorf("install CRD: %w", err)
	}
	gvk := crd.GroupVersionKind()
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		live, err := c.Get(ctx, gvk, "", crd.GetName())
		if err != nil {
			return false, nil
		}
		conds, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
		return slices.ContainsFunc(conds, func(c any) bool {
			m, _ := c.(map[string]any)
			return m["type"] == "Established" && m["status"] == "True"
		}), nil
	})
}

// applyObjects returns n objects in namespace ns: ConfigMaps, Services,
// Deployments and Widgets, in turn.
func applyObjects(ns string, n int) []*unstructured.Unstructured {
	out := benchObjects(ns, n)
	for i := 1; i < n; i += 4 { // benchObjects' Secrets become Widgets
		name := out[i].GetName()
		out[i] = &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": widgetGVK.GroupVersion().String(), "kind": widgetGVK.Kind,
			"metadata": map[string]any{"name": name, "namespace": ns, "labels": map[string]any{"app": name}},
			"spec": map[string]any{"size": int64(i%7 + 1), "color": "blue",
				"tags": []any{"bench", fmt.Sprint(i)}}}}
	}
	for _, o := range out {
		// benchObjects labels its objects for the diff comparison's owner;
		// here each tool sets its own ownership labels.
		l := o.GetLabels()
		delete(l, object.LabelOwner)
		o.SetLabels(l)
	}
	return out
}
