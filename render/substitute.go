package render

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/converge-dev/converge/object"
)

// SubstituteOptions are the settings of [Substitute].
type SubstituteOptions struct {
	// Strict fails on a variable that has no value and no default, instead
	// of replacing it with the empty string.
	Strict bool
	// Decode bounds each object after substitution.
	Decode object.DecodeOptions
}

// DefaultSubstituteOptions returns non-strict substitution with the object
// package's default limits.
func DefaultSubstituteOptions() SubstituteOptions {
	return SubstituteOptions{Decode: object.DefaultDecodeOptions()}
}

// Substitute returns a [Processor] that replaces variables in every object,
// as Flux's post-build substitution does: each object is written as YAML,
// the text is expanded with [Expand] and vars, and the result is read back
// with the object package's limits. Values are inserted into the YAML text,
// so "replicas: ${REPLICAS}" becomes a number; a value holding YAML syntax
// changes structure, so vars must come from sources the host trusts (the
// host builds them, for example from ConfigMaps and Secrets).
//
// An object annotated with [object.AnnotationSubstitute] or
// [object.FluxSubstitute] set to "disabled" is left as it is. Errors name
// the object and the variable, never a value. vars is not retained
// beyond each call and must not be changed while the Processor is in use.
func Substitute(vars map[string]string, opts SubstituteOptions) Processor {
	return ProcessorFunc(func(ctx context.Context, set *object.Set) (*object.Set, error) {
		out := object.NewSet()
		for id, obj := range set.All() {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			source := set.Source(id)
			next, err := substituteObject(obj, vars, opts)
			if err != nil {
				return nil, &Error{Path: source, Err: fmt.Errorf("substitute %s: %w", id, err)}
			}
			if err := out.Add(next, source); err != nil {
				return nil, &Error{Path: source, Err: fmt.Errorf("substitute %s: %w", id, err)}
			}
		}
		return out, nil
	})
}

func substituteObject(obj *unstructured.Unstructured, vars map[string]string, opts SubstituteOptions) (*unstructured.Unstructured, error) {
	ann := obj.GetAnnotations()
	if ann[object.AnnotationSubstitute] == "disabled" || ann[object.FluxSubstitute] == "disabled" {
		return obj, nil
	}
	data, err := yaml.Marshal(obj.Object)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(string(data), "${") {
		return obj, nil
	}
	expanded, err := Expand(string(data), vars, opts.Strict)
	if err != nil {
		return nil, err
	}
	dopts := opts.Decode
	dopts.Source = "the substituted object"
	objs, err := object.DecodeBytes([]byte(expanded), dopts)
	if err != nil {
		return nil, err
	}
	if len(objs) != 1 {
		return nil, fmt.Errorf("%w: substitution turned one object into %d", ErrSyntax, len(objs))
	}
	return objs[0], nil
}

// Expand replaces the variables in s: "${NAME}" by vars[NAME],
// "${NAME:=default}" and "${NAME:-default}" by vars[NAME] or, when that is
// unset or empty, by default (taken literally, up to the first "}").
// "$${" is an escaped "${". A NAME that is unset gives "" or, when strict,
// an [ErrUnsetVariable] error; an unterminated "${" or an invalid name is an
// [ErrSyntax] error. Text that is not a variable is kept as it is. Errors
// give the line and the variable name, never a value.
func Expand(s string, vars map[string]string, strict bool) (string, error) {
	var b strings.Builder
	b.Grow(len(s))
	line := 1
	for i := 0; i < len(s); {
		c := s[i]
		if c == '\n' {
			line++
		}
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		if strings.HasPrefix(s[i:], "$${") {
			b.WriteString("${")
			i += 3
			continue
		}
		if s[i+1] != '{' {
			b.WriteByte(c)
			i++
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return "", fmt.Errorf("%w: line %d: unterminated \"${\"", ErrSyntax, line)
		}
		expr := s[i+2 : i+2+end]
		if strings.Contains(expr, "\n") {
			return "", fmt.Errorf("%w: line %d: unterminated \"${\"", ErrSyntax, line)
		}
		name, def, hasDef := expr, "", false
		if k := strings.Index(expr, ":"); k >= 0 {
			op := expr[k:]
			switch {
			case strings.HasPrefix(op, ":="), strings.HasPrefix(op, ":-"):
				name, def, hasDef = expr[:k], op[2:], true
			default:
				return "", fmt.Errorf("%w: line %d: unsupported operator in \"${%s}\"", ErrSyntax, line, safeName(expr[:k]))
			}
		}
		if !validName(name) {
			return "", fmt.Errorf("%w: line %d: invalid variable name %q", ErrSyntax, line, safeName(name))
		}
		v, ok := vars[name]
		switch {
		case hasDef && v == "":
			v = def
		case !ok && strict:
			return "", fmt.Errorf("%w: line %d: %s", ErrUnsetVariable, line, name)
		}
		b.WriteString(v)
		i += 2 + end + 1
	}
	return b.String(), nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// safeName bounds what of an invalid name reaches an error message.
func safeName(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return s
}
