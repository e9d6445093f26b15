package operator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/source"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

// Phases of a pass, the values of converge_reconcile_duration_seconds'
// phase label.
const (
	// PhaseFetch: the source fetched (one reference listing when nothing
	// changed, more when something did).
	PhaseFetch = "fetch"
	// PhaseRender: a fresh render and its steps; a pass that reuses the
	// last render (same revision, same inputs) observes none.
	PhaseRender = "render"
	// PhaseApply: server-side apply and prune, or the plan of a manual
	// Application; with spec.wait, the wait for the objects' health too.
	PhaseApply = "apply"
	// PhaseHealth: the rest of a pass that got past apply, which is the
	// wait for spec.healthChecks and the health roll-up (read from the
	// watch cache).
	PhaseHealth = "health"
)

// Metrics are converge's Prometheus metrics of the Application
// controller, next to controller-runtime's own (reconcile counts and
// times, the work queue, the client's requests):
//
//	converge_reconcile_duration_seconds{phase}  histogram: fetch, render, apply, health
//	converge_applied_objects_total{action}      counter: created, configured, unchanged, recreated, pruned, skipped, kept, failed
//	converge_drift_objects_total                counter: objects found changed in the cluster, not in the source
//	converge_reconcile_api_requests             histogram: API requests the SDK sent during a pass
//	converge_applications{health}               gauge: Applications by status.health
//
// No metric has a label per Application: with hundreds of Applications a
// histogram per Application and phase is tens of thousands of series,
// and what one Application did is in its status and events.
//
// Objects deleted with an Application (see the finalizer) count as
// pruned; a plan (a manual Application) applies nothing and counts no
// object, but its differences count as drift. Drift is counted per
// pass: an object created, configured or recreated by a pass whose
// revision and spec generation are those last applied, so nothing in
// Git or the spec asked for the change. A manual Application, which
// does not correct drift, counts the same objects at every pass.
//
// API requests are counted by the SDK's cluster client for the whole
// process, so while passes overlap each request counts toward every
// pass it overlapped: the histogram is exact at concurrency 1 and an
// upper bound above it. A pass in the steady state sends none, whatever
// the concurrency. The operator's own requests (Applications, their
// status, events) are in controller-runtime's rest_client_requests_total.
//
// Several Metrics may share one registry (several managers in one
// process, as in tests): the second finds the first's collectors and
// adds to them; each counts the Applications it has seen in the health
// gauge, and [Metrics.Release] takes them out again.
//
// A nil *Metrics records nothing. Its methods are safe for concurrent
// use.
type Metrics struct {
	duration *prometheus.HistogramVec
	objects  *prometheus.CounterVec
	drift    prometheus.Counter
	requests prometheus.Histogram
	apps     *prometheus.GaugeVec

	// clusterRequests counts the SDK's API requests; nil when unknown.
	clusterRequests func() int64

	mu sync.Mutex
	// health is what each Application adds to apps.
	health map[types.NamespacedName]string
	// phases holds the fetch and render times of the passes under way,
	// which the fetcher and renderer report and the pass's end reads.
	phases map[reconcile.Ref]*passPhases
}

type passPhases struct{ fetch, render time.Duration }

// NewMetrics registers converge's metrics with reg (the operator's is
// controller-runtime's metrics.Registry, which the manager serves on
// /metrics) and returns them. c is the SDK's cluster client, whose
// request counts make converge_reconcile_api_requests; with a nil c
// that histogram stays empty. A collector of the same name but another
// shape already in reg is an error.
func NewMetrics(reg prometheus.Registerer, c *cluster.Client) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("metrics: nil registry")
	}
	m := &Metrics{health: map[types.NamespacedName]string{}, phases: map[reconcile.Ref]*passPhases{}}
	if c != nil {
		m.clusterRequests = func() int64 { return c.Requests().Total() }
	}
	var err error
	if m.duration, err = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "converge_reconcile_duration_seconds",
		Help:    "Time spent in each phase of a pass: fetch, render, apply, health.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
	}, []string{"phase"})); err != nil {
		return nil, err
	}
	if m.objects, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "converge_applied_objects_total",
		Help: "Objects handled by applies and deletions, by what was done to them.",
	}, []string{"action"})); err != nil {
		return nil, err
	}
	if m.drift, err = register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "converge_drift_objects_total",
		Help: "Objects a pass found changed in the cluster while the source revision and the spec were those last applied.",
	})); err != nil {
		return nil, err
	}
	if m.requests, err = register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "converge_reconcile_api_requests",
		Help:    "API requests the SDK's cluster client sent during a pass (an upper bound while passes overlap).",
		Buckets: []float64{0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000},
	})); err != nil {
		return nil, err
	}
	if m.apps, err = register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "converge_applications",
		Help: "Applications by the health in their status (Unknown before their first pass).",
	}, []string{"health"})); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector of the same shape reg
// already holds.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("metrics: %w", err)
}

// Release takes the Applications this Metrics counted out of the health
// gauge, as when its operator stops.
func (m *Metrics) Release() {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, h := range m.health {
		m.apps.WithLabelValues(h).Dec()
		delete(m.health, key)
	}
}

// setHealth counts the Application key under h in the health gauge.
func (m *Metrics) setHealth(key types.NamespacedName, h string) {
	if m == nil {
		return
	}
	if h == "" {
		h = string(health.Unknown)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.health[key]
	if ok && old == h {
		return
	}
	if ok {
		m.apps.WithLabelValues(old).Dec()
	}
	m.health[key] = h
	m.apps.WithLabelValues(h).Inc()
}

// forget takes a deleted Application out of the health gauge.
func (m *Metrics) forget(key types.NamespacedName) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.health[key]; ok {
		m.apps.WithLabelValues(old).Dec()
		delete(m.health, key)
	}
	delete(m.phases, reconcile.Ref{Namespace: key.Namespace, Name: key.Name})
}

// passMark is what startPass saw, for endPass.
type passMark struct {
	ref      reconcile.Ref
	requests int64
}

// startPass marks the start of a pass of ref.
func (m *Metrics) startPass(ref reconcile.Ref) passMark {
	if m == nil {
		return passMark{}
	}
	m.mu.Lock()
	delete(m.phases, ref)
	m.mu.Unlock()
	mark := passMark{ref: ref}
	if m.clusterRequests != nil {
		mark.requests = m.clusterRequests()
	}
	return mark
}

// phase records a phase of a pass under way: the fetcher and the
// renderer call it.
func (m *Metrics) phase(ref reconcile.Ref, phase string, d time.Duration) {
	if m == nil {
		return
	}
	m.duration.WithLabelValues(phase).Observe(d.Seconds())
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.phases[ref]
	if p == nil {
		p = &passPhases{}
		m.phases[ref] = p
	}
	switch phase {
	case PhaseFetch:
		p.fetch += d
	case PhaseRender:
		p.render += d
	}
}

// endPass records a finished pass s of app, whose status was before
// before the pass.
func (m *Metrics) endPass(mark passMark, app *v1alpha1.Application, before *v1alpha1.ApplicationStatus, s *reconcile.Status, passErr error) {
	if m == nil {
		return
	}
	m.mu.Lock()
	p := m.phases[mark.ref]
	delete(m.phases, mark.ref)
	m.mu.Unlock()
	if p == nil {
		p = &passPhases{}
	}
	if m.clusterRequests != nil {
		m.requests.Observe(float64(max(m.clusterRequests()-mark.requests, 0)))
	}
	if s.Result == nil {
		return // ended before apply: suspended, waiting, or failed earlier
	}
	m.duration.WithLabelValues(PhaseApply).Observe(s.Result.Duration.Seconds())
	var stage *reconcile.StageError
	if passErr == nil || (errors.As(passErr, &stage) && stage.Stage == reconcile.StageHealth) {
		rest := s.Finished.Sub(s.Started) - p.fetch - p.render - s.Result.Duration
		m.duration.WithLabelValues(PhaseHealth).Observe(max(rest, 0).Seconds())
	}
	if !s.Result.DryRun {
		m.count(s.Result)
	}
	if s.Revision != "" && s.Revision == before.LastAppliedRevision && before.ObservedGeneration == app.Generation {
		if n := s.Result.Count(apply.Created) + s.Result.Count(apply.Configured) + s.Result.Count(apply.Recreated); n > 0 {
			m.drift.Add(float64(n))
		}
	}
}

// deleted records the objects an Application's deletion handled.
func (m *Metrics) deleted(res *apply.Result) {
	if m == nil || res == nil {
		return
	}
	m.count(res)
}

func (m *Metrics) count(res *apply.Result) {
	for _, a := range []apply.Action{apply.Created, apply.Configured, apply.Unchanged, apply.Recreated, apply.Pruned, apply.Skipped, apply.Kept, apply.Failed} {
		if n := res.Count(a); n > 0 {
			m.objects.WithLabelValues(strings.ToLower(string(a))).Add(float64(n))
		}
	}
}

// timedFetcher times each fetch for the fetch phase, and passes Expire
// on to the fetcher it wraps (a push event asks for it).
type timedFetcher struct {
	next    reconcile.Fetcher
	metrics *Metrics
}

var (
	_ reconcile.Fetcher  = timedFetcher{}
	_ reconcile.Expirer  = timedFetcher{}
	_ reconcile.Renderer = timedRenderer{}
)

func (f timedFetcher) Fetch(ctx context.Context, u *reconcile.Unit) (*source.Snapshot, error) {
	start := time.Now()
	snap, err := f.next.Fetch(ctx, u)
	f.metrics.phase(u.Ref(), PhaseFetch, time.Since(start))
	return snap, err
}

func (f timedFetcher) Expire(u *reconcile.Unit) {
	if e, ok := f.next.(reconcile.Expirer); ok {
		e.Expire(u)
	}
}

// timedRenderer times each fresh render for the render phase.
type timedRenderer struct {
	next    reconcile.Renderer
	metrics *Metrics
}

func (r timedRenderer) Render(ctx context.Context, u *reconcile.Unit, snap *source.Snapshot) (*object.Set, error) {
	start := time.Now()
	set, err := r.next.Render(ctx, u, snap)
	r.metrics.phase(u.Ref(), PhaseRender, time.Since(start))
	return set, err
}
