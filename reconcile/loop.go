package reconcile

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/converge-dev/converge/object"
)

// LoopOptions configure a Loop. Start from DefaultLoopOptions.
type LoopOptions struct {
	// Interval is the time between passes of units that set none.
	Interval time.Duration
	// Jitter spreads passes by up to this fraction of the interval either
	// way, so that units added together do not reconcile together.
	Jitter float64
	// Workers bounds the passes that run at once.
	Workers int
	// Retry is the retry policy of units that set none.
	Retry Retry
	// DependencyRetry is how soon a unit waiting for a dependency is
	// tried again (it is also tried as soon as the dependency is Ready).
	DependencyRetry time.Duration
	// SelfHealDelay gathers the changes the watch cache reports for a
	// unit with SelfHeal into one pass after this long.
	SelfHealDelay time.Duration
	// Coalesce lets units that share a source share a fetch made up to
	// this long before, so that a repository behind many units costs one
	// reference listing per interval, not one per unit. Triggers bypass it.
	Coalesce time.Duration
	// OnStatus, when set, is called after each pass with its status, from
	// the worker that ran it.
	OnStatus func(Status)
}

// DefaultLoopOptions: every 5 minutes ±10 %, 4 workers, retries after
// 10 s doubling up to 5 minutes, dependencies checked every 30 s, self-heal
// after 1 s of quiet, fetches shared for 10 s.
func DefaultLoopOptions() LoopOptions {
	return LoopOptions{
		Interval:        5 * time.Minute,
		Jitter:          0.1,
		Workers:         4,
		Retry:           Retry{Backoff: 10 * time.Second, Factor: 2, MaxBackoff: 5 * time.Minute},
		DependencyRetry: 30 * time.Second,
		SelfHealDelay:   time.Second,
		Coalesce:        10 * time.Second,
	}
}

// Loop reconciles a set of units continuously: each at its interval, a
// failed one again after a backoff, a triggered one at once, one with
// SelfHeal as soon as the watch cache sees its objects change, and a
// dependent unit as soon as what it depends on is Ready. Run drives it.
type Loop struct {
	r    *Reconciler
	opts LoopOptions

	mu      sync.Mutex
	units   map[Ref]*loopUnit
	watched map[watchKey]func() // event handlers on the shared caches
	wake    chan struct{}
	running bool
}

type loopUnit struct {
	unit    Unit
	next    time.Time // zero: not scheduled (retries exhausted)
	running bool
	again   bool // triggered while running
	ready   bool
}

type watchKey struct {
	entry *clusterEntry
	gk    schema.GroupKind
}

// NewLoop returns a Loop over r.
func NewLoop(r *Reconciler, opts LoopOptions) *Loop {
	d := DefaultLoopOptions()
	if opts.Interval <= 0 {
		opts.Interval = d.Interval
	}
	if opts.Jitter < 0 || opts.Jitter >= 1 {
		opts.Jitter = d.Jitter
	}
	if opts.Workers <= 0 {
		opts.Workers = d.Workers
	}
	if opts.Retry == (Retry{}) {
		opts.Retry = d.Retry
	}
	if opts.DependencyRetry <= 0 {
		opts.DependencyRetry = d.DependencyRetry
	}
	if opts.SelfHealDelay <= 0 {
		opts.SelfHealDelay = d.SelfHealDelay
	}
	return &Loop{r: r, opts: opts, units: map[Ref]*loopUnit{}, watched: map[watchKey]func(){}, wake: make(chan struct{}, 1)}
}

// Set adds units, or replaces those with the same reference; a unit whose
// definition changed is reconciled at once. It refuses, naming them,
// invalid units and dependsOn cycles among all the Loop's units, and then
// changes nothing.
func (l *Loop) Set(units ...Unit) error {
	for i := range units {
		if err := units[i].Validate(); err != nil {
			return err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	all := map[Ref]*Unit{}
	for ref, lu := range l.units {
		all[ref] = &lu.unit
	}
	for i := range units {
		all[units[i].Ref()] = &units[i]
	}
	if err := dependencyCycle(all); err != nil {
		return err
	}
	now := time.Now()
	for _, u := range units {
		lu := l.units[u.Ref()]
		switch {
		case lu == nil:
			l.units[u.Ref()] = &loopUnit{unit: u, next: now}
		case !sameUnit(lu.unit, u):
			lu.unit, lu.next = u, now
			if lu.running {
				lu.again = true
			}
		}
	}
	l.signal()
	return nil
}

// Remove stops reconciling a unit and forgets it. Its objects stay in the
// cluster: Reconciler.Delete removes them.
func (l *Loop) Remove(ref Ref) {
	l.mu.Lock()
	delete(l.units, ref)
	l.mu.Unlock()
	l.r.Forget(ref)
}

// Trigger reconciles a unit as soon as a worker is free, asking its source
// again even if it was fetched a moment ago (a webhook said it changed).
// It reports whether the Loop has the unit.
func (l *Loop) Trigger(ref Ref) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lu := l.units[ref]
	if lu == nil {
		return false
	}
	l.triggerLocked(lu, time.Now(), true)
	return true
}

// TriggerSource triggers every unit whose source is url (as a push
// webhook names the repository) and returns how many it triggered. URLs
// compare by SourceIdentity, so any spelling of the repository works.
func (l *Loop) TriggerSource(url string) int {
	id := SourceIdentity(url)
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, lu := range l.units {
		if SourceIdentity(lu.unit.Source.URL+lu.unit.Source.Dir) == id {
			l.triggerLocked(lu, time.Now(), true)
			n++
		}
	}
	return n
}

func (l *Loop) triggerLocked(lu *loopUnit, at time.Time, expire bool) {
	if expire {
		if e, ok := l.r.fetcher.(Expirer); ok {
			e.Expire(&lu.unit)
		}
	}
	if lu.running {
		lu.again = true
		return
	}
	if lu.next.IsZero() || at.Before(lu.next) {
		lu.next = at
	}
	l.signal()
}

func (l *Loop) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Units returns the references of the Loop's units, sorted.
func (l *Loop) Units() []Ref {
	l.mu.Lock()
	defer l.mu.Unlock()
	refs := make([]Ref, 0, len(l.units))
	for ref := range l.units {
		refs = append(refs, ref)
	}
	slices.SortFunc(refs, func(a, b Ref) int { return strings.Compare(a.String(), b.String()) })
	return refs
}

// Run reconciles until ctx is done, then waits for the passes under way
// (their contexts are cancelled) and returns. A Loop runs once.
func (l *Loop) Run(ctx context.Context) error {
	l.mu.Lock()
	if l.running {
		l.mu.Unlock()
		return errors.New("reconcile: the Loop is already running")
	}
	l.running = true
	l.mu.Unlock()
	defer l.unwatchAll()

	work := make(chan *loopUnit)
	var wg sync.WaitGroup
	for range l.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lu := range work {
				l.runOne(ctx, lu)
			}
		}()
	}
	defer func() {
		close(work)
		wg.Wait()
	}()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		due, wait := l.due(time.Now())
		for _, lu := range due {
			select {
			case work <- lu:
			case <-ctx.Done():
				l.release(due)
				return nil
			}
		}
		if len(due) > 0 {
			continue
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-l.wake:
		case <-timer.C:
		}
	}
}

// due marks and returns units whose time has come (at most one per free
// worker's worth), and how long until the next one.
func (l *Loop) due(now time.Time) ([]*loopUnit, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*loopUnit
	wait := time.Hour
	for _, lu := range l.units {
		switch {
		case lu.running || lu.next.IsZero():
		case !lu.next.After(now):
			lu.running = true
			out = append(out, lu)
		default:
			wait = min(wait, lu.next.Sub(now))
		}
	}
	slices.SortFunc(out, func(a, b *loopUnit) int { return a.next.Compare(b.next) })
	return out, max(wait, time.Millisecond)
}

// release puts back units taken by due but not handed to a worker.
func (l *Loop) release(units []*loopUnit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, lu := range units {
		lu.running = false
	}
}

func (l *Loop) runOne(ctx context.Context, lu *loopUnit) {
	l.mu.Lock()
	u := lu.unit
	l.mu.Unlock()
	if ctx.Err() != nil {
		l.release([]*loopUnit{lu})
		return
	}
	s, err := l.r.Reconcile(withCoalesce(ctx, l.opts.Coalesce), u) // a suspended unit: reported, nothing done
	if u.Sync.SelfHeal && err == nil {
		l.watch(ctx, u.Ref(), s.Inventory)
	}
	now := time.Now()
	l.mu.Lock()
	current := l.units[u.Ref()]
	becameReady := false
	if current == lu {
		lu.running = false
		wasReady := lu.ready
		lu.ready = s.Ready()
		becameReady = lu.ready && !wasReady
		switch {
		case lu.again || !sameUnit(lu.unit, u):
			lu.next, lu.again = now, false
		default:
			lu.next = l.nextPass(&u, &s, err, now)
		}
	}
	if becameReady {
		for _, other := range l.units {
			if other != lu && dependsOn(&other.unit, u.Ref()) {
				l.triggerLocked(other, now, false)
			}
		}
	}
	l.signal()
	l.mu.Unlock()
	if l.opts.OnStatus != nil && ctx.Err() == nil {
		l.opts.OnStatus(s)
	}
}

// nextPass says when a unit runs again after a pass.
func (l *Loop) nextPass(u *Unit, s *Status, err error, now time.Time) time.Time {
	interval := u.Interval
	if interval <= 0 {
		interval = l.opts.Interval
	}
	switch {
	case errors.Is(err, ErrDependencyNotReady):
		return now.Add(min(l.opts.DependencyRetry, interval))
	case failure(err):
		retry := u.Retry
		if retry == (Retry{}) {
			retry = l.opts.Retry
		}
		if retry.Limit > 0 && s.Failures > retry.Limit {
			return time.Time{} // until the unit changes or is triggered
		}
		return now.Add(backoff(retry, s.Failures, interval))
	}
	j := 1 + l.opts.Jitter*(2*rand.Float64()-1)
	next := now.Add(time.Duration(float64(interval) * j))
	for _, ro := range s.Rollouts {
		if !ro.Next.IsZero() && ro.Next.Before(next) {
			next = ro.Next
			if soonest := now.Add(time.Second); next.Before(soonest) {
				next = soonest // a rollout's clock, not a busy loop
			}
		}
	}
	return next
}

// backoff is the wait before the n-th retry.
func backoff(r Retry, n int, interval time.Duration) time.Duration {
	base := r.Backoff
	if base <= 0 {
		base = interval
	}
	factor := r.Factor
	if factor < 1 {
		factor = 1
	}
	d := float64(base) * math.Pow(factor, float64(max(n-1, 0)))
	if r.MaxBackoff > 0 && d > float64(r.MaxBackoff) {
		d = float64(r.MaxBackoff)
	}
	if d > float64(24*time.Hour) {
		d = float64(24 * time.Hour)
	}
	return time.Duration(d)
}

func dependsOn(u *Unit, ref Ref) bool {
	for _, d := range u.DependsOn {
		if d.Namespace == "" {
			d.Namespace = u.Namespace
		}
		if d == ref {
			return true
		}
	}
	return false
}

// dependencyCycle finds a cycle in the dependsOn graph and names it:
// "dependsOn cycle: a → b → a".
func dependencyCycle(units map[Ref]*Unit) error {
	const (
		unseen = iota
		visiting
		done
	)
	state := map[Ref]int{}
	var path []Ref
	var visit func(Ref) error
	visit = func(ref Ref) error {
		switch state[ref] {
		case done:
			return nil
		case visiting:
			i := slices.Index(path, ref)
			names := make([]string, 0, len(path)-i+1)
			for _, p := range path[i:] {
				names = append(names, p.String())
			}
			return fmt.Errorf("%w: dependsOn cycle: %s → %s", ErrInvalidUnit, strings.Join(names, " → "), ref)
		}
		state[ref] = visiting
		path = append(path, ref)
		if u := units[ref]; u != nil {
			for _, d := range u.DependsOn {
				if d.Namespace == "" {
					d.Namespace = u.Namespace
				}
				if err := visit(d); err != nil {
					return err
				}
			}
		}
		path = path[:len(path)-1]
		state[ref] = done
		return nil
	}
	refs := make([]Ref, 0, len(units))
	for ref := range units {
		refs = append(refs, ref)
	}
	slices.SortFunc(refs, func(a, b Ref) int { return strings.Compare(a.String(), b.String()) })
	for _, ref := range refs {
		if err := visit(ref); err != nil {
			return err
		}
	}
	return nil
}

// watch makes changes to a self-healing unit's objects trigger it: one
// event handler per kind and cluster, shared by all the Loop's units,
// dispatching by the objects' owner marks.
func (l *Loop) watch(ctx context.Context, ref Ref, ids []object.ID) {
	l.r.mu.Lock()
	st := l.r.units[ref]
	l.r.mu.Unlock()
	if st == nil {
		return
	}
	entry := st.cluster()
	if entry == nil {
		return
	}
	kinds := map[schema.GroupKind]bool{}
	for _, id := range ids {
		kinds[id.GroupKind()] = true
	}
	for gk := range kinds {
		key := watchKey{entry: entry, gk: gk}
		l.mu.Lock()
		_, ok := l.watched[key]
		l.mu.Unlock()
		if ok {
			continue
		}
		remove, err := entry.cache.AddEventHandler(ctx, schema.GroupVersionKind{Group: gk.Group, Kind: gk.Kind}, "", l.handler())
		if err != nil {
			l.r.log.V(1).Info("self-heal: cannot watch", "kind", gk.String(), "error", err.Error())
			continue
		}
		l.mu.Lock()
		if _, ok := l.watched[key]; ok {
			l.mu.Unlock()
			remove()
			continue
		}
		l.watched[key] = remove
		l.mu.Unlock()
	}
}

func (l *Loop) unwatchAll() {
	l.mu.Lock()
	watched := l.watched
	l.watched = map[watchKey]func(){}
	l.mu.Unlock()
	for _, remove := range watched {
		remove()
	}
}

// handler triggers the self-healing units an event's object belongs to.
// A change of status alone (same generation, same metadata) is not drift.
func (l *Loop) handler() toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerDetailedFuncs{
		UpdateFunc: func(oldObj, newObj any) {
			o, ok1 := oldObj.(*unstructured.Unstructured)
			n, ok2 := newObj.(*unstructured.Unstructured)
			if !ok1 || !ok2 || o.GetResourceVersion() == n.GetResourceVersion() {
				return
			}
			if n.GetGeneration() != 0 && n.GetGeneration() == o.GetGeneration() &&
				sameStrings(o.GetLabels(), n.GetLabels()) && sameStrings(o.GetAnnotations(), n.GetAnnotations()) {
				return
			}
			l.drifted(n)
		},
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if u, ok := obj.(*unstructured.Unstructured); ok {
				l.drifted(u)
			}
		},
	}
}

func (l *Loop) drifted(obj *unstructured.Unstructured) {
	labels := obj.GetLabels()
	owners := []Ref{{Name: labels[object.LabelOwner], Namespace: labels[object.LabelOwnerNamespace]}}
	for _, k := range strings.Split(obj.GetAnnotations()[object.AnnotationCoOwners], ",") {
		if ns, name, ok := strings.Cut(strings.TrimSpace(k), "/"); ok {
			owners = append(owners, Ref{Name: name, Namespace: ns})
		} else if k != "" {
			owners = append(owners, Ref{Name: strings.TrimSpace(k)})
		}
	}
	at := time.Now().Add(l.opts.SelfHealDelay)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ref := range owners {
		if lu := l.units[ref]; lu != nil && lu.unit.Sync.SelfHeal && !lu.unit.Suspend && !lu.running {
			l.triggerLocked(lu, at, false)
		}
	}
}

func sameStrings(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// sameUnit compares two definitions.
func sameUnit(a, b Unit) bool {
	ka, err1 := unitKey(&a)
	kb, err2 := unitKey(&b)
	return err1 == nil && err2 == nil && ka == kb
}
