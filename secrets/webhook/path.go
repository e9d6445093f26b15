package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/converge-dev/converge/secrets"
)

// ErrNotJSON: the answer is not one JSON value (HTML from a login page or
// a proxy, plain text, a truncated document, trailing data).
var ErrNotJSON = errors.New("the answer is not JSON")

// ErrNotObject: the result is a JSON scalar or array where the call needs
// an object of properties (Map, or Value with a property).
var ErrNotObject = errors.New("the result is not a JSON object")

// path is a parsed result path: the object keys and array indices from
// the document's root to the result.
type path struct {
	text     string // as written, for errors
	segments []string
}

// parsePath parses a result path, written in one of these forms:
//
//   - "" or "$": the whole document;
//   - a JSON Pointer (RFC 6901) when it starts with "/": "/data/db~1main"
//     ("~1" is "/", "~0" is "~");
//   - otherwise a dotted path, JSONPath-like: "$.data.secret", "data.secret",
//     "$.items[0].value". A segment is an object field, or an array index
//     when the value there is an array; a field name holding "." or "["
//     needs a JSON Pointer.
func parsePath(s string) (path, error) {
	p := path{text: s}
	switch {
	case s == "" || s == "$":
		return p, nil
	case strings.HasPrefix(s, "/"):
		for _, seg := range strings.Split(s[1:], "/") {
			if strings.Contains(strings.ReplaceAll(strings.ReplaceAll(seg, "~0", ""), "~1", ""), "~") {
				return path{}, fmt.Errorf("result path %q: a \"~\" not followed by 0 or 1", s)
			}
			p.segments = append(p.segments, strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~"))
		}
		return p, nil
	}
	rest := s
	if strings.HasPrefix(rest, "$") {
		rest = rest[1:]
		if !strings.HasPrefix(rest, ".") && !strings.HasPrefix(rest, "[") {
			return path{}, fmt.Errorf("result path %q: \"$\" must be followed by \".\" or \"[\"", s)
		}
	} else {
		rest = "." + rest
	}
	for rest != "" {
		switch rest[0] {
		case '.':
			end := strings.IndexAny(rest[1:], ".[")
			if end < 0 {
				end = len(rest) - 1
			}
			name := rest[1 : 1+end]
			if name == "" {
				return path{}, fmt.Errorf("result path %q: an empty field name", s)
			}
			if strings.ContainsAny(name, "]*") {
				return path{}, fmt.Errorf("result path %q: %q is not a field name (wildcards and filters are not supported)", s, name)
			}
			p.segments = append(p.segments, name)
			rest = rest[1+end:]
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return path{}, fmt.Errorf("result path %q: an unclosed \"[\"", s)
			}
			idx := rest[1:end]
			if !isIndex(idx) {
				return path{}, fmt.Errorf("result path %q: [%s] is not an array index", s, idx)
			}
			p.segments = append(p.segments, idx)
			rest = rest[end+1:]
		default:
			return path{}, fmt.Errorf("result path %q: expected \".\" or \"[\" at %q", s, rest)
		}
	}
	return p, nil
}

// isIndex reports whether s is a decimal array index without a sign or
// leading zeros, as RFC 6901 spells one.
func isIndex(s string) bool {
	if s == "" || len(s) > 9 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// result is what the path selected: an object's fields, or one scalar.
type result struct {
	fields map[string][]byte // nil when the result is not an object
	value  []byte            // the scalar or array, when fields is nil
	kind   string            // "object", "string", "number", "array", ...
}

// decode parses body as one JSON value and selects the result at p. Its
// errors wrap ErrNotJSON, secrets.ErrNotFound or nothing else, and never
// quote the body.
func decode(body []byte, p path) (result, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return result{}, notJSON(body, err, dec.InputOffset())
	}
	if _, err := dec.Token(); err != io.EOF {
		return result{}, fmt.Errorf("%w: data after the JSON value (at byte %d)", ErrNotJSON, dec.InputOffset())
	}
	v := doc
	for i, seg := range p.segments {
		switch node := v.(type) {
		case map[string]any:
			next, ok := node[seg]
			if !ok {
				return result{}, fmt.Errorf("result path %q: no field %q at %s: %w", p.text, seg, p.at(i), secrets.ErrNotFound)
			}
			v = next
		case []any:
			n, err := strconv.Atoi(seg)
			if err != nil || !isIndex(seg) || n >= len(node) {
				return result{}, fmt.Errorf("result path %q: no element %q in the array of %d at %s: %w", p.text, seg, len(node), p.at(i), secrets.ErrNotFound)
			}
			v = node[n]
		default:
			return result{}, fmt.Errorf("result path %q: %s is a %s, not an object or array: %w", p.text, p.at(i), kindOf(v), secrets.ErrNotFound)
		}
	}
	if obj, ok := v.(map[string]any); ok {
		fields := make(map[string][]byte, len(obj))
		for k, fv := range obj {
			fields[k] = encode(fv)
		}
		return result{fields: fields, kind: "object"}, nil
	}
	return result{value: encode(v), kind: kindOf(v)}, nil
}

// at names the position before segment i, for errors.
func (p path) at(i int) string {
	if i == 0 {
		return "the document's root"
	}
	return fmt.Sprintf("%q", "/"+strings.Join(p.segments[:i], "/"))
}

// encode turns a JSON value into a property's bytes: a string is its
// text, anything else (number, bool, null, object, array) its compact
// JSON.
func encode(v any) []byte {
	if s, ok := v.(string); ok {
		return []byte(s)
	}
	b, err := json.Marshal(v)
	if err != nil { // unreachable for decoded JSON
		return nil
	}
	return b
}

func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// notJSON describes a body that does not parse, by its shape and the
// offset of the fault, never by its content: the body may hold a value.
func notJSON(body []byte, err error, offset int64) error {
	trimmed := bytes.TrimSpace(body)
	var syntax *json.SyntaxError
	switch {
	case len(trimmed) == 0:
		return fmt.Errorf("%w: the body is empty", ErrNotJSON)
	case trimmed[0] == '<':
		return fmt.Errorf("%w: the body looks like HTML or XML (a login page or a proxy's error?)", ErrNotJSON)
	case errors.As(err, &syntax):
		return fmt.Errorf("%w: syntax error at byte %d", ErrNotJSON, syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return fmt.Errorf("%w: the body ends inside a JSON value (truncated?)", ErrNotJSON)
	}
	return fmt.Errorf("%w: unreadable at byte %d", ErrNotJSON, offset)
}
