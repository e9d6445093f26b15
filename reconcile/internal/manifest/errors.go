package manifest

import "errors"

// Sentinel errors, wrapped by every *FieldError, for errors.Is.
var (
	// ErrUnknownField: the document has a field converge does not know (a
	// typo, or a field of a newer version of the tool that reads it).
	ErrUnknownField = errors.New("unknown field")
	// ErrUnsupported: the document asks for something converge cannot do.
	ErrUnsupported = errors.New("not supported")
	// ErrInvalid: a field has a value of the wrong type or form.
	ErrInvalid = errors.New("invalid value")
	// ErrMissing: a reference names an object that is not in the input
	// and that the loader's options cannot resolve.
	ErrMissing = errors.New("missing object")
)

// FieldError is a field that refuses a document: the object, the path of
// the field in it ("spec.source.plugin") and why. Its text never holds a
// value longer than a short, quoted excerpt (Short), and a loader never
// puts a secret or a whole value (Helm values, a substitution variable's
// value) in Reason.
type FieldError struct {
	// Object names the document: "Application argocd/backend-prod".
	Object string
	// Path is the field, in dotted form with indexes (JoinPath):
	// "spec.syncPolicy.syncOptions[2]". It is empty for an error about
	// the whole object.
	Path string
	// Reason says what is wrong, in converge's words.
	Reason string
	// Err is ErrUnknownField, ErrUnsupported, ErrInvalid or ErrMissing.
	Err error
}

// Error names the object, the path and the reason.
func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Object + ": " + e.Reason
	}
	return e.Object + ": " + e.Path + ": " + e.Reason
}

// Unwrap returns the sentinel.
func (e *FieldError) Unwrap() error { return e.Err }

// Warning is a field converge accepts without doing what the tool that
// wrote it (Argo CD, Flux) does with it, because it is informational or
// because converge already behaves that way: the path, and what converge
// does instead. Warnings are comparable, and compare equal when they say
// the same of the same field.
type Warning struct {
	// Object names the document, as FieldError.Object does.
	Object string
	// Path is the field, as FieldError.Path is; empty for the whole
	// object.
	Path string
	// Message says what converge does instead.
	Message string
}

// String names the object and the path, then says what converge does.
func (w Warning) String() string {
	if w.Path == "" {
		return w.Object + ": " + w.Message
	}
	return w.Object + ": " + w.Path + ": " + w.Message
}
