package apply

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
)

// Apply applies set for the Applier's owner: hooks, stages, waves, health
// waits and prune, as the package documentation describes. It returns the
// per-object results, and an error when anything failed (the Result is
// still returned and says what did). An error before anything is written
// (a refused set, an unreadable inventory) returns no Result.
func (a *Applier) Apply(ctx context.Context, set *object.Set, opts Options) (*Result, error) {
	return a.run(ctx, set, opts, false)
}

// Plan says what Apply would do with set: what would be created,
// configured, left unchanged and pruned, with diffs. It writes nothing.
// Objects whose kind is defined by a CRD of the set that is not installed
// yet are reported as Created without a diff.
func (a *Applier) Plan(ctx context.Context, set *object.Set, opts Options) (*Result, error) {
	return a.run(ctx, set, opts, true)
}

// run is the state of one Apply or Plan call.
type run struct {
	a    *Applier
	opts Options
	dry  bool

	mu      sync.Mutex
	res     *Result
	written map[object.ID]string // resourceVersions written, for settle

	crdsWritten atomic.Bool // a CRD was created or changed by this call
}

func (a *Applier) run(ctx context.Context, set *object.Set, opts Options, dry bool) (*Result, error) {
	start := time.Now()
	opts = withDefaults(opts)
	p, err := a.prepare(ctx, set, opts)
	if err != nil {
		return nil, err
	}
	prev, err := a.inventory.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	r := &run{a: a, opts: opts, dry: dry, res: &Result{DryRun: dry}, written: map[object.ID]string{}}
	defer func() { r.res.Duration = time.Since(start) }()

	if !dry {
		// Record what is about to be applied before the first write, so
		// that a crash halfway leaves every object it created in the
		// inventory, where a later call can prune it.
		// The inventory's namespace may be one this set creates: then
		// the record waits for the end of the call.
		if err := a.inventory.Store(ctx, union(prev, p.ids)); err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("apply: %w", err)
		}
	}
	for _, it := range p.skipped {
		r.add(ObjectResult{ID: it.id, Action: Skipped, Reason: "a hook of a phase converge does not run"})
	}
	if len(p.hooks) > 0 && !opts.ForceHooks && !r.hasWork(ctx, p, prev) {
		for _, phase := range []Phase{PhasePreSync, PhaseSync, PhasePostSync, PhaseSyncFail} {
			r.skipAll(p.hooks[phase], phase, "nothing to sync: hooks run when the sync changes something (or with ForceHooks)")
		}
		p.hooks = nil
	}

	ok := r.sequence(ctx, p)
	if ok && opts.Wait && !dry {
		r.settle(ctx) // so the wait judges what was written, not what was there
		ok = r.waitHealthy(ctx, p.ids)
	}
	if ok {
		ok = r.hooks(ctx, PhasePostSync, p.hooks[PhasePostSync])
	}
	if !ok && !dry && ctx.Err() == nil {
		r.hooks(ctx, PhaseSyncFail, p.hooks[PhaseSyncFail])
	}

	keep := p.ids
	if ok {
		keep = append(keep, r.prune(ctx, prev, p)...)
	} else {
		r.res.PruneSkipped = "the apply failed; nothing is pruned after a failure"
		keep = union(prev, p.ids)
	}
	if !dry {
		r.settle(ctx)
		if err := ctx.Err(); err != nil {
			return r.res, fmt.Errorf("apply: %w", err)
		}
		if err := a.inventory.Store(ctx, keep); err != nil {
			return r.res, fmt.Errorf("apply: %w", err)
		}
	}
	sortResults(r.res, p)
	if err := ctx.Err(); err != nil {
		return r.res, fmt.Errorf("apply: %w", err)
	}
	return r.res, r.res.Err()
}

func withDefaults(o Options) Options {
	d := DefaultOptions()
	if o.PropagationPolicy == "" {
		o.PropagationPolicy = d.PropagationPolicy
	}
	if o.PruneTimeout <= 0 {
		o.PruneTimeout = d.PruneTimeout
	}
	if o.Concurrency <= 0 {
		o.Concurrency = d.Concurrency
	}
	if o.ReadinessTimeout <= 0 {
		o.ReadinessTimeout = d.ReadinessTimeout
	}
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = d.WaitTimeout
	}
	return o
}

// add records a result and reports it.
func (r *run) add(or ObjectResult) {
	r.mu.Lock()
	r.res.Objects = append(r.res.Objects, or)
	r.mu.Unlock()
	if r.opts.Progress != nil {
		r.opts.Progress(Event{Phase: or.Phase, ID: or.ID, Action: or.Action, Err: or.Err})
	}
}

func (r *run) wrote(id object.ID, resourceVersion string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Writes++
	if resourceVersion != "" {
		r.written[id] = resourceVersion
	} else {
		delete(r.written, id)
	}
}

func (r *run) skipAll(items []*item, phase Phase, reason string) {
	for _, it := range items {
		r.add(ObjectResult{ID: it.id, Phase: phase, Wave: it.s.wave, Action: Skipped, Reason: reason})
	}
}

// ready waits for the CRDs of the set to be Established and its
// Namespaces Active, then refreshes the client's view of the API.
func (r *run) ready(ctx context.Context, items []*item) bool {
	var ids []object.ID
	crds := false
	for _, it := range items {
		switch object.ClassOf(it.id.GroupKind()) {
		case object.ClassCustomResourceDefinition:
			crds = true
			ids = append(ids, it.id)
		case object.ClassNamespace:
			ids = append(ids, it.id)
		}
	}
	if len(ids) == 0 {
		return true
	}
	wo := health.DefaultWaitOptions()
	wo.Timeout = r.opts.ReadinessTimeout
	wo.FailFast = true
	_, err := health.Wait(ctx, r.a.cache.View(), health.CheckerFunc(health.Builtin), ids, wo)
	if crds && r.crdsWritten.Load() {
		// New kinds and versions: the mapper must see them now. An
		// unchanged CRD costs no refresh (the cache's CRD watch refreshes
		// on changes made by others).
		r.a.client.Invalidate()
	}
	if err != nil {
		r.res.WaitErr = fmt.Errorf("CRDs and Namespaces of the set are not ready: %w", err)
		return false
	}
	return true
}

// waitHealthy waits for the applied objects to be healthy.
func (r *run) waitHealthy(ctx context.Context, ids []object.ID) bool {
	wo := health.DefaultWaitOptions()
	wo.Timeout = r.opts.WaitTimeout
	if len(r.opts.Accept) > 0 {
		wo.Accept = r.opts.Accept
	}
	wo.Progress = r.opts.WaitProgress
	wo.Skip = r.opts.WaitSkip
	report, err := health.Wait(ctx, r.a.cache.View(), r.a.checker, ids, wo)
	r.res.Health = &report
	if err != nil {
		r.res.WaitErr = fmt.Errorf("not healthy: %w", err)
		return false
	}
	return true
}

// settle waits, briefly, until the cache has seen every write of this
// call, so that the next call compares against what was written rather
// than against the state before it (which would cost a needless write).
func (r *run) settle(ctx context.Context) {
	r.mu.Lock()
	pending := make(map[object.ID]string, len(r.written))
	for id, rv := range r.written {
		pending[id] = rv
	}
	r.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for len(pending) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		for id, rv := range pending {
			obj, found, err := r.a.cache.View().Get(ctx, id)
			if err != nil || (found && notOlder(obj.GetResourceVersion(), rv)) {
				delete(pending, id)
				r.mu.Lock()
				if r.written[id] == rv {
					delete(r.written, id)
				}
				r.mu.Unlock()
			}
		}
		if len(pending) > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// notOlder reports whether the resourceVersion seen is the one written or
// a later one. resourceVersions are opaque to clients; the API server's
// are etcd revisions, which grow, and that is all this wait relies on: if
// they did not parse, the wait would only last until its deadline.
func notOlder(seen, written string) bool {
	if seen == written {
		return true
	}
	s, err1 := strconv.ParseUint(seen, 10, 64)
	w, err2 := strconv.ParseUint(written, 10, 64)
	return err1 == nil && err2 == nil && s > w
}

// union returns the IDs of a and b, each once, a's first.
func union(a, b []object.ID) []object.ID {
	seen := make(map[object.ID]bool, len(a)+len(b))
	out := make([]object.ID, 0, len(a)+len(b))
	for _, ids := range [][]object.ID{a, b} {
		for _, id := range ids {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}
