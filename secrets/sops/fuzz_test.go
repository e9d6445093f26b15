package sops

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var fuzzFormats = []Format{FormatYAML, FormatJSON, FormatDotenv, FormatINI, FormatBinary}

var fuzzFixtures = []string{
	"secret.enc.yaml", "flux-secret.enc.yaml", "flux-maconly.enc.yaml",
	"app.enc.json", "app.enc.env", "app.enc.ini", "blob.enc.bin",
}

func fuzzDecryptor(f *testing.F) *Decryptor {
	key, err := os.ReadFile("testdata/keys/age1.txt")
	if err != nil {
		f.Fatal(err)
	}
	d, err := NewDecryptor(WithAgeKeys(key), WithMaxSize(64<<10))
	if err != nil {
		f.Fatal(err)
	}
	return d
}

// FuzzDecrypt: arbitrary documents in every format never panic, and
// decrypt only when they carry sops metadata.
func FuzzDecrypt(f *testing.F) {
	d := fuzzDecryptor(f)
	for i, name := range fuzzFixtures {
		b, err := os.ReadFile(filepath.Join("testdata", "enc", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(i))
	}
	for _, s := range []string{
		"a: &a [*a]\nsops: {}\n",
		"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\nsops: {}\n",
		"sops:\n  lastmodified: 2020-01-01T00:00:00Z\n  mac: ''\n  age: [{enc: x, recipient: y}]\n",
		"sops:\n  key_groups: [{age: [{enc: x}]}, {age: [{enc: y}]}]\n  shamir_threshold: 300\n  lastmodified: '2020-01-01T00:00:00Z'\n",
		"{\"sops\": {\"kms\": [{\"arn\": 1}]}, \"a\": [[[[[[[[]]]]]]]]}",
		"sops_age__list_0__map_enc=x\nsops_age__list_99999999999__map_recipient=y\nsops_lastmodified=2020-01-01T00:00:00Z\n",
		"[sops]\nage__list_0__map_enc = x\\ny\nlastmodified = 2020-01-01T00:00:00Z\n",
		"a: ENC[AES256_GCM,data:,iv:,tag:,type:str]\nsops: {lastmodified: '2020-01-01T00:00:00Z', age: [{enc: x}]}\n",
	} {
		for i := range fuzzFormats {
			f.Add([]byte(s), uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, fi uint8) {
		format := fuzzFormats[int(fi)%len(fuzzFormats)]
		out, err := d.Decrypt(context.Background(), "fuzz", data, format)
		if err == nil && !IsEncrypted(data, format) {
			t.Fatalf("decrypted a document without sops metadata: %q", out)
		}
		_ = IsEncrypted(data, format)
	})
}

// FuzzDecryptTampered mutates a valid encrypted document: it must fail to
// decrypt or give exactly the original plaintext, never anything else.
func FuzzDecryptTampered(f *testing.F) {
	d := fuzzDecryptor(f)
	type fixture struct {
		enc, plain []byte
		format     Format
		rules      rules
		strict     bool // every value is under the MAC with its key
	}
	var fixtures []fixture
	for _, name := range fuzzFixtures {
		enc, err := os.ReadFile(filepath.Join("testdata", "enc", name))
		if err != nil {
			f.Fatal(err)
		}
		format := FormatForPath(name)
		plain, err := d.Decrypt(context.Background(), name, enc, format)
		if err != nil {
			f.Fatal(err)
		}
		_, mdTree, err := loadEncrypted(bytes.Clone(enc), format)
		if err != nil {
			f.Fatal(err)
		}
		md, err := parseMetadata(mdTree)
		if err != nil {
			f.Fatal(err)
		}
		prot, all := protectedLeaves(f, plain, format, &md.rules)
		fixtures = append(fixtures, fixture{enc, plain, format, md.rules, len(prot) == all})
	}
	for i := range fixtures {
		f.Add(uint8(i), uint32(0), byte('x'), uint8(0))
		f.Add(uint8(i), uint32(120), byte('A'), uint8(1))
		f.Add(uint8(i), uint32(300), byte(' '), uint8(2))
		f.Add(uint8(i), uint32(40), byte('#'), uint8(0))
	}
	f.Fuzz(func(t *testing.T, fi uint8, pos uint32, b byte, op uint8) {
		fx := fixtures[int(fi)%len(fixtures)]
		doc := bytes.Clone(fx.enc)
		p := int(pos) % len(doc)
		switch op % 3 {
		case 0: // replace
			doc[p] = b
		case 1: // insert
			doc = append(doc[:p], append([]byte{b}, doc[p:]...)...)
		case 2: // delete
			doc = append(doc[:p], doc[p+1:]...)
		}
		out, err := d.Decrypt(context.Background(), "fuzz", doc, fx.format)
		if err != nil {
			return
		}
		if fx.strict {
			// Comments, null and empty values are outside the MAC in
			// sops's format (and a comment that does not decrypt stays as
			// text, as sops keeps it); all else must be the original.
			if bytes.Equal(out, fx.plain) {
				return
			}
			if got, want := withoutComments(t, out, fx.format), withoutComments(t, fx.plain, fx.format); got != want {
				t.Fatalf("tampered document decrypted to something else:\n%s\nwant:\n%s", out, fx.plain)
			}
			return
		}
		// With a selector, sops's MAC covers plaintext values but not
		// their keys (and with mac_only_encrypted not even the values):
		// those may change. The encrypted values, their keys and their
		// order may not.
		want, _ := protectedLeaves(t, fx.plain, fx.format, &fx.rules)
		got, _ := protectedLeaves(t, out, fx.format, &fx.rules)
		if !slices.Equal(want, got) {
			t.Fatalf("tampered document changed encrypted values:\n%q\nwant:\n%q", got, want)
		}
	})
}

// withoutComments renders a plaintext's tree with its comments dropped.
func withoutComments(t testing.TB, plain []byte, format Format) string {
	docs, err := loadPlain(plain, format)
	if err != nil {
		t.Fatalf("plaintext does not load: %v", err)
	}
	var strip func(v any) any
	strip = func(v any) any {
		switch v := v.(type) {
		case branch:
			var out branch
			for _, it := range v {
				if _, ok := it.key.(comment); !ok {
					if sv := strip(it.value); !isEmptyValue(sv) {
						out = append(out, item{key: it.key, value: sv})
					}
				}
			}
			return out
		case []any:
			var out []any
			for _, e := range v {
				if _, ok := e.(comment); !ok {
					out = append(out, strip(e))
				}
			}
			return out
		}
		return v
	}
	var sb strings.Builder
	for _, b := range docs {
		fmt.Fprintf(&sb, "%#v\n", strip(b))
	}
	return sb.String()
}

// isEmptyValue: values outside sops's MAC (null, "", {} and [] without
// values).
func isEmptyValue(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case branch:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}

// protectedLeaves lists path=value for each value the rules encrypt, in
// order, and counts all values.
func protectedLeaves(t testing.TB, plain []byte, format Format, r *rules) ([]string, int) {
	docs, err := loadPlain(plain, format)
	if err != nil {
		t.Fatalf("plaintext does not load: %v", err)
	}
	var out []string
	all := 0
	for _, b := range docs {
		_, err := walkBranch(b, nil, nil, 0, func(v any, path []string, cs [][]string) (any, error) {
			if _, ok := v.(comment); ok {
				return v, nil
			}
			all++
			// Empty values are neither encrypted nor under the MAC.
			if r.encrypted(path, cs, false) && !isEmptyValue(v) {
				out = append(out, fmt.Sprintf("%s=%v", strings.Join(path, "."), v))
			}
			return v, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out, all
}

// FuzzParseConfig: any .sops.yaml parses or fails, without panicking,
// and a parsed one answers Rule for any path.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		"creation_rules:\n  - path_regex: \\.enc\\.yaml$\n    age: age1ec9gwg3h88gjq57ma59jhj8kdx7fmy2hezkp9symtup59mh4tpaqw55wpu\n",
		"creation_rules:\n  - key_groups:\n      - age: [a]\n        pgp: [b]\n    shamir_threshold: 2\n",
		"creation_rules:\n  - path_regex: '('\n",
		"creation_rules:\n  - age: [1, 2]\n",
		"creation_rules: &a [*a]\n",
		"creation_rules:\n  - kms: arn:aws:kms:x\n",
		"creation_rules:\n  - encrypted_regex: a\n    unencrypted_regex: b\n    age: x\n",
		"stores: {yaml: {indent: 2}}\n",
	} {
		f.Add([]byte(s), "secrets/a.enc.yaml")
	}
	f.Fuzz(func(t *testing.T, data []byte, path string) {
		cfg, err := ParseConfig(data)
		if err != nil {
			if cfg != nil {
				t.Fatal("config returned with an error")
			}
			return
		}
		r, err := cfg.Rule(path)
		if err == nil && r.KeyGroup.empty() && len(r.KeyGroups) == 0 {
			t.Fatal("a rule without keys")
		}
	})
}
