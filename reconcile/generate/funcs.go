package generate

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"unicode"
	"unicode/utf8"

	"sigs.k8s.io/yaml"
)

// maxIndent bounds indent and nindent, which would otherwise allocate
// whatever width a template asks for before the byte budget sees it.
const maxIndent = 256

// Funcs returns the functions Go templates may call: a safe subset of
// the sprig functions Argo CD offers, under sprig's names and argument
// order, plus Argo CD's normalize, toYaml and fromYaml. There is nothing
// that reads the environment, a file, the network or the clock, nothing
// random, and nothing that builds an unbounded string or number
// sequence (no repeat, until, seq or arithmetic), so a template's output
// depends only on its parameters and stays within the byte budget.
//
// Each call returns a new map.
func Funcs() template.FuncMap {
	return template.FuncMap{
		// strings
		"lower":      strings.ToLower,
		"upper":      strings.ToUpper,
		"title":      title,
		"trim":       strings.TrimSpace,
		"trimAll":    func(cut, s string) string { return strings.Trim(s, cut) },
		"trimPrefix": func(prefix, s string) string { return strings.TrimPrefix(s, prefix) },
		"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
		"replace":    func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
		"contains":   func(sub, s string) bool { return strings.Contains(s, sub) },
		"hasPrefix":  func(prefix, s string) bool { return strings.HasPrefix(s, prefix) },
		"hasSuffix":  func(suffix, s string) bool { return strings.HasSuffix(s, suffix) },
		"trunc":      truncate,
		"quote":      func(v any) string { return fmt.Sprintf("%q", toString(v)) },
		"squote":     func(v any) string { return "'" + toString(v) + "'" },
		"indent":     indent,
		"nindent":    func(n int, s string) (string, error) { s, err := indent(n, s); return "\n" + s, err },
		"splitList":  func(sep, s string) []string { return strings.Split(s, sep) },
		"join":       joinList,
		"toString":   toString,
		"normalize":  SanitizeName,
		"b64enc":     func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		"b64dec":     b64dec,
		"sha256sum":  func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) },
		"regexMatch": regexMatch,
		"regexReplaceAll": func(re, s, repl string) (string, error) {
			r, err := regexp.Compile(re)
			if err != nil {
				return "", errors.New("the regular expression does not compile")
			}
			return r.ReplaceAllString(s, repl), nil
		},
		// defaults and logic
		"default":  dfault,
		"empty":    empty,
		"coalesce": coalesce,
		"ternary": func(yes, no any, cond bool) any {
			if cond {
				return yes
			}
			return no
		},
		// collections
		"list":   func(v ...any) []any { return v },
		"dict":   dict,
		"get":    func(m map[string]any, k string) any { return m[k] },
		"hasKey": func(m map[string]any, k string) bool { _, ok := m[k]; return ok },
		"keys":   keys,
		// encodings
		"toJson":       toJSON,
		"toPrettyJson": toPrettyJSON,
		"fromJson":     fromJSON,
		"toYaml":       toYAML,
		"fromYaml":     fromYAML,
	}
}

func title(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		r, n := utf8.DecodeRuneInString(w)
		words[i] = string(unicode.ToUpper(r)) + w[n:]
	}
	return strings.Join(words, " ")
}

func truncate(n int, s string) string {
	if n >= 0 && len(s) > n {
		return s[:n]
	}
	if n < 0 && len(s) > -n {
		return s[len(s)+n:]
	}
	return s
}

func indent(n int, s string) (string, error) {
	if n < 0 || n > maxIndent {
		return "", fmt.Errorf("indent must be between 0 and %d", maxIndent)
	}
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad), nil
}

func joinList(sep string, v any) (string, error) {
	rv := reflect.ValueOf(v)
	if v == nil {
		return "", nil
	}
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return toString(v), nil
	}
	parts := make([]string, rv.Len())
	for i := range parts {
		parts[i] = toString(rv.Index(i).Interface())
	}
	return strings.Join(parts, sep), nil
}

func toString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []byte:
		return string(v)
	case error:
		return v.Error()
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprint(v)
}

func b64dec(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", errors.New("not base64")
	}
	return string(b), nil
}

func regexMatch(re, s string) (bool, error) {
	r, err := regexp.Compile(re)
	if err != nil {
		return false, errors.New("the regular expression does not compile")
	}
	return r.MatchString(s), nil
}

// empty is sprig's: the zero value of its type, nil, or an empty
// collection.
func empty(v any) bool {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return true
	}
	switch rv.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return rv.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return rv.IsNil()
	}
	return rv.IsZero()
}

func dfault(d any, given ...any) any {
	if len(given) == 0 || empty(given[0]) {
		return d
	}
	return given[0]
}

func coalesce(v ...any) any {
	for _, e := range v {
		if !empty(e) {
			return e
		}
	}
	return nil
}

func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, errors.New("dict takes key and value pairs")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		m[toString(kv[i])] = kv[i+1]
	}
	return m, nil
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", errors.New("the value cannot be written as JSON")
	}
	return string(b), nil
}

func toPrettyJSON(v any) (string, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "", errors.New("the value cannot be written as JSON")
	}
	return string(b), nil
}

func fromJSON(s string) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

// toYAML is Argo CD's (after Helm's): the YAML of v without its final
// newline.
func toYAML(v any) (string, error) {
	b, err := yaml.Marshal(v)
	if err != nil {
		return "", errors.New("the value cannot be written as YAML")
	}
	return strings.TrimSuffix(string(b), "\n"), nil
}

func fromYAML(s string) (map[string]any, error) {
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		return nil, errors.New("not a YAML mapping")
	}
	return m, nil
}

var invalidNameChars = regexp.MustCompile(`[^-a-z0-9.]`)

// SanitizeName makes s a DNS subdomain name as Argo CD's normalize and
// its basenameNormalized and nameNormalized parameters do: lower case,
// every character other than a-z, 0-9, '-' and '.' replaced by '-', at
// most 253 characters, without a leading or trailing '-' or '.'.
func SanitizeName(s string) string {
	s = strings.ToLower(s)
	s = invalidNameChars.ReplaceAllString(s, "-")
	if len(s) > 253 {
		s = s[:253]
	}
	return strings.Trim(s, "-.")
}
