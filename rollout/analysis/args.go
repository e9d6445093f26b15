package analysis

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

// SecretResolver reads the value of an arg's valueFrom.secretKeyRef. The
// host knows the namespace and the client; the run calls it once per arg,
// at its first Step, and keeps the value in memory only (never in its
// state, errors or measurements). Implementations must not put the value
// in their errors.
type SecretResolver interface {
	ResolveSecret(ctx context.Context, ref SecretKeyRef) (string, error)
}

// SecretResolverFunc adapts a function to a [SecretResolver].
type SecretResolverFunc func(ctx context.Context, ref SecretKeyRef) (string, error)

// ResolveSecret calls f.
func (f SecretResolverFunc) ResolveSecret(ctx context.Context, ref SecretKeyRef) (string, error) {
	return f(ctx, ref)
}

var _ SecretResolver = SecretResolverFunc(nil)

// secretPlaceholder stands for a secret value until a measurement, as
// Rollouts' "temp-for-secret".
const secretPlaceholder = "temp-for-secret"

// flatten merges templates as Argo Rollouts' FlattenTemplates does:
// metrics appended in order (a duplicate name is an error), args merged
// by name (two values that differ are an error; a value is never replaced
// by none), dryRun and measurementRetention rules appended (a duplicate
// metricName is an error). AnalysisTemplates come before
// ClusterAnalysisTemplates, whatever the order given.
func flatten(templates []*Template) (*Template, error) {
	var ordered []*Template
	for _, kind := range []string{KindAnalysisTemplate, KindClusterAnalysisTemplate} {
		for _, t := range templates {
			if t == nil {
				return nil, fmt.Errorf("analysis: nil template")
			}
			k := t.Kind
			if k == "" {
				k = KindAnalysisTemplate
			}
			if k == kind {
				ordered = append(ordered, t)
			}
		}
	}
	if len(ordered) != len(templates) {
		for _, t := range templates {
			if t.Kind != "" && t.Kind != KindAnalysisTemplate && t.Kind != KindClusterAnalysisTemplate {
				return nil, &FieldError{Object: t.String(), Path: "kind", Reason: "not an analysis template", Err: ErrUnsupportedKind}
			}
		}
	}
	out := &Template{Kind: KindAnalysisTemplate, Name: "merged"}
	seen := map[string]string{}
	for _, t := range ordered {
		for _, m := range t.Metrics {
			if prev, ok := seen[m.Name]; ok {
				return nil, &FieldError{Object: t.String(), Path: "spec.metrics", Reason: fmt.Sprintf("two metrics have the same name %q (also in %s)", m.Name, prev), Err: ErrInvalidValue}
			}
			seen[m.Name] = t.String()
			out.Metrics = append(out.Metrics, m)
		}
		for _, a := range t.Args {
			if err := mergeTemplateArg(out, a, t); err != nil {
				return nil, err
			}
		}
		out.DryRun = append(out.DryRun, t.DryRun...)
		out.MeasurementRetention = append(out.MeasurementRetention, t.MeasurementRetention...)
	}
	return out, nil
}

func mergeTemplateArg(out *Template, a Arg, t *Template) error {
	for i, prev := range out.Args {
		if prev.Name != a.Name {
			continue
		}
		if prev.Value != nil && a.Value != nil && *prev.Value != *a.Value {
			return &FieldError{Object: t.String(), Path: "spec.args", Reason: fmt.Sprintf("argument %q specified multiple times with different values", a.Name), Err: ErrInvalidValue}
		}
		if prev.Value == nil {
			out.Args[i] = a
		}
		return nil
	}
	out.Args = append(out.Args, a)
	return nil
}

// mergeArgs applies the host's args over the templates' as Rollouts'
// MergeArgs does: an incoming arg sets the value (or valueFrom) of the
// template arg of its name, and one the templates do not declare is
// ignored; every arg must then have a value or a valueFrom.
func mergeArgs(incoming, declared []Arg) ([]Arg, error) {
	out := make([]Arg, len(declared))
	copy(out, declared)
	for _, a := range incoming {
		for i := range out {
			if out[i].Name != a.Name {
				continue
			}
			if a.Value != nil {
				v := *a.Value
				out[i].Value, out[i].ValueFrom = &v, nil
			} else if a.ValueFrom != nil {
				out[i].ValueFrom = a.ValueFrom
			}
		}
	}
	for _, a := range out {
		if a.Value == nil && a.ValueFrom == nil {
			return nil, fmt.Errorf("args.%s was not resolved: %w", a.Name, ErrMissingArg)
		}
	}
	return out, nil
}

// substitute replaces every {{tag}} in s as Rollouts' templateutil does
// (fasttemplate with "{{" and "}}", the tag trimmed of spaces): a tag
// that is not args.<a given arg> is an error naming it, as is a "{{"
// without "}}".
func substitute(s string, values map[string]string) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		rest := s[i+2:]
		j := strings.Index(rest, "}}")
		if j < 0 {
			return "", fmt.Errorf("cannot find end tag \"}}\": %w", ErrMissingArg)
		}
		tag := strings.TrimSpace(rest[:j])
		name, ok := strings.CutPrefix(tag, "args.")
		v, found := values[name]
		if !ok || !found {
			return "", fmt.Errorf("failed to resolve {{%s}}: %w", truncate(rest[:j], 64), ErrMissingArg)
		}
		b.WriteString(v)
		s = rest[j+2:]
	}
}

// argRefs lists the arg names that s refers to.
var argRef = regexp.MustCompile(`\{\{\s*args\.([^}]*?)\s*\}\}`)

func refersTo(s, name string) bool {
	for _, m := range argRef.FindAllStringSubmatch(s, -1) {
		if m[1] == name {
			return true
		}
	}
	return false
}

// substituteValue substitutes in every string and key of decoded JSON.
func substituteValue(v any, values map[string]string, path string) (any, error) {
	switch x := v.(type) {
	case string:
		s, err := substitute(x, values)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return s, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			nk, err := substitute(k, values)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			ne, err := substituteValue(e, values, join(path, k))
			if err != nil {
				return nil, err
			}
			out[nk] = ne
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			ne, err := substituteValue(e, values, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = ne
		}
		return out, nil
	}
	return v, nil
}

// anyRefers reports whether a string or key in decoded JSON refers to name.
func anyRefers(v any, name string) bool {
	switch x := v.(type) {
	case string:
		return refersTo(x, name)
	case map[string]any:
		for k, e := range x {
			if refersTo(k, name) || anyRefers(e, name) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if anyRefers(e, name) {
				return true
			}
		}
	}
	return false
}

// mask replaces every secret value in s, as Rollouts redacts them.
func mask(s string, secrets []string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, "*****")
		}
	}
	return s
}
