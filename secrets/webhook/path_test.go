package webhook

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/secrets"
)

func TestParsePath(t *testing.T) {
	cases := map[string]struct {
		reason string
		path   string
		want   []string
		err    string
	}{
		"empty":          {reason: "the whole document", path: ""},
		"dollar":         {reason: "the whole document", path: "$"},
		"dotted":         {reason: "JSONPath's simple form", path: "$.data.secret", want: []string{"data", "secret"}},
		"bare":           {reason: "without $", path: "data.secret", want: []string{"data", "secret"}},
		"index":          {reason: "an array index", path: "$.items[0].value", want: []string{"items", "0", "value"}},
		"root index":     {reason: "an index at the root", path: "$[2]", want: []string{"2"}},
		"pointer":        {reason: "RFC 6901", path: "/data/a~1b/c~0d", want: []string{"data", "a/b", "c~d"}},
		"pointer empty":  {reason: `"/" is the field named ""`, path: "/", want: []string{""}},
		"pointer ~01":    {reason: "~01 is ~1, not /", path: "/~01", want: []string{"~1"}},
		"bad escape":     {reason: "~2 is no escape", path: "/a~2", err: `"~" not followed by 0 or 1`},
		"trailing tilde": {reason: "a lone ~", path: "/a~", err: `"~" not followed by 0 or 1`},
		"empty field":    {reason: "two dots", path: "$.a..b", err: "empty field name"},
		"wildcard":       {reason: "no wildcards", path: "$.a.*", err: "not a field name"},
		"filter":         {reason: "no filters", path: "$.a[?(@.x)]", err: "not an array index"},
		"negative":       {reason: "no negative indices", path: "$.a[-1]", err: "not an array index"},
		"leading zero":   {reason: "no leading zeros", path: "$.a[01]", err: "not an array index"},
		"unclosed":       {reason: "an unclosed bracket", path: "$.a[0", err: "unclosed"},
		"dollar name":    {reason: "$ alone starts a path", path: "$data", err: `"$" must be followed`},
		"after bracket":  {reason: "junk after ]", path: "$.a[0]b", err: `expected "." or "["`},
		"quoted":         {reason: "no quoted names", path: "$['a']", err: "not an array index"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := parsePath(tc.path)
			if tc.err != "" {
				require.Error(t, err, tc.reason)
				assert.Contains(t, err.Error(), tc.err, tc.reason)
				return
			}
			require.NoError(t, err, tc.reason)
			assert.Equal(t, tc.want, p.segments, tc.reason)
		})
	}
}

// FuzzDecode runs the two parsers that meet untrusted input, the result
// path (from a manifest) and the answer's body (from the network), and
// checks what decode promises:
//
//   - the body is refused with ErrNotJSON exactly when it is not one JSON
//     value (json.Valid is the oracle);
//   - every other error wraps secrets.ErrNotFound;
//   - no error quotes the body: its length depends on the path, not on
//     the body;
//   - an object result's properties are strings' text or valid JSON, and
//     the whole document ("") of valid JSON always decodes.
func FuzzDecode(f *testing.F) {
	seeds := []struct{ body, path string }{
		{`{"data": {"user": "app", "password": "x"}}`, "$.data"},
		{`{"data": {"user": "app"}}`, "/data/user"},
		{`{"items": [{"v": 1}, {"v": 2}]}`, "$.items[1].v"},
		{`{"a.b": {"c/d": true}}`, "/a.b/c~1d"},
		{`"just a string"`, ""},
		{`[1, 2, 3]`, "$[5]"},
		{`{"a": null}`, "$.a.b"},
		{`<!doctype html><title>Login</title>`, ""},
		{`{"v": "x"} trailing`, ""},
		{`{"v": "x"} {"w": 1}`, ""},
		{`{"v": "unterminated`, "$.v"},
		{``, ""},
		{"   \n\t", ""},
		{`{"v": 1e400}`, "$.v"},
		{`{"v": 12345678901234567890123}`, "v"},
		{`{"dup": 1, "dup": 2}`, "dup"},
		{"{\"bad utf8\": \"\xff\xfe\"}", "$"},
		{`{"\u0000": "nul"}`, "/\u0000"},
		{strings.Repeat("[", 10001) + strings.Repeat("]", 10001), ""},
		{strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200), "$" + strings.Repeat(".a", 200)},
	}
	for _, s := range seeds {
		f.Add([]byte(s.body), s.path)
	}
	f.Fuzz(func(t *testing.T, body []byte, pathText string) {
		p, err := parsePath(pathText)
		if err != nil {
			return
		}
		r, err := decode(body, p)
		valid := json.Valid(body)
		if errors.Is(err, ErrNotJSON) == valid {
			t.Fatalf("json.Valid=%v but decode error %v", valid, err)
		}
		if err != nil {
			if !errors.Is(err, ErrNotJSON) && !errors.Is(err, secrets.ErrNotFound) {
				t.Fatalf("untyped error %v", err)
			}
			if limit := 6*len(pathText) + 256; len(err.Error()) > limit {
				t.Fatalf("error of %d bytes (limit %d) for a path of %d: it quotes the body? %.200q", len(err.Error()), limit, len(pathText), err)
			}
			if valid && len(p.segments) == 0 {
				t.Fatalf("the whole document of valid JSON failed: %v", err)
			}
			return
		}
		if r.fields == nil && r.value == nil {
			t.Fatalf("empty result of kind %s", r.kind)
		}
		if len(p.segments) > 0 || r.fields == nil {
			return
		}
		// The whole document is an object: its fields against
		// encoding/json's own reading of it.
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(body, &raw); err != nil {
			t.Fatalf("decode took an object json.Unmarshal refuses: %v", err)
		}
		if len(raw) != len(r.fields) {
			t.Fatalf("%d fields, encoding/json sees %d", len(r.fields), len(raw))
		}
		for k, rv := range raw {
			v, ok := r.fields[k]
			if !ok {
				t.Fatalf("field %q missing", k)
			}
			if rv[0] == '"' {
				var s string
				if err := json.Unmarshal(rv, &s); err != nil || s != string(v) {
					t.Fatalf("field %q = %q, want the string %q (%v)", k, v, s, err)
				}
			} else if !json.Valid(v) {
				t.Fatalf("field %q = %q: a non-string field is not JSON", k, v)
			}
		}
	})
}
