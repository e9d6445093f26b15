package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/kustomize"
	"github.com/converge-dev/converge/source/git"
)

// reconcileComparison measures the engine (reconcile.Reconciler and
// reconcile.Loop) on a real Git repository served by git http-backend and
// the shared bare control plane:
//
//   - reconcile-noop-1000: a pass over an unchanged revision and an in-sync
//     cluster of 1,000 objects from a Kustomize overlay, against what the
//     converge CLI did on every sync tick before the engine existed (fetch,
//     render with an incremental kustomize cache, apply);
//   - reconcile-100-units: 100 units of 20 objects from one repository in
//     one Loop, against one unit of the same 2,000 objects: the first pass,
//     the API and Git requests and the CPU time of an idle tick, the
//     watches and the heap, and the same figures for the 2,000 objects
//     as 10 and 50 units, so that what grows with units alone shows.
//
// Every object here is healthy on a bare plane (no Deployments: without
// controllers they never roll out), so that units wait for health as the
// CLI did and Ready means applied and healthy.
var reconcileComparison = comparison{name: "reconcile", run: runReconcile}

const (
	noopApps      = 100 // × 10 objects each
	noopObjects   = noopApps * 10
	noopPath      = "clusters/prod"
	noopRounds    = 10 // steady passes timed on each side; the fastest counts
	reconcileRepo = "deploy.git"
)

// noopKinds are the kinds of the overlay's objects, for emptying a
// namespace (the inventories are ConfigMaps too).
var noopKinds = []schema.GroupVersionKind{
	{Version: "v1", Kind: "ConfigMap"}, {Version: "v1", Kind: "Secret"},
	{Version: "v1", Kind: "Service"}, {Version: "v1", Kind: "ServiceAccount"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"},
	{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"},
}

func runReconcile(ctx context.Context, h *harness) ([]result, error) {
	env, err := h.bare()
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "converge-bench-reconcile-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	root := filepath.Join(work, "srv")
	if err := reconcileRepoInit(ctx, filepath.Join(work, "tree"), filepath.Join(root, reconcileRepo)); err != nil {
		return nil, fmt.Errorf("generate repository: %w", err)
	}
	srv, err := startGitServer(root)
	if err != nil {
		return nil, err
	}
	defer srv.close()
	url := srv.URL + "/" + reconcileRepo
	setup, err := cluster.New(env.Config) // creates namespaces and deletes objects, counted apart
	if err != nil {
		return nil, err
	}

	var results []result
	r, err := reconcileNoop(ctx, env.Client, setup, env.Config, srv, url)
	if err != nil {
		return results, fmt.Errorf("reconcile-noop-1000: %w", err)
	}
	results = append(results, r)
	r, err = reconcileUnits(ctx, env.Client, setup, env.Config, srv, url)
	if err != nil {
		return results, fmt.Errorf("reconcile-100-units: %w", err)
	}
	return append(results, r), nil
}

// noopRound is one side's measurement of one steady pass.
type noopRound struct {
	time     time.Duration
	cpu      time.Duration // of this process
	requests cluster.Requests
	git      int64
	rendered bool
	writes   int
}

// worst keeps the fastest time (and least CPU) and the highest counts of
// the rounds, so that one pass that cost a request is never hidden by
// others that did not.
func worst(rounds []noopRound) noopRound {
	out := rounds[0]
	for _, r := range rounds[1:] {
		out.time, out.cpu = min(out.time, r.time), min(out.cpu, r.cpu)
		if r.requests.Total() > out.requests.Total() {
			out.requests = r.requests
		}
		out.git = max(out.git, r.git)
		out.rendered = out.rendered || r.rendered
		out.writes = max(out.writes, r.writes)
	}
	return out
}

// reconcileNoop times noopRounds steady passes of the Reconciler over the
// overlay, then noopRounds ticks of the CLI's old path over the same
// overlay in another namespace, each after its first pass and after its
// cache settled. Objects are deleted between the two, so both meet a
// control plane holding as many objects.
func reconcileNoop(ctx context.Context, setup client.Client, other *cluster.Client, cfg *rest.Config, srv *gitServer, url string) (result, error) {
	conv, first, err := noopConverge(ctx, setup, other, cfg, srv, url)
	if err != nil {
		return result{}, err
	}
	peer, peerFirst, err := noopCLI(ctx, setup, other, cfg, srv, url)
	if err != nil {
		return result{}, err
	}
	c, p := worst(conv), worst(peer)
	return result{
		Name: fmt.Sprintf("reconcile-noop-%d", noopObjects), Converge: c.time, PeerName: "cli-fetch-render-apply", Peer: p.time,
		Requests: c.requests.Total(), Writes: int64(c.writes),
		Extra: []string{
			fmt.Sprintf("git_requests=%d rendered=%t", c.git, c.rendered),
			fmt.Sprintf("peer_requests=%d peer_git_requests=%d peer_rendered=%t peer_writes=%d", p.requests.Total(), p.git, p.rendered, p.writes),
			fmt.Sprintf("objects=%d passes=%d(fastest;counts_are_the_highest)", noopObjects, noopRounds),
			fmt.Sprintf("converge_ms=%.1f peer_ms=%.1f cpu_ms=%.1f peer_cpu_ms=%.1f", ms(c.time), ms(p.time), ms(c.cpu), ms(p.cpu)),
			fmt.Sprintf("first_pass=%s peer_first_pass=%s", seconds(first), seconds(peerFirst)),
			fmt.Sprintf("requests_by_verb=%q", c.requests.String()),
		},
	}, nil
}

// noopUnit is the overlay as a unit: automated, pruning, waiting for
// health, as the CLI's sync did by default.
func noopUnit(url, ns string) reconcile.Unit {
	return reconcile.Unit{
		Name: "noop-1000", Namespace: ns,
		Source:      reconcile.Source{URL: url},
		Path:        noopPath,
		Destination: reconcile.Destination{TargetNamespace: ns},
		Sync:        reconcile.Sync{Prune: true},
		Health:      reconcile.Health{Wait: true},
		Timeout:     3 * time.Minute,
	}
}

func noopConverge(ctx context.Context, setup client.Client, other *cluster.Client, cfg *rest.Config, srv *gitServer, url string) ([]noopRound, time.Duration, error) {
	ns := "bench-reconcile-noop"
	if err := createNamespace(ctx, setup, ns); err != nil {
		return nil, 0, err
	}
	c, err := cluster.New(cfg)
	if err != nil {
		return nil, 0, err
	}
	r, err := reconcile.New(c)
	if err != nil {
		return nil, 0, err
	}
	closed := false
	defer func() {
		if !closed {
			r.Close()
		}
	}()
	u := noopUnit(url, ns)
	start := time.Now()
	s, err := r.Reconcile(ctx, u)
	first := time.Since(start)
	if err != nil {
		return nil, 0, fmt.Errorf("first pass: %w", err)
	}
	if !s.Ready() || !s.Rendered || len(s.Inventory) != noopObjects {
		return nil, 0, fmt.Errorf("first pass: ready=%t rendered=%t objects=%d: %s", s.Ready(), s.Rendered, len(s.Inventory), conditions(s))
	}
	// The cache settles: a plan says in sync (as the engine's own tests
	// wait for it).
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := r.Plan(ctx, u)
		return err == nil && p.Sync == reconcile.Synced, nil
	}); err != nil {
		return nil, 0, fmt.Errorf("the cache did not settle: %w", err)
	}
	rounds := make([]noopRound, 0, noopRounds)
	for range noopRounds {
		before, gitBefore, cpu := c.Requests(), srv.requests.Load(), selfCPU()
		start := time.Now()
		s, err := r.Reconcile(ctx, u)
		took, cpu := time.Since(start), selfCPU()-cpu
		if err != nil {
			return nil, 0, fmt.Errorf("steady pass: %w", err)
		}
		if !s.Ready() {
			return nil, 0, fmt.Errorf("steady pass not Ready: %s", conditions(s))
		}
		rounds = append(rounds, noopRound{time: took, cpu: cpu, requests: c.Requests().Sub(before), git: srv.requests.Load() - gitBefore,
			rendered: s.Rendered, writes: s.Result.Writes})
	}
	logf("reconcile: the engine on %d objects: first pass %s, steady %s", noopObjects, seconds(first), seconds(worst(rounds).time))
	r.Close()
	closed = true
	return rounds, first, emptyNamespace(ctx, other, ns, noopKinds)
}

// noopCLI is what `converge sync` did on every tick before the engine
// (examples/internal/cli at the commit before reconcile/): fetch the Git
// source, render the path with kustomize and its incremental cache, and
// apply the set with one long-lived Applier (its own watch cache and apply
// receipts), pruning and waiting for health.
func noopCLI(ctx context.Context, setup client.Client, other *cluster.Client, cfg *rest.Config, srv *gitServer, url string) ([]noopRound, time.Duration, error) {
	ns := "bench-reconcile-noop-cli"
	if err := createNamespace(ctx, setup, ns); err != nil {
		return nil, 0, err
	}
	c, err := cluster.New(cfg)
	if err != nil {
		return nil, 0, err
	}
	src, err := git.New(url, git.Reference{Branch: "main"}, git.WithTimeout(2*time.Minute))
	if err != nil {
		return nil, 0, err
	}
	renderer := kustomize.New(kustomize.WithCache(kustomize.NewCache()))
	a, err := apply.New(c, apply.Owner{Name: "cli-noop-1000", Namespace: ns})
	if err != nil {
		return nil, 0, err
	}
	closed := false
	defer func() {
		if !closed {
			a.Close()
		}
	}()
	opts := apply.DefaultOptions()
	opts.Prune, opts.Wait, opts.WaitTimeout = true, true, 3*time.Minute
	ropts := render.DefaultOptions()
	ropts.Namespace = ns
	tick := func() (*apply.Result, error) {
		snap, err := src.Fetch(ctx)
		if err != nil {
			return nil, err
		}
		set, err := renderer.Render(ctx, snap.FS, noopPath, ropts)
		if err != nil {
			return nil, err
		}
		if set.Len() != noopObjects {
			return nil, fmt.Errorf("the overlay rendered %d objects, want %d", set.Len(), noopObjects)
		}
		return a.Apply(ctx, set, opts)
	}
	start := time.Now()
	res, err := tick()
	first := time.Since(start)
	if err != nil {
		return nil, 0, fmt.Errorf("first tick: %w", err)
	}
	if n := res.Count(apply.Created); n != noopObjects {
		return nil, 0, fmt.Errorf("first tick created %d objects, want %d (%s)", n, noopObjects, res)
	}
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		snap, err := src.Fetch(ctx)
		if err != nil {
			return false, err
		}
		set, err := renderer.Render(ctx, snap.FS, noopPath, ropts)
		if err != nil {
			return false, err
		}
		plan, err := a.Plan(ctx, set, opts)
		return err == nil && plan.Count(apply.Unchanged) == noopObjects, nil
	}); err != nil {
		return nil, 0, fmt.Errorf("the cache did not settle: %w", err)
	}
	rounds := make([]noopRound, 0, noopRounds)
	for range noopRounds {
		before, gitBefore, cpu := c.Requests(), srv.requests.Load(), selfCPU()
		start := time.Now()
		res, err := tick()
		took, cpu := time.Since(start), selfCPU()-cpu
		if err != nil {
			return nil, 0, fmt.Errorf("steady tick: %w", err)
		}
		if n := res.Count(apply.Unchanged); n != noopObjects {
			return nil, 0, fmt.Errorf("steady tick: %d unchanged, want %d (%s)", n, noopObjects, res)
		}
		rounds = append(rounds, noopRound{time: took, cpu: cpu, requests: c.Requests().Sub(before), git: srv.requests.Load() - gitBefore,
			rendered: true, writes: res.Writes})
	}
	logf("reconcile: the CLI's path on %d objects: first tick %s, steady %s", noopObjects, seconds(first), seconds(worst(rounds).time))
	a.Close()
	closed = true
	return rounds, first, emptyNamespace(ctx, other, ns, noopKinds)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// conditions is a status's conditions in one line, for errors.
func conditions(s reconcile.Status) string {
	var parts []string
	for _, c := range s.Conditions {
		parts = append(parts, fmt.Sprintf("%s=%s/%s: %s", c.Type, c.Status, c.Reason, c.Message))
	}
	if s.Err != nil {
		parts = append(parts, "error: "+s.Err.Error())
	}
	return strings.Join(parts, "; ")
}
