package object

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode. It must never panic, must
// return either objects or an error (not both), and what it returns must
// survive Encode and Decode unchanged (as JSON).
func FuzzDecode(f *testing.F) {
	seeds := []string{
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n",
		"apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Secret, metadata: {name: s}}]\n",
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}{"apiVersion":"v1","kind":"ConfigMap"}`,
		billionLaughs,
		"a: &a [*a]\n",
		"a: " + string(bytes.Repeat([]byte("["), 300)),
		"apiVersion: v1\nkind: ConfigMap\ndata: {a: 1, a: 2}\n",
		"apiVersion: v1\nkind: ConfigMap\nb: &b {x: 1}\nc: {<<: [*b, *b], y: 2}\n",
		"apiVersion: v1\nkind: ConfigMap\ndata: \xff\n",
		"--- !!binary\n---\n...\n",
		"apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: List, items: []}]\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	opts := DecodeOptions{Source: "fuzz.yaml", MaxBytes: 1 << 20, MaxDepth: 64, MaxAliasNodes: 10_000, MaxDocuments: 1000}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := DecodeBytes(data, opts)
		if err != nil {
			if objs != nil {
				t.Fatalf("objects returned with error %v", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := Encode(&buf, objs...); err != nil {
			t.Fatalf("encode decoded objects: %v", err)
		}
		// Encoding expands aliases, so the second pass needs no alias budget
		// but may be larger than the input.
		again, err := DecodeBytes(buf.Bytes(), DecodeOptions{MaxBytes: 64 << 20, MaxDepth: 64, MaxDocuments: 1000})
		if err != nil {
			t.Fatalf("decode encoded objects: %v\n%s", err, buf.Bytes())
		}
		if len(again) != len(objs) {
			t.Fatalf("round trip changed the object count: %d then %d", len(objs), len(again))
		}
		for i := range objs {
			a, _ := json.Marshal(objs[i].Object)
			b, _ := json.Marshal(again[i].Object)
			if !bytes.Equal(a, b) {
				t.Fatalf("round trip changed object %d:\n%s\n%s", i, a, b)
			}
		}
	})
}
