package argocd

import "github.com/converge-dev/converge/reconcile/internal/manifest"

// Load reads every document strictly, with the reader that the flux
// package shares (reconcile/internal/manifest): every field it does not
// read is reported by name. These are that reader's errors and warnings.

// Sentinel errors, wrapped by every *FieldError, for errors.Is.
var (
	// ErrUnknownField: the document has a field converge does not know (a
	// typo, or a field of a newer Argo CD version).
	ErrUnknownField = manifest.ErrUnknownField
	// ErrUnsupported: the document asks for something converge cannot do
	// (a config management plugin, a Helm repository chart, a kind this
	// loader does not read).
	ErrUnsupported = manifest.ErrUnsupported
	// ErrInvalid: a field has a value of the wrong type or form.
	ErrInvalid = manifest.ErrInvalid
	// ErrMissing: a reference names an object that is not in the input
	// (an AppProject, with Options.RequireProjects).
	ErrMissing = manifest.ErrMissing
)

// FieldError is a field that refuses a document: the object (Object,
// "Application argocd/backend-prod"), the path of the field in it (Path,
// "spec.syncPolicy.syncOptions[2]", empty for the whole object), why
// (Reason) and the sentinel it wraps (Err: ErrUnknownField,
// ErrUnsupported, ErrInvalid or ErrMissing). Its text never holds a value
// longer than a short, quoted excerpt, and never Helm values.
type FieldError = manifest.FieldError

// Warning is a field converge accepts without doing what Argo CD does with
// it, because it is informational or because converge already behaves
// that way: the object, the path, and what converge does instead
// (Message). String names the object and the path, then says what
// converge does.
type Warning = manifest.Warning
