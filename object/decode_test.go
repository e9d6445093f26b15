package object

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecode(t *testing.T) {
	cases := map[string]struct {
		in   string
		want []string // IDs, in order
	}{
		"multi-document with empty documents and comments": {
			in:   "---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n---\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: b, namespace: x}\n...\n",
			want: []string{"ConfigMap/x/a", "Deployment.apps/x/b"},
		},
		"a null document": {
			in:   "null\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n",
			want: []string{"Namespace/n"},
		},
		"List flattened": {
			in:   "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n- {apiVersion: v1, kind: Secret, metadata: {name: b}}\n",
			want: []string{"ConfigMap/a", "Secret/b"},
		},
		"typed List flattened": {
			in:   "apiVersion: v1\nkind: ConfigMapList\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: n}}\n",
			want: []string{"ConfigMap/n/a"},
		},
		"JSON stream": {
			in:   "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"}}\n{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"b\",\"namespace\":\"n\"}}",
			want: []string{"ConfigMap/n/a", "ConfigMap/n/b"},
		},
		"YAML flow mappings that are not JSON": {
			in:   "{apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: n}}\n---\n{apiVersion: v1, kind: ConfigMap, metadata: {name: b, namespace: n}}\n",
			want: []string{"ConfigMap/n/a", "ConfigMap/n/b"},
		},
		"empty stream": {in: "", want: nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			objs, err := DecodeBytes([]byte(tc.in), DecodeOptions{Source: "test.yaml"})
			require.NoError(t, err)
			var got []string
			for _, o := range objs {
				got = append(got, IDOf(o).String())
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestDecodeValueTypes(t *testing.T) {
	in := `apiVersion: v1
kind: ConfigMap
metadata:
  name: types
  labels: &labels {app: api}
spec:
  int: 42
  neg: -7
  hex: 0x1F
  float: 1.5
  big: 18446744073709551615
  bool: true
  null: ~
  quoted: "42"
  date: 2024-01-02
  binary: !!binary aGVsbG8=
  80: port-key
  true: bool-key
  selector: *labels
  base: &base {a: 1, b: 2}
  merged:
    <<: *base
    b: 3
`
	objs, err := DecodeBytes([]byte(in), DecodeOptions{})
	require.NoError(t, err)
	require.Len(t, objs, 1)
	spec := objs[0].Object["spec"].(map[string]any)
	assert.Equal(t, int64(42), spec["int"])
	assert.Equal(t, int64(-7), spec["neg"])
	assert.Equal(t, int64(31), spec["hex"])
	assert.Equal(t, 1.5, spec["float"])
	assert.Equal(t, float64(18446744073709551615), spec["big"])
	assert.Equal(t, true, spec["bool"])
	assert.Nil(t, spec["null"])
	assert.Contains(t, spec, "null")
	assert.Equal(t, "42", spec["quoted"])
	assert.Equal(t, "2024-01-02", spec["date"], "timestamps stay strings")
	assert.Equal(t, "aGVsbG8=", spec["binary"])
	assert.Equal(t, "port-key", spec["80"])
	assert.Equal(t, "bool-key", spec["true"])
	assert.Equal(t, map[string]any{"app": "api"}, spec["selector"])
	assert.Equal(t, map[string]any{"a": int64(1), "b": int64(3)}, spec["merged"], "explicit keys win over merged ones")
	assert.Equal(t, map[string]string{"app": "api"}, objs[0].GetLabels())
}

// TestDecodeHostile covers the hostile inputs the foundation issue names.
// Each must fail with a clear error that names the source, in bounded time
// and memory, and never quote a value.
func TestDecodeHostile(t *testing.T) {
	cases := map[string]struct {
		in      func() io.Reader
		opts    DecodeOptions
		want    error
		message string
	}{
		"billion laughs": {
			in:      func() io.Reader { return strings.NewReader(billionLaughs) },
			want:    ErrAliasExpansion,
			message: "bomb.yaml: document 1: line",
		},
		"self-referencing alias": {
			in:   func() io.Reader { return strings.NewReader("apiVersion: v1\nkind: ConfigMap\ndata: &a\n  x: *a\n") },
			want: ErrAliasExpansion,
		},
		"100 MB stream over the limit": {
			in:      func() io.Reader { return io.LimitReader(repeatReader("# padding padding padding\n"), 100<<20) },
			want:    ErrTooLarge,
			message: "bomb.yaml: stream exceeds the byte limit of 67108864 bytes",
		},
		"10,000 nested flow lists": {
			in: func() io.Reader {
				return strings.NewReader("a: " + strings.Repeat("[", 10000) + strings.Repeat("]", 10000))
			},
			want: ErrTooDeep,
		},
		"10,000 nested block lists": {
			in: func() io.Reader {
				var b strings.Builder
				for i := range 10000 {
					b.WriteString(strings.Repeat(" ", i))
					b.WriteString("-\n")
				}
				return strings.NewReader(b.String())
			},
			want: ErrTooDeep,
		},
		"nesting over a custom depth": {
			in: func() io.Reader {
				return strings.NewReader("apiVersion: v1\nkind: ConfigMap\ndata: {a: {b: {c: {}}}}\n")
			},
			opts: DecodeOptions{MaxDepth: 3},
			want: ErrTooDeep,
		},
		"duplicate keys": {
			in: func() io.Reader {
				return strings.NewReader("apiVersion: v1\nkind: Secret\nstringData:\n  password: hunter2\n  password: hunter3\n")
			},
			want:    ErrDuplicateKey,
			message: `bomb.yaml: document 1: line 5: duplicate key "password" (first at line 4)`,
		},
		"duplicate keys in JSON": {
			in:      func() io.Reader { return strings.NewReader(`{"apiVersion":"v1","kind":"Secret","kind":"ConfigMap"}`) },
			want:    ErrDuplicateKey,
			message: `duplicate key "kind"`,
		},
		"invalid UTF-8": {
			in: func() io.Reader {
				return bytes.NewReader([]byte("apiVersion: v1\nkind: ConfigMap\ndata:\n  a: \xff\xfe\n"))
			},
			want: ErrSyntax,
		},
		"a List of lists": {
			in: func() io.Reader {
				return strings.NewReader("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n")
			},
			want:    ErrInvalidObject,
			message: "Lists do not nest",
		},
		"too many documents": {
			in: func() io.Reader {
				return strings.NewReader(strings.Repeat("{apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n---\n", 11))
			},
			opts: DecodeOptions{MaxDocuments: 10},
			want: ErrTooManyDocuments,
		},
		"a scalar document": {
			in:   func() io.Reader { return strings.NewReader("just a string\n") },
			want: ErrInvalidObject,
		},
		"no kind": {
			in:   func() io.Reader { return strings.NewReader("apiVersion: v1\nmetadata: {name: a}\n") },
			want: ErrInvalidObject,
		},
		"labels that are not strings": {
			in: func() io.Reader {
				return strings.NewReader("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: {replicas: 3}\n")
			},
			want:    ErrInvalidObject,
			message: `metadata.labels["replicas"] must be a string`,
		},
		"NaN": {
			in:   func() io.Reader { return strings.NewReader("apiVersion: v1\nkind: ConfigMap\ndata: {a: .nan}\n") },
			want: ErrSyntax,
		},
		"custom tag": {
			in: func() io.Reader {
				return strings.NewReader("apiVersion: v1\nkind: ConfigMap\ndata: {a: !Ref secret}\n")
			},
			want: ErrSyntax,
		},
		"syntax error": {
			in:      func() io.Reader { return strings.NewReader("apiVersion: v1\nkind: ConfigMap\ndata:\n  a: b\n c: d\n") },
			want:    ErrSyntax,
			message: "bomb.yaml: document 1: syntax error: line 4: did not find expected key",
		},
		"complex key": {
			in: func() io.Reader {
				return strings.NewReader("apiVersion: v1\nkind: ConfigMap\ndata:\n  ? [a, b]\n  : c\n")
			},
			want: ErrSyntax,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tc.opts.Source = "bomb.yaml"
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()

			objs, err := Decode(tc.in(), tc.opts)

			elapsed := time.Since(start)
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			require.Error(t, err)
			assert.Nil(t, objs, "nothing is returned on error")
			assert.ErrorIs(t, err, tc.want)
			var de *DecodeError
			assert.ErrorAs(t, err, &de)
			assert.True(t, strings.HasPrefix(err.Error(), "bomb.yaml: "), "error names the source: %v", err)
			if tc.message != "" {
				assert.Contains(t, err.Error(), tc.message)
			}
			assert.NotContains(t, err.Error(), "hunter", "no value leaks into the error")
			assert.NotContains(t, err.Error(), "secret")
			// Bounds that only a real blow-up (exponential alias expansion,
			// buffering the whole 100 MB) breaks: -race and a loaded 2-core
			// machine make the 100 MB case alone take 25 s. Speed is for
			// benchmarks; this guards against hangs.
			assert.Less(t, elapsed, 3*time.Minute)
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(600<<20), "allocated bytes")
		})
	}
}

const billionLaughs = `apiVersion: v1
kind: ConfigMap
metadata: {name: lol}
data:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`

type repeatReader string

func (r repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], r)
	}
	return n, nil
}

func TestDecodeErrorPositions(t *testing.T) {
	in := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata:\n  k: 1\n  k: 2\n"
	_, err := DecodeBytes([]byte(in), DecodeOptions{Source: "cm.yaml"})
	var de *DecodeError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, 2, de.Document)
	assert.Equal(t, 10, de.Line)
	assert.True(t, errors.Is(err, ErrDuplicateKey))

	jsonIn := "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\"}\n\n{\"apiVersion\":\"v1\",\n\"kind\":\"ConfigMap\",\n\"data\":{\"k\":1,\"k\":2}}"
	_, err = DecodeBytes([]byte(jsonIn), DecodeOptions{Source: "cm.json"})
	require.ErrorAs(t, err, &de)
	assert.Equal(t, 2, de.Document)
	assert.Equal(t, 5, de.Line, "lines count from the start of the stream")
}

func TestEncodeRoundTrip(t *testing.T) {
	in := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
  labels: {app: api}
spec:
  replicas: 3
  template:
    spec:
      containers:
      - name: api
        image: registry.example/api:1.4.2
        args: ["--ratio", "0.5", "true", "", "multi\nline"]
        resources: {limits: {cpu: 500m, memory: 1.5}}
`
	objs, err := DecodeBytes([]byte(in), DecodeOptions{})
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, Encode(&buf, objs...))
	again, err := DecodeBytes(buf.Bytes(), DecodeOptions{})
	require.NoError(t, err)
	require.Len(t, again, 1)
	assert.Equal(t, objs[0].Object, again[0].Object)

	var two bytes.Buffer
	require.NoError(t, Encode(&two, objs[0], objs[0]))
	assert.Equal(t, 1, strings.Count(two.String(), "---\n"))
}
