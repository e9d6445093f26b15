package object

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// decodeSentinels are the errors a DecodeError from Decode wraps.
var decodeSentinels = []error{ErrTooLarge, ErrTooManyDocuments, ErrTooDeep, ErrAliasExpansion,
	ErrDuplicateKey, ErrSyntax, ErrInvalidObject}

// FuzzDecode feeds arbitrary bytes to Decode. It must never panic (only
// calls into the YAML parser recover, and a panic there fails the target
// too), must return either objects or a *DecodeError wrapping one of the
// sentinels (not both), and what it returns must survive Encode and Decode
// unchanged (as JSON).
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
		// Both alias markers and more values than the fuzz's alias budget,
		// but no alias: they must decode (issue 19).
		bigConfigMap(10_001),
		chartStream(20),
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  s: |\n    *not &an alias\n  t: '&x *x'\n",
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
			var de *DecodeError
			if !errors.As(err, &de) || de.Source != "fuzz.yaml" {
				t.Fatalf("not a DecodeError naming the source: %T %v", err, err)
			}
			var pp *parserPanic
			if errors.As(err, &pp) {
				t.Fatalf("the YAML parser panicked: %v", pp.value)
			}
			for _, s := range decodeSentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("error wraps no sentinel: %v", err)
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

// FuzzCheckAliases compares CheckAliases with an independent count: the
// values yaml.v3's own decoder builds (which expands every alias) less the
// values written in the stream. Streams that decoder cannot count the same
// way (merge keys, complex keys, its own alias guard, syntax errors) are
// skipped; what remains must agree exactly on whether the limit is crossed.
func FuzzCheckAliases(f *testing.F) {
	for _, s := range []string{
		billionLaughs,
		"a: &a [1, 2, 3]\nb: [*a, *a, *a]\n",
		"a: &a {x: &b [1, 2], y: *b}\nb: *a\nc: *a\n",
		"a: &a [*a]\n",
		"a: &x 1\n---\nb: [*x]\n",
		"- &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\n- [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n",
		bigConfigMap(100),
		chartStream(3),
		// 30 values repeated 10 times, over the limit, then 6 times, under.
		"a: &a [" + strings.Repeat("x, ", 28) + "x]\nb: [" + strings.Repeat("*a, ", 9) + "*a]\n",
		"a: &a [" + strings.Repeat("x, ", 28) + "x]\nb: [" + strings.Repeat("*a, ", 5) + "*a]\n",
	} {
		f.Add([]byte(s))
	}
	const limit = 200
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		err := CheckAliases(data, DecodeOptions{Source: "fuzz.yaml", MaxAliasNodes: limit})
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Source != "fuzz.yaml" || de.Document < 1 {
				t.Fatalf("not a DecodeError naming the source and document: %T %v", err, err)
			}
			if !errors.Is(err, ErrAliasExpansion) && !errors.Is(err, ErrTooDeep) {
				t.Fatalf("error wraps neither ErrAliasExpansion nor ErrTooDeep: %v", err)
			}
			if errors.Is(err, ErrTooDeep) {
				return
			}
		}
		// The oracle builds every value: spare it the expansions that even
		// a generous budget refuses.
		if CheckAliases(data, DecodeOptions{MaxAliasNodes: 100 * limit}) != nil {
			return
		}
		produced, ok := oracleAliasValues(data)
		if !ok {
			return
		}
		if over := produced > limit; over != (err != nil) {
			t.Fatalf("aliases produce %d values (limit %d), CheckAliases says %v", produced, limit, err)
		}
	})
}

// oracleAliasValues counts, with yaml.v3's decoder, the values aliases
// produce in data: every value the decoder builds, less those written in
// the stream. ok is false for streams it cannot count that way.
func oracleAliasValues(data []byte) (produced int, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	nodes := yaml.NewDecoder(bytes.NewReader(data))
	values := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := nodes.Decode(&doc)
		if err == io.EOF {
			return produced, true
		}
		if err != nil {
			return 0, false
		}
		written, countable := writtenValues(&doc)
		if !countable {
			return 0, false
		}
		var v any
		if err := values.Decode(&v); err != nil {
			return 0, false // its alias guard, a duplicate key, a cycle
		}
		produced += goValues(v) - written
	}
}

// writtenValues counts the nodes written in the stream below a document,
// aliases left out. countable is false where the decoded value has another
// shape: merge keys, and keys that are not scalars.
func writtenValues(n *yaml.Node) (count int, countable bool) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				return 0, false
			}
		}
	}
	if n.Kind != yaml.AliasNode && n.Kind != yaml.DocumentNode {
		count = 1
	}
	for _, c := range n.Content {
		v, ok := writtenValues(c)
		if !ok {
			return 0, false
		}
		count += v
	}
	return count, true
}

func goValues(v any) int {
	switch v := v.(type) {
	case nil:
		return 0 // an empty document; a null scalar inside is counted by its parent
	case map[string]any:
		n := 1
		for _, x := range v {
			n += 1 + scalarOrValues(x)
		}
		return n
	case map[any]any:
		n := 1
		for _, x := range v {
			n += 1 + scalarOrValues(x)
		}
		return n
	case []any:
		n := 1
		for _, x := range v {
			n += scalarOrValues(x)
		}
		return n
	}
	return 1
}

// scalarOrValues is goValues for a value inside a collection, where null
// is a value.
func scalarOrValues(v any) int {
	if v == nil {
		return 1
	}
	return goValues(v)
}
