package flux

import "github.com/converge-dev/converge/reconcile/internal/manifest"

// Load reads every document strictly, with the reader that the argocd
// package shares (reconcile/internal/manifest): every field it does not
// read is reported by name. These are that reader's errors and warnings.

// Sentinel errors, wrapped by every *FieldError, for errors.Is.
var (
	// ErrUnknownField: the document has a field converge does not know (a
	// typo, or a field of a newer Flux version).
	ErrUnknownField = manifest.ErrUnknownField
	// ErrUnsupported: the document asks for something converge cannot do
	// (an OCIRepository source, a GitRepository include, a kind this
	// loader does not read).
	ErrUnsupported = manifest.ErrUnsupported
	// ErrInvalid: a field has a value of the wrong type or form.
	ErrInvalid = manifest.ErrInvalid
	// ErrMissing: a reference names an object that is not in the input
	// and Options cannot resolve (a GitRepository).
	ErrMissing = manifest.ErrMissing
)

// FieldError is a field that refuses a document: the object (Object,
// "Kustomization flux-system/backend-prod"), the path of the field in it
// (Path, "spec.dependsOn[0]", empty for the whole object), why (Reason)
// and the sentinel it wraps (Err: ErrUnknownField, ErrUnsupported,
// ErrInvalid or ErrMissing). Its text never holds a value longer than a
// short, quoted excerpt, and never a substitution variable's value.
type FieldError = manifest.FieldError

// Warning is a field converge accepts without doing what Flux does with
// it, because it is informational or because converge already behaves
// that way: the object, the path, and what converge does instead
// (Message). String names the object and the path, then says what
// converge does.
type Warning = manifest.Warning
