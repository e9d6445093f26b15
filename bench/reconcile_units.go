package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/reconcile"
)

const (
	// fleetInterval is the Loop's interval for the measurement (5 minutes
	// by default). Coalescing is half of it, not the default 10 s: a tick
	// then costs the shared reference listing (one, or two when a tick's
	// passes straddle a coalescing window), where 10 s would answer most
	// ticks from the previous tick's snapshot and show no listing at all.
	fleetInterval = time.Second
	fleetCoalesce = fleetInterval / 2
	// fleetWindowPasses is how many steady passes every unit runs inside
	// the measured window, after one pass that lets the cache settle.
	fleetWindowPasses = 3
	// fleetReps is how many times the 100 units and the one unit are
	// measured, alternating which goes first; the fastest first pass of
	// each counts, and the highest counts.
	fleetReps = 2
)

var fleetKinds = []schema.GroupVersionKind{
	{Version: "v1", Kind: "ConfigMap"}, {Version: "v1", Kind: "Service"},
	{Version: "v1", Kind: "ServiceAccount"}, {Version: "v1", Kind: "Secret"},
}

// fleetPhase is one Loop's measurement over the 2,000 objects.
type fleetPhase struct {
	units     int
	firstPass time.Duration // Run started → every unit Ready
	window    time.Duration
	passes    int              // steady passes inside the window
	requests  cluster.Requests // API requests inside the window
	git       int64            // Git HTTP requests inside the window
	cpu       time.Duration    // CPU time of this process inside the window
	// renders, writes and failures are counted over the window's passes:
	// an idle tick renders nothing, writes nothing, fails nothing.
	renders, writes, failures int
	watches                   int64    // watch requests since the Reconciler started
	watched                   []string // the resources watched
	heap, base                uint64   // HeapAlloc after GC: what the Reconciler keeps, and before the phase
}

// fleetSummary is what a line prints of one or more phases: per-tick
// figures, so that windows of different lengths compare.
type fleetSummary struct {
	firstPass                         time.Duration
	requestsPerTick, gitPerTick       float64
	cpuPerTick                        time.Duration
	requests                          cluster.Requests // of the window with the most
	passes, renders, writes, failures int
	watches                           int64
	watched                           []string
	heap, base                        uint64
}

func (p fleetPhase) summary() fleetSummary {
	s := fleetSummary{firstPass: p.firstPass, requests: p.requests, passes: p.passes,
		renders: p.renders, writes: p.writes, failures: p.failures,
		watches: p.watches, watched: p.watched, heap: p.heap, base: p.base}
	if p.passes > 0 {
		ticks := float64(p.passes) / float64(p.units)
		s.requestsPerTick = float64(p.requests.Total()) / ticks
		s.gitPerTick = float64(p.git) / ticks
		s.cpuPerTick = time.Duration(float64(p.cpu) / ticks)
	}
	return s
}

// fleetWorst keeps the fastest first pass of the phases and the highest
// of everything they count, so that no repetition's request is hidden by
// another's.
func fleetWorst(phases []fleetPhase) fleetSummary {
	out := phases[0].summary()
	for _, ph := range phases[1:] {
		p := ph.summary()
		out.firstPass = min(out.firstPass, p.firstPass)
		if p.requestsPerTick > out.requestsPerTick {
			out.requestsPerTick, out.requests = p.requestsPerTick, p.requests
		}
		out.gitPerTick, out.cpuPerTick = max(out.gitPerTick, p.gitPerTick), max(out.cpuPerTick, p.cpuPerTick)
		out.passes = min(out.passes, p.passes)
		out.renders, out.writes, out.failures = max(out.renders, p.renders), max(out.writes, p.writes), max(out.failures, p.failures)
		if p.watches > out.watches {
			out.watches, out.watched = p.watches, p.watched
		}
		out.heap, out.base = max(out.heap, p.heap), max(out.base, p.base)
	}
	return out
}

// reconcileUnits measures the 2,000 objects as 100 units and as one unit,
// fleetReps times each, then as 10 and 50 units, and returns the line.
func reconcileUnits(ctx context.Context, setup client.Client, other *cluster.Client, cfg *rest.Config, srv *gitServer, url string) (result, error) {
	var units, peer []fleetPhase
	for rep := range fleetReps {
		// Whoever goes first meets a control plane that has just deleted
		// fewer objects: each goes first every other time.
		order := []int{fleetUnits, 1}
		if rep%2 == 1 {
			order = []int{1, fleetUnits}
		}
		for _, n := range order {
			p, err := fleetRun(ctx, setup, other, cfg, srv, url, n, rep)
			if err != nil {
				return result{}, fmt.Errorf("%d units: %w", n, err)
			}
			if n == 1 {
				peer = append(peer, p)
			} else {
				units = append(units, p)
			}
		}
	}
	splits := map[int]fleetSummary{}
	for _, n := range fleetSplits {
		p, err := fleetRun(ctx, setup, other, cfg, srv, url, n, 0)
		if err != nil {
			return result{}, fmt.Errorf("%d units: %w", n, err)
		}
		splits[n] = p.summary()
	}

	u, pe := fleetWorst(units), fleetWorst(peer)
	extra := []string{
		"requests_per_tick=" + decimal(u.requestsPerTick),
		"git_requests_per_tick=" + decimal(u.gitPerTick),
		fmt.Sprintf("watches=%d peer_watches=%d", u.watches, pe.watches),
		fmt.Sprintf("heap_mib=%.1f peer_heap_mib=%.1f", mib(u.heap), mib(pe.heap)),
	}
	for _, n := range fleetSplits {
		s := splits[n]
		extra = append(extra, fmt.Sprintf("watches_at_%d=%d heap_mib_at_%d=%.1f requests_per_tick_at_%d=%s cpu_ms_per_tick_at_%d=%.0f first_pass_at_%d=%s",
			n, s.watches, n, mib(s.heap), n, decimal(s.requestsPerTick), n, ms(s.cpuPerTick), n, seconds(s.firstPass)))
	}
	extra = append(extra,
		fmt.Sprintf("heap_kib_per_unit=%.0f base_heap_mib=%.1f", (float64(u.heap)-float64(pe.heap))/1024/float64(fleetUnits-1), mib(u.base)),
		fmt.Sprintf("cpu_ms_per_tick=%.0f peer_cpu_ms_per_tick=%.0f", ms(u.cpuPerTick), ms(pe.cpuPerTick)),
		"peer_requests_per_tick="+decimal(pe.requestsPerTick)+" peer_git_requests_per_tick="+decimal(pe.gitPerTick),
		fmt.Sprintf("units=%d objects=%d", fleetUnits, fleetUnits*fleetPerUnit),
		fmt.Sprintf("steady_passes=%d steady_renders=%d steady_writes=%d steady_failures=%d", u.passes, u.renders, u.writes, u.failures),
		fmt.Sprintf("interval=%s coalesce=%s workers=%d reps=%d(fastest;counts_are_the_highest)", fleetInterval, fleetCoalesce, reconcile.DefaultLoopOptions().Workers, fleetReps),
	)
	if u.requests.Total() > 0 {
		extra = append(extra, fmt.Sprintf("requests_by_verb=%q", u.requests.String()))
	}
	logf("reconcile: watched by %d units: %s; by one unit: %s", fleetUnits, strings.Join(u.watched, ","), strings.Join(pe.watched, ","))
	return result{
		Name: fmt.Sprintf("reconcile-%d-units", fleetUnits), Converge: u.firstPass, PeerName: fmt.Sprintf("1-unit-%d", fleetUnits*fleetPerUnit), Peer: pe.firstPass,
		Requests: u.requests.Total(), Writes: int64(u.writes), Extra: extra,
	}, nil
}

// fleetRun runs one Loop over the 2,000 objects as n units (100 units of
// one unit directory each, 10 or 50 units of the split paths, or one unit
// of fleet/all) in a namespace of its own, on a Reconciler and a client of
// its own: the first pass until every unit is Ready, one more pass per
// unit for the cache to settle, then a window of fleetWindowPasses passes
// per unit whose API and Git requests are counted; then, with the Loop
// stopped and the Reconciler still open, the heap after GC. The objects
// are deleted before it returns.
func fleetRun(ctx context.Context, setup client.Client, other *cluster.Client, cfg *rest.Config, srv *gitServer, url string, n, rep int) (fleetPhase, error) {
	p := fleetPhase{units: n}
	ns := fmt.Sprintf("bench-reconcile-units-%d-r%d", n, rep)
	if err := createNamespace(ctx, setup, ns); err != nil {
		return p, err
	}
	defer func() {
		if err := emptyNamespace(ctx, other, ns, fleetKinds); err != nil {
			logf("reconcile: empty %s: %v", ns, err)
		}
	}()
	units := make([]reconcile.Unit, n)
	for i := range units {
		path := fleetPath(i)
		switch n {
		case 1:
			path = fleetAllPath
		case fleetUnits:
		default:
			path = fleetSplitPath(n, i)
		}
		units[i] = reconcile.Unit{
			Name: fmt.Sprintf("unit-%03d", i), Namespace: ns,
			Source:      reconcile.Source{URL: url},
			Path:        path,
			Destination: reconcile.Destination{Namespace: ns},
			Sync:        reconcile.Sync{Prune: true},
			Health:      reconcile.Health{Wait: true},
			Timeout:     3 * time.Minute,
		}
	}

	p.base = heapAfterGC()
	c, err := cluster.New(cfg)
	if err != nil {
		return p, err
	}
	r, err := reconcile.New(c)
	if err != nil {
		return p, err
	}
	defer r.Close()
	t := &fleetTracker{passes: map[string]int{}, ready: map[string]bool{}, wake: make(chan struct{}, 1)}
	opts := reconcile.DefaultLoopOptions()
	opts.Interval, opts.Coalesce = fleetInterval, fleetCoalesce
	opts.OnStatus = t.add
	loop := reconcile.NewLoop(r, opts)
	if err := loop.Set(units...); err != nil {
		return p, err
	}
	lctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- loop.Run(lctx) }()
	stopped := false
	stopLoop := func() {
		if stopped {
			return
		}
		stopped = true
		stop()
		if err := <-done; err != nil {
			logf("reconcile: Loop.Run: %v", err)
		}
	}
	defer stopLoop()

	if err := t.waitFor(ctx, 3*time.Minute, func() bool { return t.readyCount() == n }); err != nil {
		return p, fmt.Errorf("%d of %d units Ready after %s: %w (last failure: %v)", t.readyCount(), n, time.Since(start).Round(time.Second), err, t.lastErr())
	}
	p.firstPass = time.Since(start)
	t.mark()
	if err := t.waitFor(ctx, time.Minute, func() bool { return t.minPasses(n) >= 1 }); err != nil {
		return p, fmt.Errorf("settle: %w", err)
	}
	before, gitBefore, cpuBefore := c.Requests(), srv.requests.Load(), selfCPU()
	t.mark()
	windowStart := time.Now()
	if err := t.waitFor(ctx, time.Minute, func() bool { return t.minPasses(n) >= fleetWindowPasses }); err != nil {
		return p, fmt.Errorf("window: %w", err)
	}
	p.requests, p.git, p.window = c.Requests().Sub(before), srv.requests.Load()-gitBefore, time.Since(windowStart)
	p.cpu = selfCPU() - cpuBefore
	p.passes, p.renders, p.writes, p.failures = t.window()
	// The heap the Reconciler keeps: the Loop is stopped, so no pass is
	// under way, and the Reconciler (its cache, each unit's Applier,
	// render and status) is still open.
	stopLoop()
	p.heap = heapAfterGC()
	all := c.Requests()
	p.watches = all.Verb(cluster.VerbWatch)
	for k := range all {
		if k.Verb == cluster.VerbWatch {
			p.watched = append(p.watched, k.Resource)
		}
	}
	slices.Sort(p.watched)
	logf("reconcile: %d units: first pass %s, %d steady passes in %s: %d API and %d Git requests, %d watches, heap %.1f MiB (%.1f before)",
		n, seconds(p.firstPass), p.passes, p.window.Round(time.Millisecond), p.requests.Total(), p.git, p.watches, mib(p.heap), mib(p.base))
	return p, nil
}

// fleetTracker follows a Loop through its OnStatus.
type fleetTracker struct {
	mu    sync.Mutex
	ready map[string]bool
	last  error
	wake  chan struct{}

	// since is the mark: passes that started after it are counted, per
	// unit and in all.
	since                            time.Time
	passes                           map[string]int
	count, renders, writes, failures int
}

func (t *fleetTracker) add(s reconcile.Status) {
	t.mu.Lock()
	t.ready[s.Unit.Name] = s.Ready()
	if s.Err != nil {
		t.last = s.Err
	}
	if !t.since.IsZero() && s.Started.After(t.since) {
		t.passes[s.Unit.Name]++
		t.count++
		if s.Rendered {
			t.renders++
		}
		if s.Result != nil {
			t.writes += s.Result.Writes
		}
		if s.Err != nil || !s.Ready() {
			t.failures++
		}
	}
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// mark starts counting passes afresh from now.
func (t *fleetTracker) mark() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.since = time.Now()
	clear(t.passes)
	t.count, t.renders, t.writes, t.failures = 0, 0, 0, 0
}

func (t *fleetTracker) readyCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, ok := range t.ready {
		if ok {
			n++
		}
	}
	return n
}

// minPasses is the fewest passes any of n units ran since the mark.
func (t *fleetTracker) minPasses(n int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.passes) < n {
		return 0
	}
	least := -1
	for _, c := range t.passes {
		if least < 0 || c < least {
			least = c
		}
	}
	return least
}

func (t *fleetTracker) window() (passes, renders, writes, failures int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.count, t.renders, t.writes, t.failures
}

func (t *fleetTracker) lastErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// waitFor waits until cond holds, checking after every pass.
func (t *fleetTracker) waitFor(ctx context.Context, within time.Duration, cond func() bool) error {
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return errors.New("timed out")
		case <-t.wake:
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// decimal prints a count per tick: an integer as one, else two decimals.
func decimal(f float64) string {
	if f == float64(int64(f)) {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}
