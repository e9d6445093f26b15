package kustomize

import (
	"fmt"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
)

// checkAliases fails when the YAML aliases in the file name would produce
// more than limit values, or its flow collections nest too deeply.
// kustomize's parser expands aliases without a bound, so a "billion laughs"
// file would otherwise exhaust memory. Only what aliases produce counts
// (see [object.CheckAliases]): a large file without aliases is fine.
func checkAliases(name string, data []byte, limit int) error {
	if err := checkFlowDepth(data, object.DefaultMaxDepth); err != nil {
		return &render.Error{Path: name, Err: err}
	}
	if err := object.CheckAliases(data, object.DecodeOptions{Source: name, MaxAliasNodes: limit}); err != nil {
		return &render.Error{Path: name, Err: err} // printed once: the DecodeError names it too
	}
	return nil
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
