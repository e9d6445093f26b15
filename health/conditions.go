package health

import (
	"fmt"
	"math"
)

// condition is one entry of status.conditions, read leniently: fields that
// are missing are empty, but a field of the wrong type is an error.
type condition struct {
	Type, Status, Reason, Message string
}

// field reads a nested value; found is false when a map on the path is
// missing, err is set when a value on the path is not a map.
func field(obj map[string]any, path ...string) (v any, found bool, err error) {
	var cur any = obj
	for i, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false, fmt.Errorf("%s is %s, not an object", dotted(path[:i]), typeName(cur))
		}
		cur, ok = m[p]
		if !ok || cur == nil {
			return nil, false, nil
		}
	}
	return cur, true, nil
}

func dotted(path []string) string {
	s := ""
	for _, p := range path {
		s += "." + p
	}
	if s == "" {
		return "the object"
	}
	return s
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64, int, int32, float64, float32:
		return "a number"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

// str reads a string field; a missing field is "", a non-string an error.
func str(obj map[string]any, path ...string) (string, error) {
	v, found, err := field(obj, path...)
	if err != nil || !found {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s is %s, not a string", dotted(path), typeName(v))
	}
	return s, nil
}

// boolean reads a boolean field; a missing field is false.
func boolean(obj map[string]any, path ...string) (bool, error) {
	v, found, err := field(obj, path...)
	if err != nil || !found {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%s is %s, not a boolean", dotted(path), typeName(v))
	}
	return b, nil
}

// integer reads an integer field (JSON numbers may arrive as float64).
func integer(obj map[string]any, path ...string) (n int64, found bool, err error) {
	v, found, err := field(obj, path...)
	if err != nil || !found {
		return 0, false, err
	}
	switch x := v.(type) {
	case int64:
		return x, true, nil
	case int:
		return int64(x), true, nil
	case int32:
		return int64(x), true, nil
	case float64:
		if x != math.Trunc(x) || math.IsInf(x, 0) || x > math.MaxInt64 || x < math.MinInt64 {
			return 0, false, fmt.Errorf("%s is %v, not an integer", dotted(path), x)
		}
		return int64(x), true, nil
	}
	return 0, false, fmt.Errorf("%s is %s, not an integer", dotted(path), typeName(v))
}

// list reads a list field; a missing field is nil.
func list(obj map[string]any, path ...string) ([]any, error) {
	v, found, err := field(obj, path...)
	if err != nil || !found {
		return nil, err
	}
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s is %s, not a list", dotted(path), typeName(v))
	}
	return l, nil
}

// conditions reads status.conditions. Entries that are not objects, or
// whose type or status is not a string, are errors.
func conditions(obj map[string]any) ([]condition, error) {
	l, err := list(obj, "status", "conditions")
	if err != nil || len(l) == 0 {
		return nil, err
	}
	out := make([]condition, 0, len(l))
	for i, e := range l {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf(".status.conditions[%d] is %s, not an object", i, typeName(e))
		}
		var c condition
		for _, f := range [...]struct {
			name string
			dst  *string
		}{{"type", &c.Type}, {"status", &c.Status}, {"reason", &c.Reason}, {"message", &c.Message}} {
			v, ok := m[f.name]
			if !ok || v == nil {
				continue
			}
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf(".status.conditions[%d].%s is %s, not a string", i, f.name, typeName(v))
			}
			*f.dst = s
		}
		out = append(out, c)
	}
	return out, nil
}

// find returns the condition of type t.
func find(conds []condition, t string) (condition, bool) {
	for _, c := range conds {
		if c.Type == t {
			return c, true
		}
	}
	return condition{}, false
}

// is reports whether the condition of type t has the given status.
func is(conds []condition, t, status string) bool {
	c, ok := find(conds, t)
	return ok && c.Status == status
}
