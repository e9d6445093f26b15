package generate

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"
)

// Render substitutes the parameters p into every string of v and into
// every key of its maps, as Argo CD renders an ApplicationSet's template:
// v is a tree of map[string]any, []any and scalars (an unstructured
// object); other scalars are kept as they are. It returns a new tree and
// never changes v.
//
// In the default mode a string's {{name}} placeholders (spaces around the
// name trimmed) take the string parameter name; a placeholder that names
// no string parameter is kept as it is, as Argo CD keeps it. In Go
// template mode each string is a text/template run over p with the
// package's safe functions ([Funcs]) and o.GoTemplateOptions.
//
// It fails with [ErrInvalid] for a template that does not parse, with
// [ErrTemplate] for one that fails when it runs, and with [ErrLimit] when
// v nests deeper than o.MaxDepth or the result exceeds o.MaxBytes. Errors
// name the path of the string and never quote a parameter's value.
func Render(v any, p Params, o Options) (any, error) {
	o = o.withDefaults()
	if err := checkOptions(o); err != nil {
		return nil, err
	}
	r := &renderer{p: p, o: o, budget: o.MaxBytes}
	return r.value(v, "", 0)
}

// String renders one string as [Render] renders each string of a tree.
func String(s string, p Params, o Options) (string, error) {
	o = o.withDefaults()
	if err := checkOptions(o); err != nil {
		return "", err
	}
	r := &renderer{p: p, o: o, budget: o.MaxBytes}
	return r.text(s, "")
}

type renderer struct {
	p      Params
	o      Options
	budget int
}

func (r *renderer) spend(n int, at string) error {
	r.budget -= n
	if r.budget < 0 {
		return fmt.Errorf("%s: %w: the rendered template exceeds %d bytes", where(at), ErrLimit, r.o.MaxBytes)
	}
	return nil
}

func where(at string) string {
	if at == "" {
		return "template"
	}
	return at
}

func join(at, k string) string {
	if at == "" {
		return k
	}
	return at + "." + k
}

func (r *renderer) value(v any, at string, depth int) (any, error) {
	if depth > r.o.MaxDepth {
		return nil, fmt.Errorf("%s: %w: nested deeper than %d", where(at), ErrLimit, r.o.MaxDepth)
	}
	if err := r.spend(8, at); err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case string:
		return r.text(v, at)
	case map[string]any:
		out := make(map[string]any, len(v))
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys) // errors and budget independent of map order
		for _, k := range keys {
			nk, err := r.text(k, join(at, k))
			if err != nil {
				return nil, err
			}
			if _, dup := out[nk]; dup {
				return nil, fmt.Errorf("%s: %w: two keys are the same after rendering", join(at, k), ErrInvalid)
			}
			nv, err := r.value(v[k], join(at, k), depth+1)
			if err != nil {
				return nil, err
			}
			out[nk] = nv
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			ne, err := r.value(e, fmt.Sprintf("%s[%d]", at, i), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = ne
		}
		return out, nil
	}
	return v, nil
}

func (r *renderer) text(s, at string) (string, error) {
	var out string
	var err error
	if r.o.GoTemplate {
		out, err = r.goTemplate(s, at)
	} else {
		out, err = fastTemplate(s, r.p, at, r.budget)
	}
	if err != nil {
		return "", err
	}
	return out, r.spend(len(out), at)
}

// fastTemplate is Argo CD's default substitution (valyala/fasttemplate
// with "{{" and "}}"): string parameters only, unknown names kept.
func fastTemplate(s string, p Params, at string, budget int) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		rest := s[i+2:]
		j := strings.Index(rest, "}}")
		if j < 0 {
			return "", fmt.Errorf("%s: %w: a {{ without }}", where(at), ErrInvalid)
		}
		tag := rest[:j]
		name := strings.TrimSpace(tag)
		if v, ok := p[name].(string); ok && name != "" {
			b.WriteString(v)
		} else {
			b.WriteString("{{" + tag + "}}")
		}
		if b.Len() > budget {
			return "", fmt.Errorf("%s: %w: the rendered template exceeds the byte limit", where(at), ErrLimit)
		}
		s = rest[j+2:]
	}
	return b.String(), nil
}

// maxRangeNesting bounds nested range actions: each level multiplies the
// work by the length of what it ranges over, and an empty body writes
// nothing the byte budget could count.
const maxRangeNesting = 2

func (r *renderer) goTemplate(s, at string) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	t, err := template.New("").Funcs(Funcs()).Parse(s)
	if err != nil {
		return "", fmt.Errorf("%s: %w: %s", where(at), ErrInvalid, parseMessage(err))
	}
	if err := checkTree(t.Root, 0); err != nil {
		return "", fmt.Errorf("%s: %w: %v", where(at), ErrInvalid, err)
	}
	for _, opt := range r.o.GoTemplateOptions {
		t.Option(opt) // checked by checkOptions: Option panics on others
	}
	w := &limitWriter{left: r.budget}
	if err := t.Execute(w, map[string]any(r.p)); err != nil {
		if errors.Is(err, errWriteLimit) {
			return "", fmt.Errorf("%s: %w: the rendered template exceeds %d bytes", where(at), ErrLimit, r.o.MaxBytes)
		}
		return "", fmt.Errorf("%s: %w: %s", where(at), ErrTemplate, execMessage(err))
	}
	return w.b.String(), nil
}

// parseMessage and execMessage drop text/template's "template: :1:5:"
// prefix and keep its reason, which names fields and functions, never a
// parameter's value.
func parseMessage(err error) string {
	m := err.Error()
	m = strings.TrimPrefix(m, "template: ")
	return m
}

func execMessage(err error) string {
	var ee template.ExecError
	if errors.As(err, &ee) {
		return strings.TrimPrefix(ee.Err.Error(), "template: ")
	}
	return strings.TrimPrefix(err.Error(), "template: ")
}

// checkTree refuses what could make one string's execution unbounded
// without writing a byte: {{template}} and {{block}} (which may recurse),
// ranges over a number literal, and ranges nested deeper than
// maxRangeNesting.
func checkTree(n parse.Node, ranges int) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkTree(c, ranges); err != nil {
				return err
			}
		}
	case *parse.TemplateNode:
		return errors.New("{{template}} and {{block}} are not allowed")
	case *parse.RangeNode:
		if ranges+1 > maxRangeNesting {
			return fmt.Errorf("ranges nest deeper than %d", maxRangeNesting)
		}
		if n.Pipe != nil {
			for _, c := range n.Pipe.Cmds {
				for _, a := range c.Args {
					if _, ok := a.(*parse.NumberNode); ok {
						return errors.New("range over a number is not allowed")
					}
				}
			}
		}
		if err := checkTree(n.List, ranges+1); err != nil {
			return err
		}
		return checkTree(n.ElseList, ranges)
	case *parse.IfNode:
		if err := checkTree(n.List, ranges); err != nil {
			return err
		}
		return checkTree(n.ElseList, ranges)
	case *parse.WithNode:
		if err := checkTree(n.List, ranges); err != nil {
			return err
		}
		return checkTree(n.ElseList, ranges)
	}
	return nil
}

var errWriteLimit = errors.New("write limit")

type limitWriter struct {
	b    strings.Builder
	left int
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		return 0, errWriteLimit
	}
	w.left -= len(p)
	return w.b.Write(p)
}

// checkOptions accepts the text/template options Argo CD users write:
// missingkey=default, invalid, zero or error.
func checkOptions(o Options) error {
	for _, opt := range o.GoTemplateOptions {
		switch opt {
		case "missingkey=default", "missingkey=invalid", "missingkey=zero", "missingkey=error":
		default:
			return fmt.Errorf("goTemplateOptions: %w: %q is not missingkey=default, invalid, zero or error", ErrInvalid, trunc(opt))
		}
	}
	return nil
}

func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Placeholders returns the names (spaces trimmed) of the {{name}}
// placeholders of s in the default mode, in order, so that a host can
// warn about those that name no parameter (Argo CD keeps them as
// written). It fails with [ErrInvalid] for a {{ without }}.
func Placeholders(s string) ([]string, error) {
	var out []string
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			return out, nil
		}
		rest := s[i+2:]
		j := strings.Index(rest, "}}")
		if j < 0 {
			return nil, fmt.Errorf("%w: a {{ without }}", ErrInvalid)
		}
		out = append(out, strings.TrimSpace(rest[:j]))
		s = rest[j+2:]
	}
}
