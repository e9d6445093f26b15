package analysis

import "context"

// Provider takes one measurement of a metric: the query is the metric's
// provider block, with template args substituted, and the result is what
// its conditions see. A Provider serves one kind of provider block
// ("prometheus", "web", "job"); hosts pass them by kind, so a template
// naming a kind with no Provider is refused before the first measurement.
// Implementations must be safe for concurrent use and must not put
// secret values (headers, tokens) in errors.
type Provider interface {
	Measure(ctx context.Context, q Query) (Result, error)
}

// ProviderFunc adapts a function to a [Provider].
type ProviderFunc func(ctx context.Context, q Query) (Result, error)

// Measure calls f.
func (f ProviderFunc) Measure(ctx context.Context, q Query) (Result, error) { return f(ctx, q) }

var _ Provider = ProviderFunc(nil)

// Query is what a metric asks its provider.
type Query struct {
	// Metric is the metric's name, for errors and logs.
	Metric string
	// Kind is the provider block's kind: "prometheus", "web", "job".
	Kind string
	// Spec is the provider block of that kind, decoded from JSON
	// (map[string]any, []any, string, float64, bool), with
	// {{args.name}} already substituted.
	Spec map[string]any
}

// Result is one measurement's outcome, shaped as Argo Rollouts shapes it
// so that conditions written for Rollouts mean the same here.
type Result struct {
	// Value is bound to `result` in the metric's conditions: float64 for
	// a Prometheus scalar, []float64 for a vector, the decoded JSON value
	// a web provider's jsonPath selects.
	Value any
	// Text is the value as the measurement records it ("[0.97]" for a
	// vector, as Rollouts prints it).
	Text string
	// Phase, when set, is the provider's own verdict (a Job succeeded or
	// failed), used instead of the conditions.
	Phase Phase
	// Metadata is kept with the measurement (a Job's name, a query's
	// resolved text).
	Metadata map[string]string
}

// Phase is the phase of a measurement, a metric or a run, as Argo
// Rollouts names them.
type Phase string

// The phases.
const (
	PhasePending      Phase = "Pending"
	PhaseRunning      Phase = "Running"
	PhaseSuccessful   Phase = "Successful"
	PhaseFailed       Phase = "Failed"
	PhaseError        Phase = "Error"
	PhaseInconclusive Phase = "Inconclusive"
)

// String returns the phase's name.
func (p Phase) String() string { return string(p) }

// Completed reports whether p is a final phase.
func (p Phase) Completed() bool {
	switch p {
	case PhaseSuccessful, PhaseFailed, PhaseError, PhaseInconclusive:
		return true
	}
	return false
}
