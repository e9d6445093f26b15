package promote

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// FuzzPolicyTags: for any tag list and policy, Latest never panics and
// its answer is always one of the inputs, or an error the doc names.
func FuzzPolicyTags(f *testing.F) {
	f.Add("1.0.0\n1.2.0\nv1.3.0-rc.1\nlatest", uint8(0), ">=1.0.0", "", "")
	f.Add("1.0.0\n1.2.0\nv1.3.0-rc.1", uint8(0), ">=1.0.0-0", `^v?(.*)$`, "$1")
	f.Add("main-abc-10\nmain-def-9\nNaN\ninf", uint8(2), "", `^main-[a-f]+-(?P<ts>[0-9]+)`, "$ts")
	f.Add("b\na\n\x00\n"+strings.Repeat("z", 10000), uint8(1), "", "", "")
	f.Add("0x1p-2\n1_000\n-0\n+Inf", uint8(2), "", "", "")
	f.Add("a-1.0.0\nb-1.0.0", uint8(0), "*", `^(?:a|b)-(.*)$`, "${1}")
	f.Fuzz(func(t *testing.T, list string, kind uint8, rng, pattern, extract string) {
		tags := strings.Split(list, "\n")
		p := Policy{Kind: []Kind{SemVer, Alphabetical, Numerical}[int(kind)%3], Range: rng}
		if kind&4 != 0 {
			p.Order = Desc
		}
		if pattern != "" || extract != "" {
			p.Filter = &TagFilter{Pattern: pattern, Extract: extract}
		}
		got, err := p.Latest(tags)
		if err != nil {
			if !errors.Is(err, ErrNoMatch) && !errors.Is(err, ErrInvalidPolicy) && !errors.Is(err, ErrInvalidTag) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		if !slices.Contains(tags, got) {
			t.Fatalf("Latest = %q, not one of the tags", got)
		}
	})
}

// FuzzSetImage: for any kustomization, SetImage never panics, and what it
// writes parses as YAML and has the image it set.
func FuzzSetImage(f *testing.F) {
	f.Add([]byte("images:\n- name: web\n  newTag: v1\n"), "web:v2")
	f.Add([]byte("images:\n    -   name: web   # c\n        digest: sha256:00\n"), "web:1.10")
	f.Add([]byte("images: [{name: web, newTag: v1}]\n"), "web=x@sha256:abc")
	f.Add([]byte("resources: [a]"), "web=ghcr.io/a/web:1")
	f.Add([]byte("images:\n- digest: sha256:11\n  name: api\n"), "api:2")
	f.Add([]byte("a: &a [*a]\n"), "web:1")
	f.Add([]byte("images: *x\n"), "web:1")
	f.Add([]byte("images:\n- name: web\n  newTag: \"v1\\\n  x\"\n"), "web:2")
	f.Add([]byte("\xef\xbb\xbfimages:\r\n- name: web\r\n  newTag: v1\r\n"), "web:2")
	f.Add([]byte("images:\n- name: wéb\n  newTag: 'v1' # é\n- name: web\n  newTag: v1\n"), "web:2")
	f.Fuzz(func(t *testing.T, src []byte, arg string) {
		img, err := ParseImage(arg)
		if err != nil {
			return
		}
		out, err := setImages("kustomization.yaml", src, []Image{img})
		if err != nil {
			return
		}
		dec := yaml.NewDecoder(bytes.NewReader(out))
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
			t.Fatalf("output does not parse: %v\n%s", err, out)
		}
		var k struct {
			Images []map[string]any `yaml:"images"`
		}
		if err := doc.Decode(&k); err != nil {
			t.Fatalf("output images do not decode: %v\n%s", err, out)
		}
		found := false
		for _, e := range k.Images {
			if e["name"] == img.Name {
				found = true
				if img.NewTag != "" && img.NewTag != Preserve && e["newTag"] != img.NewTag {
					t.Fatalf("newTag = %v, want %q\n%s", e["newTag"], img.NewTag, out)
				}
			}
		}
		if !found {
			t.Fatalf("no entry for %s\n%s", img.Name, out)
		}
	})
}
