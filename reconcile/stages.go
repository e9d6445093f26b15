package reconcile

import (
	"context"
	"time"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/source"
)

// Fetcher fetches a unit's source at its current revision. Fetch must be
// cheap when nothing changed (the default, on Git, costs one reference
// listing) and safe for concurrent use across units.
type Fetcher interface {
	Fetch(ctx context.Context, u *Unit) (*source.Snapshot, error)
}

// FetcherFunc adapts a function to a [Fetcher].
type FetcherFunc func(ctx context.Context, u *Unit) (*source.Snapshot, error)

// Fetch calls f.
func (f FetcherFunc) Fetch(ctx context.Context, u *Unit) (*source.Snapshot, error) { return f(ctx, u) }

// Renderer turns a unit's snapshot into objects. The returned Set belongs
// to the caller. It must be deterministic: the Reconciler skips it when
// the revision and the unit's inputs are unchanged.
type Renderer interface {
	Render(ctx context.Context, u *Unit, snap *source.Snapshot) (*object.Set, error)
}

// RendererFunc adapts a function to a [Renderer].
type RendererFunc func(ctx context.Context, u *Unit, snap *source.Snapshot) (*object.Set, error)

// Render calls f.
func (f RendererFunc) Render(ctx context.Context, u *Unit, snap *source.Snapshot) (*object.Set, error) {
	return f(ctx, u, snap)
}

// Step is an extra step between render and apply: a transformation, a
// decryption, a policy that refuses a set. Steps run, in order, after
// each fresh render (and substitution); their output is reused with the
// render while the revision and the unit's inputs stay the same. An error
// fails the pass before anything is applied.
type Step interface {
	Process(ctx context.Context, u *Unit, set *object.Set) (*object.Set, error)
}

// StepFunc adapts a function to a [Step].
type StepFunc func(ctx context.Context, u *Unit, set *object.Set) (*object.Set, error)

// Process calls f.
func (f StepFunc) Process(ctx context.Context, u *Unit, set *object.Set) (*object.Set, error) {
	return f(ctx, u, set)
}

// ProcessorStep adapts a render.Processor (secrets.References,
// secrets.ExternalSecrets, sealed.Processor, a host's own) to a Step.
// Its output is reused with the render; for values that go stale
// (read from an external store) use RefreshingStep.
func ProcessorStep(p render.Processor) Step {
	return StepFunc(func(ctx context.Context, _ *Unit, set *object.Set) (*object.Set, error) {
		return p.Process(ctx, set)
	})
}

// RefreshingStep is ProcessorStep for a processor whose output goes stale
// with time: the render and its steps run again once every, even when
// the revision and the unit's inputs are unchanged. A store read through
// secrets.ExternalSecrets is then read again when each ExternalSecret's
// refreshInterval has passed, so every should be no longer than the
// shortest of them.
func RefreshingStep(p render.Processor, every time.Duration) Step {
	return refreshingStep{Step: ProcessorStep(p), every: every}
}

type refreshingStep struct {
	Step
	every time.Duration
}

// refreshEvery returns how long the output of steps may be reused: the
// shortest interval of a RefreshingStep, 0 for as long as the inputs stay.
func refreshEvery(steps []Step) time.Duration {
	var every time.Duration
	for _, s := range steps {
		if r, ok := s.(refreshingStep); ok && r.every > 0 && (every == 0 || r.every < every) {
			every = r.every
		}
	}
	return every
}

// Gate decides, before anything is written, whether a planned change may
// be applied: an approval, a change window, a policy on the diff. It is
// asked only when the plan changes something. A non-nil error holds the
// apply back: the Status says Ready False (reason GateRefused) with the
// error's text, and the next pass asks again. It is not a failure: no
// retry backoff, no failure notification.
type Gate interface {
	Admit(ctx context.Context, u *Unit, plan *apply.Result) error
}

// GateFunc adapts a function to a [Gate].
type GateFunc func(ctx context.Context, u *Unit, plan *apply.Result) error

// Admit calls f.
func (f GateFunc) Admit(ctx context.Context, u *Unit, plan *apply.Result) error {
	return f(ctx, u, plan)
}

// EventReason is what a notification is about.
type EventReason string

const (
	// EventSyncFailed: a pass failed after one that did not (or the first
	// pass failed).
	EventSyncFailed EventReason = "SyncFailed"
	// EventHealthDegraded: the applied objects became Degraded.
	EventHealthDegraded EventReason = "HealthDegraded"
	// EventRecovered: a pass succeeded, healthy, after a failure or a
	// degraded health was notified.
	EventRecovered EventReason = "Recovered"
)

// Event is one notification: a transition of a unit, sent once, not on
// every pass that stays in the same state.
type Event struct {
	Unit     Ref
	Reason   EventReason
	Revision string
	// Message says what happened, in one line; it never holds a secret
	// value.
	Message string
	Time    time.Time
}

// Notifier is told about transitions. Notify is called from a goroutine of
// its own with a deadline, so a slow endpoint never holds a pass up; it
// must be safe for concurrent use.
type Notifier interface {
	Notify(ctx context.Context, e Event) error
}

// NotifierFunc adapts a function to a [Notifier].
type NotifierFunc func(ctx context.Context, e Event) error

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, e Event) error { return f(ctx, e) }

// Notifiers sends each event to every notifier in it.
type Notifiers []Notifier

// Notify calls every notifier, returning the first error after all ran.
func (n Notifiers) Notify(ctx context.Context, e Event) error {
	var first error
	for _, x := range n {
		if err := x.Notify(ctx, e); err != nil && first == nil {
			first = err
		}
	}
	return first
}

var (
	_ Fetcher  = FetcherFunc(nil)
	_ Renderer = RendererFunc(nil)
	_ Step     = StepFunc(nil)
	_ Gate     = GateFunc(nil)
	_ Notifier = NotifierFunc(nil)
	_ Notifier = Notifiers(nil)
)
