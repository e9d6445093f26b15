package generate

import (
	"bytes"
	"fmt"

	"sigs.k8s.io/yaml"

	"github.com/converge-dev/converge/object"
)

// ParseFile reads a Git files generator's file as Argo CD does: one YAML
// or JSON mapping, or a list of mappings (one parameter set each); an
// empty file is one empty mapping. Numbers come out as float64, as
// through Argo CD's JSON round trip.
//
// It is bounded by o: the file by MaxFileBytes, nesting by MaxDepth, the
// list by MaxParams and YAML aliases by object's alias limit. It fails
// with [ErrLimit] or [ErrInvalid] and never quotes the file's content.
func ParseFile(data []byte, o Options) ([]map[string]any, error) {
	o = o.withDefaults()
	if int64(len(data)) > o.MaxFileBytes {
		return nil, fmt.Errorf("%w: the file exceeds %d bytes", ErrLimit, o.MaxFileBytes)
	}
	if err := object.CheckAliases(data, object.DecodeOptions{MaxDepth: o.MaxDepth}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLimit, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return []map[string]any{{}}, nil
	}
	var v any
	if err := safeUnmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%w: not YAML or JSON: %s", ErrInvalid, err)
	}
	if _, err := copyTree(v, o.MaxDepth); err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case nil:
		return []map[string]any{{}}, nil
	case map[string]any:
		return []map[string]any{v}, nil
	case []any:
		if len(v) > o.MaxParams {
			return nil, fmt.Errorf("%w: more than %d elements", ErrLimit, o.MaxParams)
		}
		out := make([]map[string]any, 0, len(v))
		for i, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("[%d]: %w: %v, not %s", i, ErrInvalid, errNotObject, typeName(e))
			}
			out = append(out, m)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: the file holds %s, not a mapping or a list of mappings", ErrInvalid, typeName(v))
}

// safeUnmarshal turns a parser panic into an error: the YAML parser is
// third-party code run on untrusted bytes.
func safeUnmarshal(data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the parser failed")
		}
	}()
	if err := yaml.Unmarshal(data, v); err != nil {
		return errSyntax(err)
	}
	return nil
}

// errSyntax keeps a YAML error's position and drops the rest, which can
// quote the file.
func errSyntax(err error) error {
	m := err.Error()
	// "error converting YAML to JSON: yaml: line 3: ..." keeps the line.
	if i := bytes.Index([]byte(m), []byte("line ")); i >= 0 {
		j := i + 5
		for j < len(m) && m[j] >= '0' && m[j] <= '9' {
			j++
		}
		return fmt.Errorf("syntax error at %s", m[i:j])
	}
	return fmt.Errorf("syntax error")
}
