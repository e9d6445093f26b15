package analysis

import "errors"

// Sentinels that a [*FieldError] or another error of this package wraps,
// for callers that branch on the cause.
var (
	// ErrUnknownField: a field Argo Rollouts does not define.
	ErrUnknownField = errors.New("unknown field")
	// ErrUnsupportedKind: an object that is not an analysis template.
	ErrUnsupportedKind = errors.New("unsupported kind")
	// ErrUnsupported: a field Rollouts defines that this package refuses
	// (fieldRef args, template references).
	ErrUnsupported = errors.New("unsupported field")
	// ErrUnsupportedProvider: a provider kind the host passed no Provider for.
	ErrUnsupportedProvider = errors.New("unsupported provider")
	// ErrInvalidValue: a value out of range or of the wrong type.
	ErrInvalidValue = errors.New("invalid value")
	// ErrMissingArg: an arg that is used or declared but given no value.
	ErrMissingArg = errors.New("missing arg")
	// ErrCondition: a success or failure condition that does not compile.
	ErrCondition = errors.New("invalid condition")
	// ErrState: state given to [Run.Resume] that does not belong to the run.
	ErrState = errors.New("state does not match the run")
)

// FieldError is a refused field of a template: the object, the field's
// path in it, and why. It never holds an arg's secret value.
type FieldError struct {
	// Object names the template ("AnalysisTemplate/success-rate").
	Object string
	// Path is the field ("spec.metrics[0].interval").
	Path string
	// Reason says what is wrong.
	Reason string
	// Err is one of the sentinels above.
	Err error
}

// Error says "object: path: reason".
func (e *FieldError) Error() string {
	s := e.Object
	if e.Path != "" {
		if s != "" {
			s += ": "
		}
		s += e.Path
	}
	if s != "" {
		s += ": "
	}
	return s + e.Reason
}

// Unwrap returns the sentinel.
func (e *FieldError) Unwrap() error { return e.Err }
