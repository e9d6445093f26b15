package argocd

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/reconcile/internal/manifest"
)

// ignoreDifferences reads spec.ignoreDifferences into ignore rules.
func ignoreDifferences(d *manifest.Doc, list []*manifest.Node) []diff.IgnoreRule {
	var out []diff.IgnoreRule
	for _, n := range list {
		r := diff.IgnoreRule{
			Group: n.Str("group"), Kind: n.Str("kind"),
			Name: n.Str("name"), Namespace: n.Str("namespace"),
			JSONPointers: n.Strs("jsonPointers"),
			Managers:     n.Strs("managedFieldsManagers"),
			Reason:       "Argo CD ignoreDifferences",
		}
		for _, f := range []struct {
			name string
			v    *string
		}{{"group", &r.Group}, {"kind", &r.Kind}} {
			switch {
			case *f.v == "*":
				*f.v = ""
			case strings.ContainsAny(*f.v, "*?["):
				d.Fail(n.At(f.name), ErrUnsupported, "%q: a glob other than \"*\" is not supported here", manifest.Short(*f.v))
			}
		}
		if str(n.Map()["group"]) == "" && r.Kind != "" {
			d.Warn(n.At("group"), "no group is the core group to Argo CD; converge's rule matches kind %q in every group", manifest.Short(r.Kind))
		}
		for i, e := range n.Strs("jqPathExpressions") {
			p, err := jqPath(e)
			if err != nil {
				d.Fail(fmt.Sprintf("%s[%d]", n.At("jqPathExpressions"), i), ErrUnsupported, "%v", err)
				continue
			}
			r.Paths = append(r.Paths, p)
		}
		if err := diff.ValidateIgnoreRules([]diff.IgnoreRule{r}); err != nil {
			d.Fail(n.Path(), ErrInvalid, "%v", err)
			continue
		}
		out = append(out, r)
	}
	return out
}

// errJQ says which jq expressions are translated.
var errJQ = errors.New(`only paths (.a.b, ."x", ["x"], [], [N]) and select(.key == value) after [] have an equivalent in converge's paths`)

// jqPath translates the common forms of Argo CD's jqPathExpressions to
// converge's path syntax (see diff.IgnoreRule.Paths):
//
//	.spec.replicas                                             → .spec.replicas
//	.metadata.annotations."example.com/x"                      → .metadata.annotations["example.com/x"]
//	.spec.template.spec.containers[] | select(.name == "api") | .image
//	                                                           → .spec.template.spec.containers[name="api"].image
//	.webhooks[]?.clientConfig.caBundle                         → .webhooks[*].clientConfig.caBundle
//
// Anything else (functions, recursion, other conditions) is an error.
func jqPath(expr string) (string, error) {
	fail := func() (string, error) { return "", fmt.Errorf("%q: %w", manifest.Short(expr), errJQ) }
	segs, ok := splitPipes(expr)
	if !ok || len(segs) == 0 {
		return fail()
	}
	var out strings.Builder
	lastAll := -1 // where the last "[*]" starts in out, when it ends out
	for i, seg := range segs {
		seg = strings.TrimSpace(seg)
		if strings.HasPrefix(seg, "select(") && strings.HasSuffix(seg, ")") {
			key, value, ok := selectCondition(seg[len("select(") : len(seg)-1])
			if !ok || lastAll < 0 || lastAll+3 != out.Len() {
				return fail()
			}
			s := out.String()[:lastAll]
			out.Reset()
			out.WriteString(s + "[" + key + "=" + strconv.Quote(value) + "]")
			lastAll = -1
			continue
		}
		if seg == "." && i > 0 {
			continue
		}
		if !strings.HasPrefix(seg, ".") && !(i > 0 && strings.HasPrefix(seg, "[")) {
			return fail()
		}
		n, ok := jqSteps(seg, &out, &lastAll)
		if !ok || n == 0 && i == 0 {
			return fail()
		}
	}
	if out.Len() == 0 {
		return fail()
	}
	return out.String(), nil
}

// splitPipes splits at the '|' outside strings and parentheses.
func splitPipes(s string) ([]string, bool) {
	var out []string
	depth, start, inStr := 0, 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth < 0 {
				return nil, false
			}
		case c == '|' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if inStr || depth != 0 {
		return nil, false
	}
	return append(out, s[start:]), true
}

// jqSteps translates a path segment, appending converge steps to out. It
// returns the number of steps.
func jqSteps(s string, out *strings.Builder, lastAll *int) (int, bool) {
	n := 0
	for s != "" {
		switch {
		case s[0] == '?':
			s = s[1:] // errors suppressed: converge ignores missing paths anyway
			continue
		case s == ".":
			return n, n > 0
		case strings.HasPrefix(s, `."`):
			key, rest, ok := jqString(s[1:])
			if !ok {
				return 0, false
			}
			writeField(out, key)
			s = rest
		case strings.HasPrefix(s, ".["):
			s = s[1:]
			continue
		case s[0] == '.':
			end := 1
			for end < len(s) && isIdent(s[end]) {
				end++
			}
			if end == 1 {
				return 0, false
			}
			writeField(out, s[1:end])
			s = s[end:]
		case strings.HasPrefix(s, "[]"):
			*lastAll = out.Len()
			out.WriteString("[*]")
			s = s[2:]
			n++
			continue
		case strings.HasPrefix(s, `["`):
			key, rest, ok := jqString(s[1:])
			if !ok || !strings.HasPrefix(rest, "]") {
				return 0, false
			}
			writeField(out, key)
			s = rest[1:]
		case s[0] == '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return 0, false
			}
			idx, err := strconv.Atoi(s[1:end])
			if err != nil || idx < 0 {
				return 0, false
			}
			out.WriteString("[" + strconv.Itoa(idx) + "]")
			s = s[end+1:]
		default:
			return 0, false
		}
		*lastAll = -1
		n++
	}
	return n, true
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// jqString reads a JSON string at the start of s.
func jqString(s string) (value, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", false
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			if err := json.Unmarshal([]byte(s[:i+1]), &value); err != nil {
				return "", "", false
			}
			return value, s[i+1:], true
		}
	}
	return "", "", false
}

// writeField writes a field step: ".name", or `["a.b/c"]` for a key
// converge's dotted form cannot hold.
func writeField(out *strings.Builder, key string) {
	plain := key != ""
	for i := 0; i < len(key); i++ {
		if !isIdent(key[i]) && key[i] != '-' {
			plain = false
			break
		}
	}
	if plain {
		out.WriteString("." + key)
		return
	}
	out.WriteString("[" + strconv.Quote(key) + "]")
}

// selectCondition reads `.key == value` (or `value == .key`); value is a
// JSON string, number or boolean.
func selectCondition(c string) (key, value string, ok bool) {
	l, r, found := strings.Cut(c, "==")
	if !found || strings.Contains(r, "==") {
		return "", "", false
	}
	l, r = strings.TrimSpace(l), strings.TrimSpace(r)
	if !strings.HasPrefix(l, ".") {
		l, r = r, l
	}
	key = strings.TrimPrefix(l, ".")
	if key == "" {
		return "", "", false
	}
	for i := 0; i < len(key); i++ {
		if !isIdent(key[i]) && key[i] != '-' {
			return "", "", false
		}
	}
	switch {
	case strings.HasPrefix(r, `"`):
		v, rest, ok := jqString(r)
		return key, v, ok && rest == ""
	case r == "true" || r == "false":
		return key, r, true
	}
	f, err := strconv.ParseFloat(r, 64)
	if err != nil || r != strings.TrimSpace(r) {
		return "", "", false
	}
	if f == float64(int64(f)) {
		return key, strconv.FormatInt(int64(f), 10), true
	}
	return key, strconv.FormatFloat(f, 'g', -1, 64), true
}
