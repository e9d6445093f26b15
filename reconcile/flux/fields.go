package flux

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
)

// This file is a strict reader of decoded documents: every field a loader
// does not read is reported by name. The argocd package has its own copy
// of the same reader (its fields.go); the two stay small and alike.

// Sentinel errors, wrapped by every *FieldError, for errors.Is.
var (
	// ErrUnknownField: the document has a field converge does not know (a
	// typo, or a field of a newer Flux version).
	ErrUnknownField = errors.New("unknown field")
	// ErrUnsupported: the document asks for something converge cannot do
	// (an OCIRepository source, a GitRepository include, a kind this
	// loader does not read).
	ErrUnsupported = errors.New("not supported")
	// ErrInvalid: a field has a value of the wrong type or form.
	ErrInvalid = errors.New("invalid value")
	// ErrMissing: a reference names an object that is not in the input
	// and Options cannot resolve (a GitRepository).
	ErrMissing = errors.New("missing object")
)

// FieldError is a field that refuses a document: the object, the path of
// the field in it ("spec.include") and why. Its text never holds a
// value longer than a short, quoted excerpt, and never a substitution
// variable's value.
type FieldError struct {
	// Object names the document: "Kustomization flux-system/backend-prod".
	Object string
	// Path is the field, in dotted form with indexes: "spec.dependsOn[0]".
	// It is empty for an error about the whole object.
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

// Warning is a field converge accepts without doing what Flux does with
// it, because it is informational or because converge already behaves
// that way: the path, and what converge does instead.
type Warning struct {
	Object  string
	Path    string
	Message string
}

// String names the object and the path, then says what converge does.
func (w Warning) String() string {
	if w.Path == "" {
		return w.Object + ": " + w.Message
	}
	return w.Object + ": " + w.Path + ": " + w.Message
}

// doc collects what loading one object found.
type doc struct {
	object   string
	errs     []*FieldError
	warnings []Warning
	warned   map[Warning]bool
	nodes    []*node
}

func newDoc(object string) *doc { return &doc{object: object} }

func (d *doc) fail(path string, sentinel error, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{Object: d.object, Path: path, Reason: fmt.Sprintf(format, args...), Err: sentinel})
}

// maxWarnings bounds the warnings of one document.
const maxWarnings = 200

// warn records a warning once.
func (d *doc) warn(path, format string, args ...any) {
	w := Warning{Object: d.object, Path: path, Message: fmt.Sprintf(format, args...)}
	if d.warned[w] {
		return
	}
	if d.warned == nil {
		d.warned = map[Warning]bool{}
	}
	d.warned[w] = true
	switch {
	case len(d.warnings) < maxWarnings:
		d.warnings = append(d.warnings, w)
	case len(d.warnings) == maxWarnings:
		d.warnings = append(d.warnings, Warning{Object: d.object, Message: "more warnings left out"})
	}
}

// finish reports the fields no one read, in path order.
func (d *doc) finish() {
	var unknown []string
	for _, n := range d.nodes {
		for k := range n.m {
			if !n.seen[k] {
				unknown = append(unknown, n.at(k))
			}
		}
	}
	sort.Strings(unknown)
	for _, p := range unknown {
		d.fail(p, ErrUnknownField, "unknown field")
	}
}

// node is one mapping of a document and the fields read from it.
type node struct {
	d    *doc
	path string
	m    map[string]any // nil when the mapping is absent
	seen map[string]bool
}

func (d *doc) root(m map[string]any, path string) *node {
	n := &node{d: d, path: path, m: m, seen: map[string]bool{}}
	d.nodes = append(d.nodes, n)
	return n
}

var simpleKey = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$-]*$`)

// joinPath appends key to a path: "spec.source", or `metadata.annotations["a/b"]`.
func joinPath(parent, key string) string {
	if !simpleKey.MatchString(key) {
		return parent + "[" + strconv.Quote(short(key)) + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func (n *node) at(key string) string { return joinPath(n.path, key) }

// present reports whether key is set to something other than null.
func (n *node) present(key string) bool {
	v, ok := n.m[key]
	return ok && v != nil
}

// get returns a field's value and marks it read. A null is absent.
func (n *node) get(key string) (any, bool) {
	v, ok := n.m[key]
	if !ok {
		return nil, false
	}
	n.seen[key] = true
	return v, v != nil
}

// accept marks fields read without using them.
func (n *node) accept(keys ...string) {
	for _, k := range keys {
		if _, ok := n.m[k]; ok {
			n.seen[k] = true
		}
	}
}

// refuse fails the document when key is set.
func (n *node) refuse(key, format string, args ...any) {
	if _, ok := n.get(key); ok {
		n.d.fail(n.at(key), ErrUnsupported, format, args...)
	}
}

// inform accepts key with a warning when it is set.
func (n *node) inform(key, format string, args ...any) {
	if _, ok := n.get(key); ok {
		n.d.warn(n.at(key), format, args...)
	}
}

// obj returns the mapping at key, empty when absent.
func (n *node) obj(key string) *node {
	v, ok := n.get(key)
	child := n.d.root(nil, n.at(key))
	if !ok {
		return child
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		n.d.fail(child.path, ErrInvalid, "must be a mapping, not %s", typeName(v))
		return child
	}
	child.m = m
	return child
}

// list returns the list at key.
func (n *node) list(key string) []any {
	v, ok := n.get(key)
	if !ok {
		return nil
	}
	l, isList := v.([]any)
	if !isList {
		n.d.fail(n.at(key), ErrInvalid, "must be a list, not %s", typeName(v))
		return nil
	}
	return l
}

// objs returns the list of mappings at key.
func (n *node) objs(key string) []*node {
	var out []*node
	for i, v := range n.list(key) {
		p := fmt.Sprintf("%s[%d]", n.at(key), i)
		m, ok := v.(map[string]any)
		if !ok {
			n.d.fail(p, ErrInvalid, "must be a mapping, not %s", typeName(v))
			continue
		}
		out = append(out, n.d.root(m, p))
	}
	return out
}

// str returns the string at key ("" when absent).
func (n *node) str(key string) string {
	v, ok := n.get(key)
	if !ok {
		return ""
	}
	s, isStr := v.(string)
	if !isStr {
		n.d.fail(n.at(key), ErrInvalid, "must be a string, not %s", typeName(v))
	}
	return s
}

// strs returns the list of strings at key.
func (n *node) strs(key string) []string {
	var out []string
	for i, v := range n.list(key) {
		s, ok := v.(string)
		if !ok {
			n.d.fail(fmt.Sprintf("%s[%d]", n.at(key), i), ErrInvalid, "must be a string, not %s", typeName(v))
			continue
		}
		out = append(out, s)
	}
	return out
}

// strMap returns the mapping of strings at key.
func (n *node) strMap(key string) map[string]string {
	c := n.obj(key)
	if c.m == nil {
		return nil
	}
	out := make(map[string]string, len(c.m))
	for k, v := range c.m {
		c.seen[k] = true
		s, ok := v.(string)
		if !ok {
			n.d.fail(c.at(k), ErrInvalid, "must be a string, not %s", typeName(v))
			continue
		}
		out[k] = s
	}
	return out
}

// boolean returns the boolean at key.
func (n *node) boolean(key string) bool {
	v, ok := n.get(key)
	if !ok {
		return false
	}
	b, isBool := v.(bool)
	if !isBool {
		n.d.fail(n.at(key), ErrInvalid, "must be a boolean, not %s", typeName(v))
	}
	return b
}

// integer returns the integer at key.
func (n *node) integer(key string) (int64, bool) {
	v, ok := n.get(key)
	if !ok {
		return 0, false
	}
	switch v := v.(type) {
	case int64:
		return v, true
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int64(v), true
		}
	}
	n.d.fail(n.at(key), ErrInvalid, "must be an integer, not %s", typeName(v))
	return 0, false
}

func typeName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64, float64:
		return "a number"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// short cuts a value for a message.
func short(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
