package manifest

import (
	"fmt"
	"sort"
)

// Doc collects what reading one document found: its field errors, its
// warnings, and, through the Nodes that Root hands out, every field that
// was read, so that Finish can refuse the others as unknown. A Doc is not
// safe for concurrent use.
type Doc struct {
	object string
	// template is set for a document expanded from a template: its
	// scalars went through string substitution, so a string "true"
	// stands for a boolean and "3" for a number. schema names who wants
	// the typed value, for the warning.
	template bool
	schema   string
	errs     []*FieldError
	warnings []Warning
	warned   map[Warning]bool
	nodes    []*Node
	coerced  map[string]bool
	finished bool
}

// Option is a setting of NewDoc.
type Option func(*Doc)

// FromTemplate marks a document expanded from a template by string
// substitution, as an Argo CD ApplicationSet's Applications are: a
// parameter gives a boolean or integer field a string, so Node.Bool also
// reads "true" and "false", and Node.Int a string of digits, each with a
// Warning (once per field) that schema ("Argo CD") wants the typed value;
// any other string there is ErrInvalid.
func FromTemplate(schema string) Option {
	return func(d *Doc) { d.template, d.schema = true, schema }
}

// NewDoc starts reading the document named object ("Application
// argocd/shop"), the name every error and warning it records carries.
func NewDoc(object string, opts ...Option) *Doc {
	d := &Doc{object: object}
	for _, o := range opts {
		o(d)
	}
	return d
}

// Object returns the name of the document.
func (d *Doc) Object() string { return d.object }

// Fail records a *FieldError at path, wrapping sentinel, its reason
// formatted from format and args. Cut values with Short.
func (d *Doc) Fail(path string, sentinel error, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{Object: d.object, Path: path, Reason: fmt.Sprintf(format, args...), Err: sentinel})
}

// maxDocWarnings bounds the warnings of one document.
const maxDocWarnings = 200

// Warn records a Warning at path, once: the same message for the same
// path is kept once. After 200 warnings, a last one says that more were
// left out.
func (d *Doc) Warn(path, format string, args ...any) {
	w := Warning{Object: d.object, Path: path, Message: fmt.Sprintf(format, args...)}
	if d.warned[w] {
		return
	}
	if d.warned == nil {
		d.warned = map[Warning]bool{}
	}
	d.warned[w] = true
	switch {
	case len(d.warnings) < maxDocWarnings:
		d.warnings = append(d.warnings, w)
	case len(d.warnings) == maxDocWarnings:
		d.warnings = append(d.warnings, Warning{Object: d.object, Message: "more warnings left out"})
	}
}

// Failed reports whether the document has a field error.
func (d *Doc) Failed() bool { return len(d.errs) > 0 }

// Errors returns the field errors recorded so far, in the order they were
// found. The slice is the Doc's: do not modify it.
func (d *Doc) Errors() []*FieldError { return d.errs }

// Warnings returns the warnings recorded so far, in the order they were
// found. The slice is the Doc's: do not modify it.
func (d *Doc) Warnings() []Warning { return d.warnings }

// Finish refuses every field of the document's Nodes that no reader
// read, with ErrUnknownField, in path order. Call it once the document is
// read; calling it again does nothing.
func (d *Doc) Finish() {
	if d.finished {
		return
	}
	d.finished = true
	var unknown []string
	for _, n := range d.nodes {
		for k := range n.m {
			if !n.seen[k] {
				unknown = append(unknown, n.At(k))
			}
		}
	}
	sort.Strings(unknown)
	for _, p := range unknown {
		d.Fail(p, ErrUnknownField, "unknown field")
	}
}

// Root returns a Node for the mapping m at path ("" for the document
// itself, "spec.template" for a template's), whose fields Finish checks.
func (d *Doc) Root(m map[string]any, path string) *Node {
	n := &Node{d: d, path: path, m: m, seen: map[string]bool{}}
	d.nodes = append(d.nodes, n)
	return n
}

// coercedOnce warns once per path that a string was read as a typed
// value.
func (d *Doc) coercedOnce(path, msg string) {
	if d.coerced == nil {
		d.coerced = map[string]bool{}
	}
	if !d.coerced[path] {
		d.coerced[path] = true
		d.Warn(path, "%s", msg)
	}
}
