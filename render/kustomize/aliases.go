package kustomize

import (
	"bytes"
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/converge-dev/converge/object"
)

// checkAliases fails when the YAML aliases in data would expand to more
// than limit values. kustomize's parser expands them without a bound, so a
// "billion laughs" file would otherwise exhaust memory. Files without an
// alias marker skip the parse.
func checkAliases(data []byte, limit int) error {
	if err := checkFlowDepth(data, object.DefaultMaxDepth); err != nil {
		return err
	}
	if !bytes.Contains(data, []byte("*")) || !bytes.Contains(data, []byte("&")) {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	memo := map[*yaml.Node]int{}
	total := 0
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			// End of stream, or a syntax error kustomize reports itself.
			return nil
		}
		n, err := expanded(&doc, memo, limit, 0)
		if err != nil {
			return err
		}
		if total += n; total > limit {
			return fmt.Errorf("%w (%d values)", object.ErrAliasExpansion, limit)
		}
	}
}

func expanded(n *yaml.Node, memo map[*yaml.Node]int, limit, depth int) (int, error) {
	if depth > 10_000 {
		return 0, fmt.Errorf("%w", object.ErrTooDeep)
	}
	if v, ok := memo[n]; ok {
		return v, nil
	}
	count := 1
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		v, err := expanded(n.Alias, memo, limit, depth+1)
		if err != nil {
			return 0, err
		}
		count += v
	}
	for _, c := range n.Content {
		v, err := expanded(c, memo, limit, depth+1)
		if err != nil {
			return 0, err
		}
		count += v
		if count > limit {
			return 0, fmt.Errorf("%w (%d values)", object.ErrAliasExpansion, limit)
		}
	}
	memo[n] = count
	return count, nil
}

// checkFlowDepth fails when flow collections ("[", "{") nest deeper than
// limit, which kustomize's recursive parser and its error messages (which
// print whole objects) do not bound. Quoted scalars are skipped.
func checkFlowDepth(data []byte, limit int) error {
	depth := 0
	var quote byte
	for _, b := range data {
		switch {
		case quote != 0:
			if b == quote {
				quote = 0
			} else if b == '\n' && quote == '\'' {
				quote = 0
			}
		case b == '"' || b == '\'':
			quote = b
		case b == '[' || b == '{':
			if depth++; depth > limit {
				return fmt.Errorf("%w (%d)", object.ErrTooDeep, limit)
			}
		case b == ']' || b == '}':
			if depth > 0 {
				depth--
			}
		case b == '\n' && depth == 0:
			quote = 0
		}
	}
	return nil
}
