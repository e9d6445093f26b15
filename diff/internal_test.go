package diff

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/converge-dev/converge/object"
)

func TestRemovePath(t *testing.T) {
	doc := func() map[string]any {
		return map[string]any{
			"metadata": map[string]any{"annotations": map[string]any{"example.com/x": "1", "keep": "2"}},
			"spec": map[string]any{"containers": []any{
				map[string]any{"name": "api", "image": "a", "env": []any{map[string]any{"name": "A", "value": "1"}}},
				map[string]any{"name": "sidecar", "image": "b"},
			}},
		}
	}
	cases := map[string]struct {
		path    string
		pointer bool
		check   func(t *testing.T, m map[string]any)
	}{
		"field with a quoted key": {path: `.metadata.annotations["example.com/x"]`, check: func(t *testing.T, m map[string]any) {
			assert.Equal(t, map[string]any{"keep": "2"}, m["metadata"].(map[string]any)["annotations"])
		}},
		"selector": {path: ".spec.containers[name=sidecar].image", check: func(t *testing.T, m map[string]any) {
			cs := m["spec"].(map[string]any)["containers"].([]any)
			assert.Equal(t, "a", cs[0].(map[string]any)["image"])
			assert.NotContains(t, cs[1], "image")
		}},
		"wildcard": {path: ".spec.containers[*].image", check: func(t *testing.T, m map[string]any) {
			for _, c := range m["spec"].(map[string]any)["containers"].([]any) {
				assert.NotContains(t, c, "image")
			}
		}},
		"index then nested": {path: ".spec.containers[0].env[0].value", check: func(t *testing.T, m map[string]any) {
			env := m["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["env"].([]any)
			assert.Equal(t, map[string]any{"name": "A"}, env[0])
		}},
		"JSON pointer with escapes": {path: "/metadata/annotations/example.com~1x", pointer: true, check: func(t *testing.T, m map[string]any) {
			assert.Equal(t, map[string]any{"keep": "2"}, m["metadata"].(map[string]any)["annotations"])
		}},
		"JSON pointer with an index": {path: "/spec/containers/1/image", pointer: true, check: func(t *testing.T, m map[string]any) {
			assert.NotContains(t, m["spec"].(map[string]any)["containers"].([]any)[1], "image")
		}},
		"missing path is a no-op": {path: ".spec.nothing.here", check: func(t *testing.T, m map[string]any) {
			assert.Equal(t, doc(), m)
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			parse := parsePath
			if tc.pointer {
				parse = parseJSONPointer
			}
			steps, err := parse(tc.path)
			require.NoError(t, err)
			m := doc()
			removePath(m, steps)
			tc.check(t, m)
		})
	}
}

func TestNormalize(t *testing.T) {
	scheme, err := newScheme()
	require.NoError(t, err)
	n := normalizer{scheme: scheme}
	secret := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "s"},
		"data":       map[string]any{"a": "eA=="},
		"stringData": map[string]any{"b": "y", "a": "z"},
	}}
	out, exact := n.normalize(secret, nil)
	assert.True(t, exact)
	assert.Equal(t, map[string]any{"a": "eg==", "b": "eQ=="}, out.Object["data"], "stringData folds into data and wins")
	assert.NotContains(t, out.Object, "stringData")
	assert.Contains(t, secret.Object, "stringData", "the input is not modified")

	custom := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.com/v1", "kind": "Widget", "metadata": map[string]any{"name": "w"},
		"spec": map[string]any{"replicas": 2.0, "ratio": 0.5},
	}}
	out, _ = n.normalize(custom, nil)
	assert.Equal(t, map[string]any{"replicas": int64(2), "ratio": 0.5}, out.Object["spec"])

	badDeployment := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "d"},
		"spec": map[string]any{"replicas": "three"},
	}}
	_, exact = n.normalize(badDeployment, nil)
	assert.False(t, exact)
}

// FuzzIgnorePaths parses arbitrary path expressions and JSON pointers and
// applies them to a document: no panic, and a parsed path never grows the
// document.
func FuzzIgnorePaths(f *testing.F) {
	for _, s := range []string{".spec.replicas", `.metadata.annotations["a.b/c"]`, ".a[*].b[k=v][0]", "/a/b~1c/0", "[", ".a[", `.a["\"]`, ".a[-1]", "/~2", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, parse := range []func(string) ([]step, error){parsePath, parseJSONPointer} {
			steps, err := parse(s)
			if err != nil {
				continue
			}
			doc := map[string]any{"a": []any{map[string]any{"b": "x", "k": "v"}, "y"}, "spec": map[string]any{"replicas": int64(1)},
				"metadata": map[string]any{"annotations": map[string]any{"a.b/c": "1", "x": "2"}}}
			before := nodes(doc)
			removePath(doc, steps)
			if after := nodes(doc); after > before {
				t.Fatalf("removing %q grew the document from %d to %d nodes", s, before, after)
			}
			if len(steps) > 0 && present(doc, steps) {
				t.Fatalf("after removing %q it is still there: %v", s, doc)
			}
		}
		_ = ValidateIgnoreRules([]IgnoreRule{{Paths: []string{s}, JSONPointers: []string{s}, Name: s}})
	})
}

// nodes counts the values of a document, elements marked removed aside.
func nodes(v any) int {
	switch v := v.(type) {
	case map[string]any:
		n := 1
		for _, c := range v {
			n += nodes(c)
		}
		return n
	case []any:
		n := 1
		for _, c := range v {
			n += nodes(c)
		}
		return n
	case removedElement:
		return 0
	}
	return 1
}

// present reports whether a value is at steps, elements marked removed
// being absent.
func present(v any, steps []step) bool {
	if _, gone := v.(removedElement); gone {
		return false
	}
	if len(steps) == 0 {
		return true
	}
	st := steps[0]
	switch v := v.(type) {
	case map[string]any:
		switch st.kind {
		case stepField, stepIndexOrField:
			c, ok := v[st.field]
			return ok && present(c, steps[1:])
		case stepAll:
			for _, c := range v {
				if present(c, steps[1:]) {
					return true
				}
			}
		}
	case []any:
		for i, c := range v {
			if st.selects(i, c) && present(c, steps[1:]) {
				return true
			}
		}
	}
	return false
}

// FuzzNormalize normalizes decoded objects, with the defaults of built-in
// kinds: no panic, the input unchanged, and normalizing twice changes
// nothing more.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {a: b}\ndata: {c: 1}\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 1.0, template: {spec: {containers: [{name: a, resources: {limits: {cpu: 1000m}}}]}}}\n",
		"apiVersion: example.com/v1\nkind: W\nmetadata: {name: w}\nspec: {a: [1.0, 2.5, {b: 3.0}]}\n",
		"apiVersion: v1\nkind: Secret\nstringData: [1]\n",
		"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\nrules: []\n",
		"apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\nspec: {volumeClaimTemplates: [{metadata: {name: d}, spec: {resources: {requests: {storage: 0.1m}}}}, 3]}\n",
		"apiVersion: v1\nkind: LimitRange\nmetadata: {name: l}\nspec: {limits: [{type: Container, max: {cpu: 2}, min: {memory: 1Mi}}]}\n",
		"apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata: {name: w}\nwebhooks: [{name: a.b.c, rules: [{operations: [CREATE]}, null]}]\n",
	} {
		f.Add([]byte(s))
	}
	scheme, err := newScheme()
	if err != nil {
		f.Fatal(err)
	}
	n := normalizer{scheme: scheme}
	tc := builtinConverter(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := object.DecodeBytes(data, object.DecodeOptions{MaxBytes: 64 << 10, MaxDepth: 32, MaxDocuments: 4})
		if err != nil {
			return
		}
		for _, o := range objs {
			snapshot := o.DeepCopy()
			d := newDefaulter(tc, o.GroupVersionKind(), false)
			once, _ := n.normalize(o, d)
			if !reflect.DeepEqual(snapshot.Object, o.Object) {
				t.Fatal("normalize modified its input")
			}
			twice, _ := n.normalize(once, d)
			if !reflect.DeepEqual(once.Object, twice.Object) {
				a, _ := once.MarshalJSON()
				b, _ := twice.MarshalJSON()
				if !bytes.Equal(a, b) {
					t.Fatalf("normalize is not idempotent:\n%s\n%s", a, b)
				}
			}
		}
	})
}

func TestStoredAsSentIsASufficientTestOnly(t *testing.T) {
	sent := map[string]any{
		"metadata": map[string]any{"name": "a", "labels": map[string]any{"app": "a"}, "creationTimestamp": nil},
		"spec": map[string]any{"replicas": int64(2), "containers": []any{
			map[string]any{"name": "c", "image": "r/c:1.0.0"}}},
	}
	stored := map[string]any{
		"metadata": map[string]any{"name": "a", "uid": "u", "labels": map[string]any{"app": "a"}},
		"spec": map[string]any{"replicas": int64(2), "paused": false, "containers": []any{
			map[string]any{"name": "c", "image": "r/c:1.0.0", "imagePullPolicy": "IfNotPresent"}}},
	}
	if !storedAsSent(sent, stored) {
		t.Fatal("defaults added by the server are not a change to what was sent")
	}
	for name, mutate := range map[string]func(m map[string]any){
		"value rewritten": func(m map[string]any) {
			m["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["image"] = "r/c@sha256:0"
		},
		"item added": func(m map[string]any) {
			m["spec"].(map[string]any)["containers"] = append(m["spec"].(map[string]any)["containers"].([]any), map[string]any{"name": "sidecar"})
		},
		"field dropped":    func(m map[string]any) { delete(m["spec"].(map[string]any), "replicas") },
		"type changed":     func(m map[string]any) { m["spec"].(map[string]any)["replicas"] = float64(2) },
		"map became value": func(m map[string]any) { m["metadata"].(map[string]any)["labels"] = "x" },
	} {
		changed := runtime.DeepCopyJSON(stored)
		mutate(changed)
		if storedAsSent(sent, changed) {
			t.Errorf("%s: not noticed", name)
		}
	}
}
