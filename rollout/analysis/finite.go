package analysis

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
)

// Non-finite values: Argo Rollouts decides `result[0] >= 0.95` on a +Inf
// sample Successful, and a failureCondition `result[0] > 0.05` on a NaN
// error rate (no traffic: 0/0) Successful too. This package does not:
// a result holding a NaN or ±Inf that the conditions would pass is
// Inconclusive, unless the condition that decides success mentions isNaN
// or isInf, and so handles such values on purpose.

// handlesNonFinite reports whether the condition that decides success
// (the successCondition, or without one the failureCondition, whose
// being false is a success) calls isNaN or isInf.
func handlesNonFinite(success, failure string) bool {
	decides := success
	if decides == "" {
		decides = failure
	}
	if decides == "" {
		return false
	}
	tree, err := parser.Parse(decides)
	if err != nil {
		return false // it cannot be evaluated either
	}
	found := ast.Find(tree.Node, func(n ast.Node) bool {
		id, ok := n.(*ast.IdentifierNode)
		return ok && (id.Value == "isNaN" || id.Value == "isInf")
	})
	return found != nil
}

// nonFiniteMessage is why a result the conditions pass is Inconclusive.
func nonFiniteMessage(path string, v float64) string {
	return fmt.Sprintf("%s is %s, not a finite number: Inconclusive, not Successful, since the condition does not check isNaN or isInf", path, formatFloat(v))
}

func formatFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// findNonFinite returns the path in the result ("result", "result[2]",
// `result["rate"]`) and value of its first NaN or ±Inf: the result
// itself, or an element of a slice, array or map, at any depth. The
// result is already bounded by MaxResultElements.
func findNonFinite(result any) (string, float64, bool) {
	switch v := result.(type) {
	case float64:
		if !finite(v) {
			return "result", v, true
		}
		return "", 0, false
	case []float64: // a Prometheus vector
		for i, f := range v {
			if !finite(f) {
				return "result[" + strconv.Itoa(i) + "]", f, true
			}
		}
		return "", 0, false
	case nil, string, bool, int, int64:
		return "", 0, false
	}
	var path string
	var value float64
	var walk func(rv reflect.Value, p string, depth int) bool
	walk = func(rv reflect.Value, p string, depth int) bool {
		if depth > 64 {
			return false
		}
		switch rv.Kind() {
		case reflect.Float64, reflect.Float32:
			if f := rv.Float(); !finite(f) {
				path, value = p, f
				return true
			}
		case reflect.Interface, reflect.Pointer:
			if !rv.IsNil() {
				return walk(rv.Elem(), p, depth+1)
			}
		case reflect.Slice, reflect.Array:
			for i := range rv.Len() {
				if walk(rv.Index(i), p+"["+strconv.Itoa(i)+"]", depth+1) {
					return true
				}
			}
		case reflect.Map:
			keys := rv.MapKeys() // in order, so that the message is the same each time
			names := make([]string, len(keys))
			for i, k := range keys {
				names[i] = fmt.Sprint(k.Interface())
			}
			order := make([]int, len(keys))
			for i := range order {
				order[i] = i
			}
			sort.Slice(order, func(a, b int) bool { return names[order[a]] < names[order[b]] })
			for _, i := range order {
				if walk(rv.MapIndex(keys[i]), p+"["+truncate(strconv.Quote(names[i]), 64)+"]", depth+1) {
					return true
				}
			}
		case reflect.Struct:
			for i := range rv.NumField() {
				if rv.Type().Field(i).IsExported() && walk(rv.Field(i), p+"."+rv.Type().Field(i).Name, depth+1) {
					return true
				}
			}
		}
		return false
	}
	if result == nil || !walk(reflect.ValueOf(result), "result", 0) {
		return "", 0, false
	}
	return path, value, true
}
