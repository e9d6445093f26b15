package diff

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
)

// IgnoreRule makes differences in some fields of some objects not count as
// drift. Empty scope fields match anything; Namespace and Name accept
// path.Match globs ("team-*"). A rule keeps fields out of verdicts and
// diffs; to keep an apply from taking them back from the manager that owns
// them, apply what [Differ.StripIgnored] returns.
type IgnoreRule struct {
	Group, Kind, Namespace, Name string

	// JSONPointers are RFC 6901 pointers: "/spec/replicas",
	// "/metadata/annotations/example.com~1checksum".
	JSONPointers []string
	// Paths are path expressions: ".spec.replicas",
	// ".spec.template.spec.containers[*].image",
	// ".spec.template.spec.containers[name=api].resources",
	// `.metadata.annotations["example.com/checksum"]`.
	Paths []string
	// Managers are field managers whose fields are not drift, such as an
	// HPA ("kube-controller-manager") or a mutating operator.
	Managers []string

	// Reason documents the rule.
	Reason string
}

// ErrInvalidRule is matched by errors for rules that do not parse.
var ErrInvalidRule = errors.New("invalid ignore rule")

// DefaultIgnoreRules are the rules every [Differ] starts with, unless
// WithoutDefaultIgnoreRules is given.
func DefaultIgnoreRules() []IgnoreRule {
	return []IgnoreRule{
		{
			Paths:  []string{".status"},
			Reason: "status is written by controllers, and an apply to the main resource does not change it",
		},
		{
			Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration",
			Paths:  []string{".webhooks[*].clientConfig.caBundle"},
			Reason: "injected by cert-manager's cainjector or the webhook's own operator; Git holds a placeholder",
		},
		{
			Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration",
			Paths:  []string{".webhooks[*].clientConfig.caBundle"},
			Reason: "injected by cert-manager's cainjector or the webhook's own operator; Git holds a placeholder",
		},
		{
			Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition",
			Paths:  []string{".spec.conversion.webhook.clientConfig.caBundle"},
			Reason: "injected by cert-manager's cainjector for conversion webhooks",
		},
		{
			Group: "apiregistration.k8s.io", Kind: "APIService",
			Paths:  []string{".spec.caBundle"},
			Reason: "injected by the aggregated API server's operator or cert-manager",
		},
	}
}

// compiledRule is a parsed IgnoreRule.
type compiledRule struct {
	rule  IgnoreRule
	paths [][]step
}

// ValidateIgnoreRules reports the first rule that does not parse, so hosts
// can check configuration when they load it.
func ValidateIgnoreRules(rules []IgnoreRule) error {
	_, err := compileRules(rules)
	return err
}

func compileRules(rules []IgnoreRule) ([]compiledRule, error) {
	out := make([]compiledRule, 0, len(rules))
	for i, r := range rules {
		c := compiledRule{rule: r}
		for _, g := range []string{r.Namespace, r.Name} {
			if _, err := path.Match(g, ""); err != nil {
				return nil, fmt.Errorf("%w %d: glob %q: %v", ErrInvalidRule, i, g, err)
			}
		}
		for _, p := range r.JSONPointers {
			steps, err := parseJSONPointer(p)
			if err != nil {
				return nil, fmt.Errorf("%w %d: %w", ErrInvalidRule, i, err)
			}
			c.paths = append(c.paths, steps)
		}
		for _, p := range r.Paths {
			steps, err := parsePath(p)
			if err != nil {
				return nil, fmt.Errorf("%w %d: %w", ErrInvalidRule, i, err)
			}
			c.paths = append(c.paths, steps)
		}
		out = append(out, c)
	}
	return out, nil
}

func (c compiledRule) matches(id object.ID) bool {
	r := c.rule
	return (r.Group == "" || r.Group == id.Group) &&
		(r.Kind == "" || r.Kind == id.Kind) &&
		glob(r.Namespace, id.Namespace) && glob(r.Name, id.Name)
}

func glob(pattern, s string) bool {
	if pattern == "" {
		return true
	}
	ok, _ := path.Match(pattern, s)
	return ok
}

// step is one element of a parsed path.
type step struct {
	kind  stepKind
	field string // stepField; the key of stepSelect
	value string // stepSelect
	index int    // stepIndex
}

type stepKind int

const (
	stepField  stepKind = iota // .name or ["name"]
	stepIndex                  // [3]
	stepAll                    // [*]
	stepSelect                 // [key=value]
)

// parsePath parses a path expression such as
// `.spec.template.spec.containers[name=api].env[*].value` or
// `.metadata.annotations["example.com/x"]`.
func parsePath(expr string) ([]step, error) {
	if !strings.HasPrefix(expr, ".") && !strings.HasPrefix(expr, "[") {
		return nil, fmt.Errorf("path %q: must start with '.' or '['", expr)
	}
	var steps []step
	s := expr
	for s != "" {
		switch s[0] {
		case '.':
			s = s[1:]
			end := strings.IndexAny(s, ".[")
			if end < 0 {
				end = len(s)
			}
			if end == 0 {
				return nil, fmt.Errorf("path %q: empty field name", expr)
			}
			steps = append(steps, step{kind: stepField, field: s[:end]})
			s = s[end:]
		case '[':
			end := closingBracket(s)
			if end < 0 {
				return nil, fmt.Errorf("path %q: unterminated '['", expr)
			}
			inner := s[1:end]
			s = s[end+1:]
			st, err := bracketStep(inner)
			if err != nil {
				return nil, fmt.Errorf("path %q: %w", expr, err)
			}
			steps = append(steps, st)
		default:
			return nil, fmt.Errorf("path %q: unexpected %q", expr, s[0])
		}
	}
	return steps, nil
}

// closingBracket finds the ']' that closes s[0] == '[', skipping quoted
// strings.
func closingBracket(s string) int {
	inQuote := false
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == '\\' && inQuote:
			i++
		case s[i] == '"':
			inQuote = !inQuote
		case s[i] == ']' && !inQuote:
			return i
		}
	}
	return -1
}

func bracketStep(inner string) (step, error) {
	switch {
	case inner == "*":
		return step{kind: stepAll}, nil
	case strings.HasPrefix(inner, `"`):
		f, err := strconv.Unquote(inner)
		if err != nil {
			return step{}, fmt.Errorf("bad quoted key %s", inner)
		}
		return step{kind: stepField, field: f}, nil
	case strings.Contains(inner, "="):
		k, v, _ := strings.Cut(inner, "=")
		if k == "" {
			return step{}, fmt.Errorf("empty key in [%s]", inner)
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		}
		return step{kind: stepSelect, field: k, value: v}, nil
	default:
		n, err := strconv.Atoi(inner)
		if err != nil || n < 0 {
			return step{}, fmt.Errorf("[%s] is not an index, '*', \"key\" or key=value", inner)
		}
		return step{kind: stepIndex, index: n}, nil
	}
}

// parseJSONPointer parses an RFC 6901 pointer. Numeric tokens index lists
// and name map keys alike, as in JSON Patch.
func parseJSONPointer(ptr string) ([]step, error) {
	if ptr == "" {
		return nil, nil
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, fmt.Errorf("JSON pointer %q: must start with '/'", ptr)
	}
	var steps []step
	for _, tok := range strings.Split(ptr[1:], "/") {
		if strings.Contains(strings.ReplaceAll(strings.ReplaceAll(tok, "~0", ""), "~1", ""), "~") {
			return nil, fmt.Errorf("JSON pointer %q: bad escape in %q", ptr, tok)
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		st := step{kind: stepField, field: tok}
		if n, err := strconv.Atoi(tok); err == nil && n >= 0 && strconv.Itoa(n) == tok {
			st.index = n
			st.kind = stepIndexOrField
		}
		steps = append(steps, st)
	}
	return steps, nil
}

// stepIndexOrField is a JSON pointer token that indexes a list or names a
// map key, depending on what it meets.
const stepIndexOrField stepKind = 100

// removePath deletes what steps point at in obj. Missing paths are no-ops.
func removePath(obj any, steps []step) {
	if len(steps) == 0 {
		return
	}
	st, last := steps[0], len(steps) == 1
	switch v := obj.(type) {
	case map[string]any:
		switch st.kind {
		case stepField, stepIndexOrField:
			if last {
				delete(v, st.field)
			} else if child, ok := v[st.field]; ok {
				removePath(child, steps[1:])
			}
		case stepAll:
			for k, child := range v {
				if last {
					delete(v, k)
				} else {
					removePath(child, steps[1:])
				}
			}
		}
	case []any:
		for i, child := range v {
			if !st.selects(i, child) {
				continue
			}
			if last {
				// Lists keep their length until every rule has run, so
				// that the indexes of later rules count from the list as
				// written; applyRules then drops the marked elements.
				v[i] = removedElement{}
			} else {
				removePath(child, steps[1:])
			}
		}
	}
}

func (st step) selects(i int, elem any) bool {
	switch st.kind {
	case stepAll:
		return true
	case stepIndex, stepIndexOrField:
		return i == st.index
	case stepSelect:
		m, ok := elem.(map[string]any)
		if !ok {
			return false
		}
		x, ok := m[st.field]
		return ok && fmt.Sprint(x) == st.value
	}
	return false
}

// removedElement marks a list element an ignore rule removed.
type removedElement struct{}

// applyRules removes the fields of every matching rule from objs.
func applyRules(rules []compiledRule, id object.ID, objs ...*unstructured.Unstructured) {
	matched := false
	for _, r := range rules {
		if !r.matches(id) || len(r.paths) == 0 {
			continue
		}
		matched = true
		for _, steps := range r.paths {
			for _, o := range objs {
				if o != nil {
					removePath(o.Object, steps)
				}
			}
		}
	}
	if matched {
		for _, o := range objs {
			if o != nil {
				dropRemoved(o.Object)
			}
		}
	}
}

// dropRemoved deletes the list elements removePath marked, in place.
func dropRemoved(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = dropRemoved(x)
		}
	case []any:
		out := v[:0]
		for _, x := range v {
			if _, gone := x.(removedElement); !gone {
				out = append(out, dropRemoved(x))
			}
		}
		return out
	}
	return v
}

// ignoredManagers returns the managers whose fields matching rules ignore.
func ignoredManagers(rules []compiledRule, id object.ID) []string {
	var out []string
	for _, r := range rules {
		if r.matches(id) {
			out = append(out, r.rule.Managers...)
		}
	}
	return out
}
