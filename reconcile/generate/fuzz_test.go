package generate_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/converge-dev/converge/reconcile/generate"
)

// FuzzRender renders a hostile string in both modes. It must never panic,
// must fail only with the package's sentinels, must stay within the byte
// budget, and must not quote the secret parameter in an error.
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"{{cluster}}", "{{ cluster }}-{{nope}}", "{{", "}}{{", "{{.cluster}}", "{{.secret}}",
		`{{define "a"}}{{template "a" .}}{{end}}{{template "a" .}}`,
		"{{range 1000000000}}{{end}}", "{{range .l}}{{range .l}}{{range .l}}{{end}}{{end}}{{end}}",
		`{{indent 100000000 "x"}}`, `{{ .secret | b64dec }}`, `{{ regexMatch "(" "x" }}`,
		`{{ fromYaml "a: &a [*a]" }}`, `{{ index .l 99 }}`, `{{ dict "a" }}`, `{{ trunc -5 "abc" }}`,
		`{{ title "ÿx" }}`, `{{ toJson . }}`,
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, goTemplate bool) {
		o := generate.DefaultOptions()
		o.GoTemplate = goTemplate
		o.MaxBytes = 1 << 16
		p := generate.Params{"cluster": "dev", "secret": "s3cr3t-value", "l": []any{"a", "b"}}
		for _, opts := range [][]string{nil, {"missingkey=error"}} {
			o.GoTemplateOptions = opts
			out, err := generate.Render(map[string]any{s: s}, p, o)
			if err != nil {
				if !errors.Is(err, generate.ErrInvalid) && !errors.Is(err, generate.ErrTemplate) && !errors.Is(err, generate.ErrLimit) {
					t.Fatalf("untyped error: %v", err)
				}
				if strings.Contains(err.Error(), "s3cr3t-value") && !strings.Contains(s, "s3cr3t-value") {
					t.Fatalf("the error quotes a parameter's value: %v", err)
				}
				continue
			}
			m, ok := out.(map[string]any)
			if !ok || len(m) != 1 {
				t.Fatalf("a map of one key renders as %#v", out)
			}
			for k, v := range m {
				if len(k)+len(v.(string)) > o.MaxBytes {
					t.Fatalf("%d bytes beyond the budget of %d", len(k)+len(v.(string)), o.MaxBytes)
				}
			}
			if !goTemplate && !strings.Contains(s, "{{") && m[s] != s {
				t.Fatalf("a string without placeholders changed: %q", m[s])
			}
		}
	})
}

// FuzzParseFile parses a hostile Git generator file. It must never
// panic, must fail only with ErrInvalid or ErrLimit, must not quote the
// file, and what it returns must flatten into string parameters.
func FuzzParseFile(f *testing.F) {
	for _, s := range []string{
		"", "a: b", `{"a": {"b": [1, 2]}}`, "- a: 1\n- b: 2\n", "- 1\n", "a: &x [*x]",
		"a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n",
		strings.Repeat("[", 200), "password: hunter2\n\tx", "null", "~", "? [a]\n: b", "a: !!binary aGVsbG8=",
		"a: 1\na: 2\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o := generate.DefaultOptions()
		o.MaxFileBytes = 1 << 16
		objs, err := generate.ParseFile(data, o)
		if err != nil {
			if !errors.Is(err, generate.ErrInvalid) && !errors.Is(err, generate.ErrLimit) {
				t.Fatalf("untyped error: %v", err)
			}
			if len(data) > 12 && strings.Contains(err.Error(), string(data)) {
				t.Fatalf("the error quotes the file: %v", err)
			}
			return
		}
		if len(objs) == 0 && len(data) > 0 && !strings.HasPrefix(strings.TrimSpace(string(data)), "[") && !strings.HasPrefix(strings.TrimSpace(string(data)), "-") {
			t.Fatalf("a mapping gave no parameter set")
		}
		for _, obj := range objs {
			if obj == nil {
				t.Fatalf("a nil parameter set")
			}
		}
	})
}
