package generate

import (
	"context"
	"fmt"
	"sort"
)

// List is Argo CD's list generator: one parameter set per element.
//
// In the default mode each key of an element is a string parameter, and
// each key of its "values" map a "values.<key>" one; an element value
// that is not a string fails, as in Argo CD. In Go template mode an
// element is its parameter set, values of any shape.
type List struct {
	Elements []map[string]any
}

var (
	_ Generator    = List{}
	_ Interpolator = List{}
)

// Generate returns the elements' parameter sets, in order.
func (l List) Generate(_ context.Context, o Options) ([]Params, error) {
	o = o.withDefaults()
	if len(l.Elements) > o.MaxParams {
		return nil, fmt.Errorf("list: %w: more than %d elements", ErrLimit, o.MaxParams)
	}
	out := make([]Params, 0, len(l.Elements))
	for i, e := range l.Elements {
		p, err := elementParams(e, o)
		if err != nil {
			return nil, fmt.Errorf("list: elements[%d]: %w", i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func elementParams(e map[string]any, o Options) (Params, error) {
	if o.GoTemplate {
		v, err := copyTree(e, o.MaxDepth)
		if err != nil {
			return nil, err
		}
		return Params(v.(map[string]any)), nil
	}
	p := Params{}
	for _, k := range sortedKeys(e) {
		if k != "values" {
			s, ok := e[k].(string)
			if !ok {
				return nil, fmt.Errorf("%s: %w: must be a string, not %s", k, ErrInvalid, typeName(e[k]))
			}
			p[k] = s
			continue
		}
		vm, ok := e[k].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("values: %w: must be a mapping, not %s", ErrInvalid, typeName(e[k]))
		}
		for _, vk := range sortedKeys(vm) {
			s, ok := vm[vk].(string)
			if !ok {
				return nil, fmt.Errorf("values.%s: %w: must be a string, not %s", vk, ErrInvalid, typeName(vm[vk]))
			}
			p["values."+vk] = s
		}
	}
	return p, nil
}

// Interpolate renders every string of the elements with p (a matrix's
// first generator's parameters).
func (l List) Interpolate(p Params, o Options) (Generator, error) {
	out := List{Elements: make([]map[string]any, len(l.Elements))}
	for i, e := range l.Elements {
		v, err := Render(e, p, o)
		if err != nil {
			return nil, fmt.Errorf("list: elements[%d]: %w", i, err)
		}
		out.Elements[i] = v.(map[string]any)
	}
	return out, nil
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// typeName names a value's kind as YAML says it, never its content.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case float64, float32, int, int64, int32:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

// copyTree copies a tree of maps and lists so that the caller's
// parameters cannot change under a template, bounding its depth.
func copyTree(v any, maxDepth int) (any, error) {
	return copyAt(v, 0, maxDepth)
}

func copyAt(v any, depth, maxDepth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrLimit, maxDepth)
	}
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			c, err := copyAt(e, depth+1, maxDepth)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			c, err := copyAt(e, depth+1, maxDepth)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	}
	return v, nil
}
