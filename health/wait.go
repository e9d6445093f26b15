package health

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/object"
)

// View is what [Wait] needs from a live, watch-backed view of the cluster
// (the cluster package's cache satisfies it). The contract:
//
//   - Get returns the view's current copy of the object id names, or found
//     false when the view holds no such object. It reads the view's memory:
//     it must not send a request to the API server per call (a lazily
//     started watch for a new kind is fine). The caller does not modify the
//     returned object.
//   - Watch makes the view follow the objects ids name and calls notify
//     with an object's ID each time the view sees it added, updated or
//     deleted, until ctx is done; after ctx is done it makes no more calls.
//     Watch returns once the view is synced for every kind in ids (a Get
//     after it returns reflects the server no older than the call), or with
//     an error when a kind cannot be watched. notify may be called from
//     several goroutines, for IDs not in ids (they are ignored) and with
//     changes coalesced; it does not block.
//
// An informer-backed cache satisfies it with one watch per kind (and
// namespace), an event handler that calls notify with the object's ID, and
// a lister read for Get.
type View interface {
	Get(ctx context.Context, id object.ID) (obj *unstructured.Unstructured, found bool, err error)
	Watch(ctx context.Context, ids []object.ID, notify func(object.ID)) error
}

// WaitOptions are the per-call settings of [Wait].
type WaitOptions struct {
	// Timeout bounds the wait; zero leaves it to ctx.
	Timeout time.Duration
	// FailFast ends the wait as soon as one object is Degraded.
	FailFast bool
	// Accept lists the statuses that count as ready. Hosts that do not
	// want an object of unknown health to block add Unknown; Suspended
	// objects block unless it is added too.
	Accept []Status
	// Skip names objects the wait reports but does not wait for: they never
	// block it, never fail it fast, and are not watched (so a kind the view
	// cannot watch, a CRD not installed yet, does not fail the wait
	// either). Their results, read when the wait starts and when it ends,
	// are in [Report.Skipped]. The zero Skip waits for every object.
	Skip Skip
	// Progress, when set, is called after the first look at every object
	// and after each change of an object's result, from Wait's goroutine.
	Progress func(Progress)
}

// Skip picks objects by kind or by ID, for [WaitOptions.Skip]. An object
// matches when its kind is in Kinds or its ID is in Objects.
type Skip struct {
	Kinds   []schema.GroupKind
	Objects []object.ID
}

// Matches reports whether s picks id.
func (s Skip) Matches(id object.ID) bool {
	return slices.Contains(s.Kinds, id.GroupKind()) || slices.Contains(s.Objects, id)
}

// ParseSkip reads a Skip from the forms object IDs are written in, for
// flags: a kind ("Kind.group", "ServiceMonitor.monitoring.coreos.com") or
// one object ("Kind.group/namespace/name", "Kind.group/name" for a
// cluster-scoped one), as [object.ParseID] reads it.
func ParseSkip(specs ...string) (Skip, error) {
	var s Skip
	for _, spec := range specs {
		spec = strings.TrimSpace(spec)
		if !strings.Contains(spec, "/") {
			gk := schema.ParseGroupKind(spec)
			if gk.Kind == "" {
				return Skip{}, fmt.Errorf("health: skip %q: want Kind.group or Kind.group/[namespace/]name", spec)
			}
			s.Kinds = append(s.Kinds, gk)
			continue
		}
		id, err := object.ParseID(spec)
		if err != nil {
			return Skip{}, fmt.Errorf("health: skip: %w", err)
		}
		s.Objects = append(s.Objects, id)
	}
	return s, nil
}

// DefaultWaitOptions returns options that accept only Healthy, wait for
// 5 minutes and do not fail fast.
func DefaultWaitOptions() WaitOptions {
	return WaitOptions{Timeout: 5 * time.Minute, Accept: []Status{Healthy}}
}

// Progress reports a step of a [Wait]. Skipped objects ([WaitOptions.Skip])
// are not part of it.
type Progress struct {
	// Changed holds the objects whose result changed, sorted by [Sort].
	Changed []ObjectResult
	// Ready counts the objects whose status is accepted; Total all.
	Ready, Total int
	// Waiting holds the first [WaitingShown] objects still waited for, in
	// the order of [Sort] (worst first), with their current results, so
	// that a long wait can say what it waits for; the others number
	// Total - Ready - len(Waiting).
	Waiting []ObjectResult
}

// WaitingShown bounds [Progress.Waiting], so that a report on a set of
// thousands stays a line long.
const WaitingShown = 5

// String says how far the wait is and what it waits for:
//
//	2/4 ready; waiting for Deployment.apps/shop/api (Progressing: LessReady: Ready: 1/3), Widget.example.com/shop/w (Unknown: NoStatus: ...)
//
// naming at most [WaitingShown] objects and counting the rest ("and 7
// more"); a long message is cut.
func (p Progress) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d ready", p.Ready, p.Total)
	if len(p.Waiting) == 0 {
		return b.String()
	}
	b.WriteString("; waiting for ")
	for i, r := range p.Waiting {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (%s)", r.ID, shorten(r.Result.String(), 120))
	}
	if more := p.Total - p.Ready - len(p.Waiting); more > 0 {
		fmt.Fprintf(&b, " and %d more", more)
	}
	return b.String()
}

// shorten cuts s to at most n runes, marking the cut.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// Report is the outcome of a [Wait]: the last result of every object
// waited for, worst first ([Sort]), and their roll-up; and, apart, the
// last results of the skipped objects ([WaitOptions.Skip]), which do not
// count in Status.
type Report struct {
	Results []ObjectResult
	Status  Status
	Skipped []ObjectResult
}

// ErrDegraded: a fail-fast wait saw a Degraded object.
var ErrDegraded = errors.New("object degraded")

// ErrNotReady: the wait ended (deadline or cancel) before every object was
// ready.
var ErrNotReady = errors.New("objects not ready")

// WaitError is a wait that did not end with every object ready. It matches
// [ErrDegraded] or [ErrNotReady], and the context's error when the context
// ended the wait.
type WaitError struct {
	Err      error // ErrDegraded or ErrNotReady
	Cause    error // the context's error, if any
	NotReady []ObjectResult
}

func (e *WaitError) Error() string {
	msg := fmt.Sprintf("health: wait: %v", e.Err)
	if len(e.NotReady) > 0 {
		msg += fmt.Sprintf(": %s is %s", e.NotReady[0].ID, e.NotReady[0].Result)
		if n := len(e.NotReady) - 1; n > 0 {
			msg += fmt.Sprintf(" (and %d more)", n)
		}
	}
	if e.Cause != nil {
		msg += fmt.Sprintf(": %v", e.Cause)
	}
	return msg
}

// Unwrap returns the sentinel and the cause.
func (e *WaitError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

// Wait waits until every object ids names has an accepted status (Healthy
// by default), re-checking an object only when view says it changed. It
// returns the per-object results in every case; the error is a
// [*WaitError] when the wait failed fast or ran out of time, or the view's
// error when it cannot watch. A checker that is a [ContextChecker] is
// called with ctx.
func Wait(ctx context.Context, view View, checker Checker, ids []object.ID, opts WaitOptions) (Report, error) {
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	accept := opts.Accept
	if len(accept) == 0 {
		accept = []Status{Healthy}
	}
	ids = slices.Clone(ids)
	slices.SortFunc(ids, object.Compare)
	ids = slices.Compact(ids)
	var skipped []object.ID
	ids = slices.DeleteFunc(ids, func(id object.ID) bool {
		if opts.Skip.Matches(id) {
			skipped = append(skipped, id)
			return true
		}
		return false
	})
	want := make(map[object.ID]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}

	w := &waiter{view: view, checker: checker, want: want, wake: make(chan struct{}, 1), dirty: map[object.ID]bool{}}
	watchCtx, stop := context.WithCancel(ctx)
	defer stop()

	skippedResults := make(map[object.ID]Result, len(skipped))
	lookAtSkipped := func() {
		if ctx.Err() != nil {
			return // the last look stands; a done context would only add errors
		}
		for _, id := range skipped {
			skippedResults[id] = w.check(ctx, id)
		}
	}
	lookAtSkipped()
	results := make(map[object.ID]Result, len(ids))
	changed := make([]ObjectResult, 0, len(ids))
	for _, id := range ids {
		r := w.check(ctx, id)
		results[id] = r
		changed = append(changed, ObjectResult{ID: id, Result: r})
	}
	end := func(err error) (Report, error) {
		lookAtSkipped()
		rep := report(results)
		if len(skipped) > 0 {
			rep.Skipped = report(skippedResults).Results
		}
		if err != nil {
			var we *WaitError
			if errors.As(err, &we) {
				we.NotReady = notReady(rep, accept)
			}
		}
		return rep, err
	}
	// The watch starts only when the first look finds something to wait
	// for: starting one replays every object of its kinds to it, which an
	// in-sync pass of many units must not pay for.
	watching := false
	for {
		ready := 0
		degraded := false
		for _, r := range results {
			if slices.Contains(accept, r.Status) {
				ready++
			}
			degraded = degraded || r.Status == Degraded
		}
		if opts.Progress != nil && len(changed) > 0 {
			Sort(changed)
			opts.Progress(Progress{Changed: changed, Ready: ready, Total: len(ids), Waiting: waiting(results, accept, WaitingShown)})
		}
		changed = changed[:0]
		if ready == len(ids) {
			return end(nil)
		}
		if opts.FailFast && degraded {
			return end(&WaitError{Err: ErrDegraded})
		}
		if !watching {
			watching = true
			if err := view.Watch(watchCtx, ids, w.notify); err != nil {
				return Report{}, fmt.Errorf("health: wait: watch: %w", err)
			}
			w.takeDirty()
			// Look again: what changed between the first look and the
			// watch's start is in no notification.
			for _, id := range ids {
				if r := w.check(ctx, id); r != results[id] {
					results[id] = r
					changed = append(changed, ObjectResult{ID: id, Result: r})
				}
			}
			continue
		}
		select {
		case <-ctx.Done():
			return end(&WaitError{Err: ErrNotReady, Cause: ctx.Err()})
		case <-w.wake:
		}
		for _, id := range w.takeDirty() {
			r := w.check(ctx, id)
			if r != results[id] {
				results[id] = r
				changed = append(changed, ObjectResult{ID: id, Result: r})
			}
		}
	}
}

// waiting returns the first n results, in the order of Sort, whose status
// is not accepted, without sorting them all: a progress report on a set of
// thousands must not cost a sort per change.
func waiting(results map[object.ID]Result, accept []Status, n int) []ObjectResult {
	var out []ObjectResult
	for id, r := range results {
		if slices.Contains(accept, r.Status) {
			continue
		}
		or := ObjectResult{ID: id, Result: r}
		i := len(out)
		for i > 0 && before(or, out[i-1]) {
			i--
		}
		if i >= n {
			continue
		}
		out = slices.Insert(out, i, or)
		if len(out) > n {
			out = out[:n]
		}
	}
	return out
}

// before reports whether a sorts before b in the order of Sort.
func before(a, b ObjectResult) bool {
	if a.Status.rank() != b.Status.rank() {
		return a.Status.rank() > b.Status.rank()
	}
	return object.Compare(a.ID, b.ID) < 0
}

type waiter struct {
	view    View
	checker Checker
	want    map[object.ID]bool
	wake    chan struct{}

	mu    sync.Mutex
	dirty map[object.ID]bool
}

func (w *waiter) notify(id object.ID) {
	if !w.want[id] {
		return
	}
	w.mu.Lock()
	w.dirty[id] = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *waiter) takeDirty() []object.ID {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]object.ID, 0, len(w.dirty))
	for id := range w.dirty {
		out = append(out, id)
	}
	clear(w.dirty)
	return out
}

func (w *waiter) check(ctx context.Context, id object.ID) Result {
	obj, found, err := w.view.Get(ctx, id)
	switch {
	case err != nil:
		return Result{Status: Unknown, Reason: "ViewError", Message: err.Error()}
	case !found || obj == nil:
		return Result{Status: Missing, Reason: "NotFound", Message: "object does not exist"}
	}
	if cc, ok := w.checker.(ContextChecker); ok {
		return cc.CheckContext(ctx, obj)
	}
	return w.checker.Check(obj)
}

func report(results map[object.ID]Result) Report {
	out := make([]ObjectResult, 0, len(results))
	for id, r := range results {
		out = append(out, ObjectResult{ID: id, Result: r})
	}
	Sort(out)
	return Report{Results: out, Status: Worst(out)}
}

func notReady(rep Report, accept []Status) []ObjectResult {
	var out []ObjectResult
	for _, r := range rep.Results {
		if !slices.Contains(accept, r.Status) {
			out = append(out, r)
		}
	}
	return out
}
