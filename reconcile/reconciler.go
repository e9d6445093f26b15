package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/rollout"
	"github.com/converge-dev/converge/secrets/sops"
)

// Reconciler runs passes over units: fetch, render, substitute, plan,
// gate, apply, prune, health. It holds what passes share: one watch cache
// per cluster for every unit on it, each unit's Applier (and so its apply
// receipts) and its last render, so that a pass over an unchanged revision
// and an in-sync cluster costs no API request and no render. It is safe
// for concurrent use; passes of one unit run one at a time.
type Reconciler struct {
	fetcher  Fetcher
	renderer Renderer
	steps    []Step
	sops     *SOPSOptions
	// references are the stores of WithReferences.
	references *referenceOptions
	gate       Gate
	rollouts   *rollout.Engine
	clock      func() time.Time
	notifier   Notifier
	checker    health.Checker
	clusters   ClusterResolver
	log        logr.Logger
	timeout    time.Duration

	fetchOpts FetcherOptions
	overrides health.Overrides
	scheme    *runtime.Scheme // one for every unit's Differ
	progress  Progress

	home *clusterEntry

	mu      sync.Mutex
	entries map[string]*clusterEntry
	// gens numbers the entries made; forgotten counts ForgetCluster calls.
	gens, forgotten uint64
	units           map[Ref]*unitState
	closed          bool

	notifications chan Event
	notifyDone    chan struct{}
	notifyTimeout time.Duration
	notifyCtx     context.Context
	notifyCancel  context.CancelFunc
}

// ClusterResolver returns the client of a destination cluster other than
// the Reconciler's own (Unit.Destination.Cluster: an API server URL or a
// name). The Reconciler keeps the client it returns for that name, until
// the host calls [Reconciler.ForgetCluster] (the cluster's credentials
// changed).
type ClusterResolver interface {
	Cluster(ctx context.Context, name string) (*cluster.Client, error)
}

// ClusterResolverFunc adapts a function to a [ClusterResolver].
type ClusterResolverFunc func(ctx context.Context, name string) (*cluster.Client, error)

// Cluster calls f.
func (f ClusterResolverFunc) Cluster(ctx context.Context, name string) (*cluster.Client, error) {
	return f(ctx, name)
}

var _ ClusterResolver = ClusterResolverFunc(nil)

// Option configures New.
type Option func(*Reconciler)

// WithFetcher replaces the default fetcher (Git and directories, see
// NewFetcher).
func WithFetcher(f Fetcher) Option { return func(r *Reconciler) { r.fetcher = f } }

// WithFetcherOptions configures the default fetcher.
func WithFetcherOptions(o FetcherOptions) Option { return func(r *Reconciler) { r.fetchOpts = o } }

// WithRenderer replaces the default renderer (Kustomize, Helm or plain
// manifests by what the path holds, see NewRenderer).
func WithRenderer(rd Renderer) Option { return func(r *Reconciler) { r.renderer = rd } }

// WithSteps adds steps that run after each render, in order.
func WithSteps(s ...Step) Option { return func(r *Reconciler) { r.steps = append(r.steps, s...) } }

// WithGate sets the gate asked before a change is applied.
func WithGate(g Gate) Option { return func(r *Reconciler) { r.gate = g } }

// WithRollouts runs the units' Argo Rollouts Rollouts through e instead
// of applying them: each pass steps every Rollout of the rendered set by
// the live cluster's state and applies the Deployments, Services, routes
// and state it returns, so a new revision of a workload runs its canary
// or blue-green steps. Status.Rollouts reports each one, and the Loop
// runs the unit again when a rollout asks to be stepped (a pause ends, an
// analysis measurement is due). Without it, a Rollout is applied as it is,
// for the Argo Rollouts controller where its CRD is installed.
func WithRollouts(e *rollout.Engine) Option { return func(r *Reconciler) { r.rollouts = e } }

// WithRolloutClock sets the clock the rollouts are stepped by (time.Now
// by default): a simulation or a test moves through pauses and analysis
// intervals without waiting for them. The Loop still schedules passes by
// the real clock.
func WithRolloutClock(now func() time.Time) Option { return func(r *Reconciler) { r.clock = now } }

// WithNotifier sets who hears of failures, degradations and recoveries.
func WithNotifier(n Notifier) Option { return func(r *Reconciler) { r.notifier = n } }

// WithNotifyTimeout bounds each notification (10 seconds by default).
func WithNotifyTimeout(d time.Duration) Option { return func(r *Reconciler) { r.notifyTimeout = d } }

// WithHealthChecker sets the health checker; by default health's engine
// with the built-in rules, deciding custom resources from their live CRDs.
func WithHealthChecker(c health.Checker) Option { return func(r *Reconciler) { r.checker = c } }

// WithClusters resolves destination clusters other than the Reconciler's
// own. Without it a unit naming another cluster fails.
func WithClusters(c ClusterResolver) Option { return func(r *Reconciler) { r.clusters = c } }

// Progress receives what a pass does as it does it, for hosts that show
// it: each object as it is handled, and the health wait as it advances.
// Both are called from several goroutines and must not block.
type Progress struct {
	Object func(Ref, apply.Event)
	Health func(Ref, health.Progress)
}

// WithProgress sets what hears of a pass's progress.
func WithProgress(p Progress) Option { return func(r *Reconciler) { r.progress = p } }

// WithHealthOverrides fixes the health of kinds no controller reports on
// (health.ParseOverrides reads "ServiceMonitor.monitoring.coreos.com=Healthy");
// it applies to the default health checker.
func WithHealthOverrides(o health.Overrides) Option { return func(r *Reconciler) { r.overrides = o } }

// WithLogger sets the logger; logs are discarded by default.
func WithLogger(l logr.Logger) Option { return func(r *Reconciler) { r.log = l } }

// WithTimeout is the pass timeout of units that set none (5 minutes by
// default).
func WithTimeout(d time.Duration) Option { return func(r *Reconciler) { r.timeout = d } }

// New returns a Reconciler whose own cluster is c. Close it when done.
func New(c *cluster.Client, opts ...Option) (*Reconciler, error) {
	if c == nil {
		return nil, errors.New("reconcile: nil cluster client")
	}
	r := &Reconciler{
		log:           logr.Discard(),
		timeout:       5 * time.Minute,
		notifyTimeout: 10 * time.Second,
		entries:       map[string]*clusterEntry{},
		units:         map[Ref]*unitState{},
	}
	for _, o := range opts {
		o(r)
	}
	r.home = newClusterEntry(c)
	r.entries[""] = r.home
	s, err := diff.NewScheme()
	if err != nil {
		return nil, err
	}
	r.scheme = s
	if r.checker == nil {
		e, err := health.New(health.WithCRDs(r.home.cache.View()), health.WithOverrides(r.overrides))
		if err != nil {
			return nil, err
		}
		r.checker = e
	}
	if r.fetcher == nil {
		fo := r.fetchOpts
		if fo.Secrets == nil {
			fo.Secrets = r.home
		}
		if fo.Logger.GetSink() == nil {
			fo.Logger = r.log
		}
		r.fetcher = NewFetcher(fo)
	}
	if r.renderer == nil {
		r.renderer = NewRenderer()
	}
	if r.notifier != nil {
		r.notifications = make(chan Event, 256)
		r.notifyDone = make(chan struct{})
		r.notifyCtx, r.notifyCancel = context.WithCancel(context.Background())
		go r.deliver()
	}
	return r, nil
}

// Close stops every watch and Applier the Reconciler started, and the
// delivery of notifications: the queued ones get a few seconds, then any
// still under way is cancelled. It does not close the clients it was
// given.
func (r *Reconciler) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	units := r.units
	entries := r.entries
	r.mu.Unlock()
	for _, st := range units {
		st.mu.Lock()
		if st.applier != nil {
			st.applier.Close()
		}
		st.mu.Unlock()
	}
	for _, e := range entries {
		e.stop()
	}
	if r.notifications != nil {
		close(r.notifications)
		select {
		case <-r.notifyDone:
		case <-time.After(min(r.notifyTimeout, 5*time.Second)):
			r.notifyCancel()
			<-r.notifyDone
		}
		r.notifyCancel()
	}
}

// unitState is what the Reconciler keeps between passes of one unit.
type unitState struct {
	mu         sync.Mutex // one pass at a time
	applier    *apply.Applier
	applierKey string
	render     *lastRender
	// decryptor is the unit's SOPS decryptor, kept while its keys hash to
	// decryptorKey, so keys are parsed once, not every pass.
	decryptor    *sops.Decryptor
	decryptorKey string
	notified     struct{ failed, degraded bool }

	// seen is what other units and the host read while a pass runs: the
	// last status and the unit's cluster. It has a lock of its own, never
	// held across a pass, so that asking about a dependency does not wait
	// for the dependency's pass to end.
	seen struct {
		sync.Mutex
		last  *Status
		entry *clusterEntry
	}
}

func (st *unitState) lastStatus() *Status {
	st.seen.Lock()
	defer st.seen.Unlock()
	return st.seen.last
}

func (st *unitState) cluster() *clusterEntry {
	st.seen.Lock()
	defer st.seen.Unlock()
	return st.seen.entry
}

type lastRender struct {
	key string
	set *object.Set
	at  time.Time // when it was rendered, for RefreshingStep
}

func (r *Reconciler) unit(ref Ref) (*unitState, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("reconcile: the Reconciler is closed")
	}
	st := r.units[ref]
	if st == nil {
		st = &unitState{}
		r.units[ref] = st
	}
	return st, nil
}

// Status returns the last status of a unit, and whether there is one.
func (r *Reconciler) Status(ref Ref) (Status, bool) {
	r.mu.Lock()
	st := r.units[ref]
	r.mu.Unlock()
	if st == nil {
		return Status{}, false
	}
	last := st.lastStatus()
	if last == nil {
		return Status{}, false
	}
	return *last, true
}

// ObjectHealth returns the health of each object of a unit's inventory
// as of its last pass, read now from the watch cache of its cluster (no
// request once the kinds are watched): what a host shows as the unit's
// resource tree. ok is false when the unit has not run.
func (r *Reconciler) ObjectHealth(ctx context.Context, ref Ref) (results []health.ObjectResult, ok bool) {
	r.mu.Lock()
	st := r.units[ref]
	r.mu.Unlock()
	if st == nil {
		return nil, false
	}
	st.seen.Lock()
	last, entry := st.seen.last, st.seen.entry
	st.seen.Unlock()
	if last == nil || entry == nil {
		return nil, false
	}
	return r.objectHealth(ctx, entry, last.Inventory), true
}

// Forget drops what the Reconciler keeps of a unit (its Applier, last
// render and status), as when the unit is removed from the host. It
// deletes nothing in the cluster: Delete does.
func (r *Reconciler) Forget(ref Ref) {
	r.mu.Lock()
	st := r.units[ref]
	delete(r.units, ref)
	r.mu.Unlock()
	if st != nil {
		st.mu.Lock()
		if st.applier != nil {
			st.applier.Close()
		}
		st.mu.Unlock()
	}
}

// Reconcile runs one pass over u as its sync policy says: an automated
// unit is applied (and pruned), a manual one only planned. It returns the
// pass's Status, and an error when the pass failed; a failure keeps what
// was applied before and prunes nothing.
func (r *Reconciler) Reconcile(ctx context.Context, u Unit) (Status, error) {
	return r.run(ctx, u, passAuto)
}

// Sync runs one pass that applies u whatever its sync policy, as a manual
// sync does (`argocd app sync`): hooks run even when nothing changed
// (apply.Options.ForceHooks).
func (r *Reconciler) Sync(ctx context.Context, u Unit) (Status, error) {
	return r.run(ctx, u, passForce)
}

// Plan runs one pass that writes nothing: the Status's Result says what
// would be created, updated and pruned, with diffs.
func (r *Reconciler) Plan(ctx context.Context, u Unit) (Status, error) {
	return r.run(ctx, u, passPlan)
}

type passMode int

const (
	passAuto passMode = iota
	passForce
	passPlan
)

func (r *Reconciler) run(ctx context.Context, u Unit, mode passMode) (Status, error) {
	s := Status{Unit: u.Ref(), ObservedGeneration: u.Generation, Started: time.Now(), Sync: SyncUnknown, Health: health.Unknown}
	if err := u.Validate(); err != nil {
		s.Finished = time.Now()
		s.Err = err
		s.setCondition(nil, ConditionReady, "False", ReasonInvalid, oneLine(err))
		s.setCondition(nil, ConditionStalled, "True", ReasonInvalid, oneLine(err))
		return s, err
	}
	st, err := r.unit(u.Ref())
	if err != nil {
		return s, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	prev := st.lastStatus()
	if prev != nil {
		s.Revision, s.LastAppliedRevision = prev.Revision, prev.LastAppliedRevision
		s.Inventory, s.Health, s.Sync, s.Failures = prev.Inventory, prev.Health, prev.Sync, prev.Failures
		s.Conditions = append(s.Conditions, prev.Conditions...)
	}
	err = r.pass(ctx, &u, st, &s, mode)
	s.Finished = time.Now()
	s.Err = err
	r.conclude(&u, &s, prev, err, mode)
	if ctx.Err() != nil && err != nil {
		// Interrupted (the host is shutting down or gave up): the pass
		// says nothing about the unit, so the last status stands and no
		// one is told of a failure.
		return s, err
	}
	st.seen.Lock()
	st.seen.last = &s
	st.seen.Unlock()
	r.notify(st, &s, err)
	return s, err
}

func oneLine(err error) string {
	msg := err.Error()
	for i := 0; i < len(msg); i++ {
		if msg[i] == '\n' {
			return msg[:i] + " …"
		}
	}
	return msg
}

// Delete removes everything a unit applied, as `argocd app delete` or
// `flux delete kustomization` do: an empty set is applied with prune
// allowed, the inventory is removed last, and the Reconciler forgets the
// unit. The Namespace converge created on request goes too when
// withNamespace is set. The guards of every prune still hold: objects
// another unit shares, or that were applied from another source, are not
// deleted.
func (r *Reconciler) Delete(ctx context.Context, u Unit, withNamespace bool) (*apply.Result, error) {
	if err := u.Validate(); err != nil {
		return nil, err
	}
	st, err := r.unit(u.Ref())
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	entry, err := r.clusterFor(ctx, &u)
	var applier *apply.Applier
	if err == nil {
		applier, err = r.applierFor(entry, st, &u)
	}
	if err != nil {
		st.mu.Unlock()
		return nil, err
	}
	opts := applyOptions(&u, r.timeoutOf(&u))
	r.progressOf(u.Ref(), &opts)
	opts.Prune, opts.AllowEmptyPrune, opts.Wait = true, true, false
	opts.CreateNamespace = false
	opts.PruneCreatedNamespace = withNamespace
	res, err := applier.Apply(ctx, object.NewSet(), opts)
	if err == nil {
		err = applier.RemoveInventory(ctx)
	}
	st.mu.Unlock()
	if err != nil {
		return res, fmt.Errorf("delete %s: %w", u.Ref(), err)
	}
	r.Forget(u.Ref())
	return res, nil
}

func (r *Reconciler) timeoutOf(u *Unit) time.Duration {
	if u.Timeout > 0 {
		return u.Timeout
	}
	return r.timeout
}
