package kustomize

import (
	"fmt"
	"math"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/converge-dev/converge/object"
)

// nodeValue converts a kustomize resource's YAML node to the values
// unstructured holds, with the object package's rules, so Render's objects
// equal Build's YAML decoded by object.Decode: timestamps and binary stay
// strings (timestamps in RFC 3339, as kustomize prints them), integers are int64 (beyond it, float64), NaN and infinities are
// errors.
func nodeValue(n *yaml.Node, depth int) (any, error) {
	if depth > object.DefaultMaxDepth {
		return nil, object.ErrTooDeep
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return nodeValue(n.Content[0], depth)
	case yaml.AliasNode:
		return nodeValue(n.Alias, depth+1)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: %w %q", k.Line, object.ErrDuplicateKey, k.Value)
			}
			val, err := nodeValue(v, depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = val
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, c := range n.Content {
			val, err := nodeValue(c, depth+1)
			if err != nil {
				return nil, err
			}
			l[i] = val
		}
		return l, nil
	case yaml.ScalarNode:
		return scalar(n)
	}
	return nil, fmt.Errorf("unexpected YAML node kind %d", n.Kind)
}

func scalar(n *yaml.Node) (any, error) {
	switch tag := n.ShortTag(); tag {
	case "!!str", "!!binary":
		return n.Value, nil
	case "!!timestamp":
		// kustomize writes timestamps through JSON, as RFC 3339.
		var t time.Time
		if err := n.Decode(&t); err != nil {
			return n.Value, nil
		}
		return t.Format(time.RFC3339Nano), nil
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, fmt.Errorf("line %d: invalid boolean", n.Line)
		}
		return b, nil
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i, nil
		}
		var u uint64
		if err := n.Decode(&u); err == nil {
			return float64(u), nil
		}
		return nil, fmt.Errorf("line %d: integer out of range", n.Line)
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, fmt.Errorf("line %d: invalid number", n.Line)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("line %d: NaN and infinity cannot be represented in JSON", n.Line)
		}
		return f, nil
	default:
		return nil, fmt.Errorf("line %d: unsupported tag %s", n.Line, tag)
	}
}
