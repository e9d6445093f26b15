package manifest_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/converge-dev/converge/reconcile/internal/manifest"
)

// FuzzFinish: whatever the document, reading some of its fields with
// every reader never panics, every error is a *FieldError of the document
// in UTF-8 wrapping ErrInvalid (a reader's) or ErrUnknownField (Finish's),
// and Finish refuses exactly the fields of the root no reader asked for,
// each once.
func FuzzFinish(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a": 1}`, `{"s": 1, "o": [], "l": {}, "b": "true", "i": 1.5}`,
		`{"o": {"a/b": {"c": null}}, "l": [1, "x", {}, null], "m": {"k": 1}}`,
		`{"s": "` + strings.Repeat("é", 50) + `", "` + strings.Repeat("x", 100) + `": 1}`,
		`{"i": 9007199254740993, "b": false, "o": null}`,
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in string, template bool) {
		var m map[string]any
		if json.Unmarshal([]byte(in), &m) != nil {
			return
		}
		var opts []manifest.Option
		if template {
			opts = append(opts, manifest.FromTemplate("Argo CD"))
		}
		d := manifest.NewDoc("Kind ns/x", opts...)
		n := d.Root(m, "")
		read := map[string]bool{"s": true, "i": true, "b": true, "o": true, "l": true, "m": true, "ls": true}
		n.Str("s")
		n.Int("i")
		n.Bool("b")
		o := n.Obj("o")
		for k := range o.Map() {
			o.Obj(k).Strs("x")
		}
		for _, c := range n.Objs("l") {
			c.Accept("name")
		}
		n.StrMap("m")
		n.Strs("ls")
		before := len(d.Errors())
		d.Finish()

		unknown := map[string]int{}
		for i, e := range d.Errors() {
			var fe *manifest.FieldError
			if !errors.As(e, &fe) || fe.Object != "Kind ns/x" {
				t.Fatalf("error %d is not a *FieldError of the document: %v", i, e)
			}
			switch {
			case i < before && !errors.Is(e, manifest.ErrInvalid):
				t.Fatalf("a reader's error is not ErrInvalid: %v", e)
			case i >= before && !errors.Is(e, manifest.ErrUnknownField):
				t.Fatalf("a Finish error is not ErrUnknownField: %v", e)
			case i >= before:
				unknown[fe.Path]++
			}
			if !utf8.ValidString(fe.Error()) {
				t.Fatalf("error text is not UTF-8: %q", fe.Error())
			}
		}
		for k := range m {
			want := 1
			if read[k] {
				want = 0
			}
			if p := manifest.JoinPath("", k); unknown[p] != want {
				t.Fatalf("field %q (path %s, read: %t) refused as unknown %d times", k, p, read[k], unknown[p])
			}
		}
	})
}

// FuzzShort: Short keeps a prefix of at most 64 bytes, cut between UTF-8
// characters.
func FuzzShort(f *testing.F) {
	for _, s := range []string{"", "abc", strings.Repeat("a", 64), strings.Repeat("é", 40), strings.Repeat("😀", 20), "\xff\xfe" + strings.Repeat("\x80", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := manifest.Short(s)
		if len(s) <= 64 {
			if got != s {
				t.Fatalf("Short(%q) = %q, want it whole", s, got)
			}
			return
		}
		cut, ok := strings.CutSuffix(got, "…")
		if !ok || len(cut) > 64 || !strings.HasPrefix(s, cut) {
			t.Fatalf("Short(%q) = %q: not a prefix of at most 64 bytes and …", s, got)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Short(%q) = %q cuts a character", s, got)
		}
	})
}
