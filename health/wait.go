package health

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

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
	// Progress, when set, is called after the first look at every object
	// and after each change of an object's result, from Wait's goroutine.
	Progress func(Progress)
}

// DefaultWaitOptions returns options that accept only Healthy, wait for
// 5 minutes and do not fail fast.
func DefaultWaitOptions() WaitOptions {
	return WaitOptions{Timeout: 5 * time.Minute, Accept: []Status{Healthy}}
}

// Progress reports a step of a [Wait].
type Progress struct {
	// Changed holds the objects whose result changed, sorted by [Sort].
	Changed []ObjectResult
	// Ready counts the objects whose status is accepted; Total all.
	Ready, Total int
}

// Report is the outcome of a [Wait]: every object's last result, worst
// first ([Sort]), and their roll-up.
type Report struct {
	Results []ObjectResult
	Status  Status
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
// error when it cannot watch.
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
	want := make(map[object.ID]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}

	w := &waiter{view: view, checker: checker, want: want, wake: make(chan struct{}, 1), dirty: map[object.ID]bool{}}
	watchCtx, stop := context.WithCancel(ctx)
	defer stop()
	if err := view.Watch(watchCtx, ids, w.notify); err != nil {
		return Report{}, fmt.Errorf("health: wait: watch: %w", err)
	}
	w.takeDirty() // the first look below covers them

	results := make(map[object.ID]Result, len(ids))
	changed := make([]ObjectResult, 0, len(ids))
	for _, id := range ids {
		r := w.check(ctx, id)
		results[id] = r
		changed = append(changed, ObjectResult{ID: id, Result: r})
	}
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
			opts.Progress(Progress{Changed: changed, Ready: ready, Total: len(ids)})
		}
		changed = changed[:0]
		if ready == len(ids) {
			return report(results), nil
		}
		if opts.FailFast && degraded {
			rep := report(results)
			return rep, &WaitError{Err: ErrDegraded, NotReady: notReady(rep, accept)}
		}
		select {
		case <-ctx.Done():
			rep := report(results)
			return rep, &WaitError{Err: ErrNotReady, Cause: ctx.Err(), NotReady: notReady(rep, accept)}
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
