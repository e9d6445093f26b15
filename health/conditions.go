package health

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
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

// statusConditions is status.conditions, read once per check for both of
// its readers. converge's rules are strict (err): a null entry is an error.
// The kstatus port follows kstatus's reflection-based conversion (ksErr):
// a null entry is an empty condition, a json.Number field its text, and the
// errors have kstatus's words. list holds the entries when ksErr is nil.
type statusConditions struct {
	list  []condition
	err   error
	ksErr error
}

// conditions reads status.conditions strictly: entries that are not
// objects, or whose type, status, reason or message is not a string, are
// errors.
func conditions(obj map[string]any) ([]condition, error) {
	return readConditions(obj).strict()
}

// strict returns the conditions as converge's rules read them.
func (sc statusConditions) strict() ([]condition, error) {
	if sc.err != nil {
		return nil, sc.err
	}
	return sc.list, nil
}

// readConditions reads status.conditions for both readers in one pass.
func readConditions(obj map[string]any) statusConditions {
	st, ok := obj["status"]
	if !ok || st == nil {
		return statusConditions{}
	}
	sm, ok := st.(map[string]any)
	if !ok {
		return statusConditions{err: fmt.Errorf(".status is %s, not an object", typeName(st)),
			ksErr: fmt.Errorf("cannot restore struct from: %v", reflect.TypeOf(st).Kind())}
	}
	cv, ok := sm["conditions"]
	if !ok || cv == nil {
		return statusConditions{}
	}
	l, ok := cv.([]any)
	if !ok {
		return statusConditions{err: fmt.Errorf(".status.conditions is %s, not a list", typeName(cv)),
			ksErr: fmt.Errorf("cannot restore slice from %v", reflect.TypeOf(cv).Kind())}
	}
	if len(l) == 0 {
		return statusConditions{}
	}
	sc := statusConditions{list: make([]condition, 0, len(l))}
	for i, e := range l {
		if e == nil {
			if sc.err == nil {
				sc.err = fmt.Errorf(".status.conditions[%d] is null, not an object", i)
			}
			sc.list = append(sc.list, condition{})
			continue
		}
		m, ok := e.(map[string]any)
		if !ok {
			if sc.err == nil {
				sc.err = fmt.Errorf(".status.conditions[%d] is %s, not an object", i, typeName(e))
			}
			return statusConditions{err: sc.err, ksErr: fmt.Errorf("cannot restore struct from: %v", reflect.TypeOf(e).Kind())}
		}
		var f [4]string // condFields, in kstatus's order
		for j, name := range condFields {
			v, ok := m[name]
			if !ok || v == nil {
				continue
			}
			if s, ok := v.(string); ok {
				f[j] = s
				continue
			}
			if sc.err == nil {
				sc.err = fmt.Errorf(".status.conditions[%d].%s is %s, not a string", i, name, typeName(v))
			}
			if n, ok := v.(json.Number); ok {
				f[j] = string(n)
				continue
			}
			return statusConditions{err: sc.err, ksErr: ksFieldError(v, name == "status")}
		}
		sc.list = append(sc.list, condition{Type: f[0], Status: f[1], Reason: f[2], Message: f[3]})
	}
	return sc
}

// condFields are the fields of a condition both readers look at.
var condFields = [4]string{"type", "status", "reason", "message"}

// ksFieldError is the error of kstatus's conversion of a condition field
// that is not a string: integers "cannot convert" (into the field's type,
// corev1.ConditionStatus for status), anything else is unrecognized.
func ksFieldError(v any, isStatus bool) error {
	t := reflect.TypeOf(v)
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		dt := "string"
		if isStatus {
			dt = "v1.ConditionStatus"
		}
		return fmt.Errorf("cannot convert %s to %s", t, dt)
	}
	return fmt.Errorf("unrecognized type: string")
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
