package manifest

import (
	"fmt"
	"math"
	"strconv"
)

// Node is one mapping of a Doc and the fields read from it. Each reader
// marks its field read; one that finds a value of the wrong type records
// an ErrInvalid *FieldError in the Doc, naming the field's path, and
// returns the zero value. A field that is null is absent.
type Node struct {
	d    *Doc
	path string
	m    map[string]any // nil when the mapping is absent
	seen map[string]bool
}

// Path returns the path of the mapping in its document ("spec.source").
func (n *Node) Path() string { return n.path }

// Map returns the mapping as decoded, nil when it is absent. It is the
// document's: do not modify it, and mark what is read from it with
// Accept or a reader.
func (n *Node) Map() map[string]any { return n.m }

// At returns the path of key in the mapping.
func (n *Node) At(key string) string { return JoinPath(n.path, key) }

// Present reports whether key is set to something other than null. It
// does not mark the field read.
func (n *Node) Present(key string) bool {
	v, ok := n.m[key]
	return ok && v != nil
}

// Get returns a field's value, of any type, and marks it read. ok is
// false when the field is absent or null.
func (n *Node) Get(key string) (v any, ok bool) {
	v, ok = n.m[key]
	if !ok {
		return nil, false
	}
	n.seen[key] = true
	return v, v != nil
}

// Accept marks fields read without using them.
func (n *Node) Accept(keys ...string) {
	for _, k := range keys {
		if _, ok := n.m[k]; ok {
			n.seen[k] = true
		}
	}
}

// Refuse fails the document with ErrUnsupported when key is set, the
// reason formatted from format and args.
func (n *Node) Refuse(key, format string, args ...any) {
	if _, ok := n.Get(key); ok {
		n.d.Fail(n.At(key), ErrUnsupported, format, args...)
	}
}

// Inform accepts key, with a Warning formatted from format and args when
// it is set.
func (n *Node) Inform(key, format string, args ...any) {
	if _, ok := n.Get(key); ok {
		n.d.Warn(n.At(key), format, args...)
	}
}

// Obj returns the mapping at key, a Node whose Map is nil when the field
// is absent or not a mapping.
func (n *Node) Obj(key string) *Node {
	v, ok := n.Get(key)
	child := n.d.Root(nil, n.At(key))
	if !ok {
		return child
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		n.d.Fail(child.path, ErrInvalid, "must be a mapping, not %s", TypeName(v))
		return child
	}
	child.m = m
	return child
}

// List returns the list at key.
func (n *Node) List(key string) []any {
	v, ok := n.Get(key)
	if !ok {
		return nil
	}
	l, isList := v.([]any)
	if !isList {
		n.d.Fail(n.At(key), ErrInvalid, "must be a list, not %s", TypeName(v))
		return nil
	}
	return l
}

// Objs returns the list of mappings at key, leaving out (and refusing)
// the items that are not mappings.
func (n *Node) Objs(key string) []*Node {
	var out []*Node
	for i, v := range n.List(key) {
		p := fmt.Sprintf("%s[%d]", n.At(key), i)
		m, ok := v.(map[string]any)
		if !ok {
			n.d.Fail(p, ErrInvalid, "must be a mapping, not %s", TypeName(v))
			continue
		}
		out = append(out, n.d.Root(m, p))
	}
	return out
}

// Str returns the string at key ("" when absent).
func (n *Node) Str(key string) string {
	v, ok := n.Get(key)
	if !ok {
		return ""
	}
	s, isStr := v.(string)
	if !isStr {
		n.d.Fail(n.At(key), ErrInvalid, "must be a string, not %s", TypeName(v))
	}
	return s
}

// Strs returns the list of strings at key, leaving out (and refusing) the
// items that are not strings.
func (n *Node) Strs(key string) []string {
	var out []string
	for i, v := range n.List(key) {
		s, ok := v.(string)
		if !ok {
			n.d.Fail(fmt.Sprintf("%s[%d]", n.At(key), i), ErrInvalid, "must be a string, not %s", TypeName(v))
			continue
		}
		out = append(out, s)
	}
	return out
}

// StrMap returns the mapping of strings at key (labels, annotations),
// leaving out (and refusing) the values that are not strings.
func (n *Node) StrMap(key string) map[string]string {
	c := n.Obj(key)
	if c.m == nil {
		return nil
	}
	out := make(map[string]string, len(c.m))
	for k, v := range c.m {
		c.seen[k] = true
		s, ok := v.(string)
		if !ok {
			n.d.Fail(c.At(k), ErrInvalid, "must be a string, not %s", TypeName(v))
			continue
		}
		out[k] = s
	}
	return out
}

// Bool returns the boolean at key (false when absent). In a document
// FromTemplate the strings "true" and "false" are booleans too, and the
// document's map then holds the boolean.
func (n *Node) Bool(key string) bool {
	v, ok := n.Get(key)
	if !ok {
		return false
	}
	switch v := v.(type) {
	case bool:
		return v
	case string:
		if n.d.template {
			switch v {
			case "true", "false":
				n.d.coercedOnce(n.At(key), "a parameter gives this boolean field a string; converge reads \"true\" and \"false\" as booleans ("+n.d.schema+"'s schema wants a boolean here)")
				n.m[key] = v == "true" // the expansion holds the typed value
				return v == "true"
			}
			n.d.Fail(n.At(key), ErrInvalid, "%q is not a boolean (true or false)", Short(v))
			return false
		}
	}
	n.d.Fail(n.At(key), ErrInvalid, "must be a boolean, not %s", TypeName(v))
	return false
}

// Int returns the integer at key; ok is false when it is absent or not
// an integer (a number with a fraction, or beyond ±2⁵³ when decoded as a
// float). In a document FromTemplate a string of digits is an integer
// too, and the document's map then holds the integer.
func (n *Node) Int(key string) (i int64, ok bool) {
	v, ok := n.Get(key)
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
	case string:
		if n.d.template {
			if i, err := strconv.ParseInt(v, 10, 64); err == nil {
				n.d.coercedOnce(n.At(key), "a parameter gives this integer field a string; converge reads it as a number ("+n.d.schema+"'s schema wants a number here)")
				n.m[key] = i
				return i, true
			}
			n.d.Fail(n.At(key), ErrInvalid, "%q is not an integer", Short(v))
			return 0, false
		}
	}
	n.d.Fail(n.At(key), ErrInvalid, "must be an integer, not %s", TypeName(v))
	return 0, false
}
