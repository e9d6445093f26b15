package diff_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/converge-dev/converge/diff"
)

// plantedSecret returns a Secret that carries value in every place a copy
// of a secret value turns up: data (base64), stringData, the last-applied
// annotation, another tool's JSON copy of the object, an annotation and a
// label that quote it, and a field the Secret kind does not have.
func plantedSecret(value string) *unstructured.Unstructured {
	enc := base64.StdEncoding.EncodeToString([]byte(value))
	self, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Secret", "stringData": map[string]any{"token": value}})
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{
			"name": "db", "namespace": "shop",
			"annotations": map[string]any{
				"kubectl.kubernetes.io/last-applied-configuration": string(self),
				"kapp.k14s.io/original":                            string(self),
				"example.com/note":                                 "rotated to " + value + " yesterday",
				"example.com/encoded":                              "x" + enc,
				"example.com/owner":                                "team-a",
			},
			"labels": map[string]any{"app": "db", "token-copy": value},
		},
		"type":       "Opaque",
		"data":       map[string]any{"password": enc},
		"stringData": map[string]any{"token": value},
		"extra":      map[string]any{"nested": []any{"see " + value}},
	}}
}

// leaks returns the forms of value found in text.
func leaks(text, value string) []string {
	var out []string
	escaped, _ := json.Marshal(value)
	for _, form := range []string{value, base64.StdEncoding.EncodeToString([]byte(value)), strings.Trim(string(escaped), `"`)} {
		if strings.Contains(text, form) {
			out = append(out, form)
		}
	}
	return out
}

func TestMaskSecretHidesEveryCopy(t *testing.T) {
	const value = `hunter2-"marker"-4f1c`
	in := plantedSecret(value)
	before := in.DeepCopy()
	out := diff.MaskSecret(in)
	assert.Equal(t, before.Object, in.Object, "the input is not modified")

	text, err := yaml.Marshal(out.Object)
	require.NoError(t, err)
	assert.Empty(t, leaks(string(text), value), "%s", text)

	assert.Equal(t, "db", out.GetName())
	assert.Equal(t, map[string]any{"password": diff.Mask}, out.Object["data"], "keys stay, values go")
	assert.Equal(t, map[string]any{"token": diff.Mask}, out.Object["stringData"])
	assert.Equal(t, "team-a", out.GetAnnotations()["example.com/owner"], "annotations without values stay")
	assert.Equal(t, "db", out.GetLabels()["app"])
	assert.Equal(t, diff.Mask, out.GetLabels()["token-copy"])
}

func TestMaskSecretsShowsWhichValuesChanged(t *testing.T) {
	b := plantedSecret("old-value-1234")
	a := plantedSecret("new-value-5678")
	a.Object["data"].(map[string]any)["user"] = base64.StdEncoding.EncodeToString([]byte("same-user"))
	b.Object["data"].(map[string]any)["user"] = base64.StdEncoding.EncodeToString([]byte("same-user"))
	mb, ma := diff.MaskSecrets(b, a)
	assert.Equal(t, map[string]any{"password": diff.MaskBefore, "user": diff.Mask}, mb.Object["data"])
	assert.Equal(t, map[string]any{"password": diff.MaskAfter, "user": diff.Mask}, ma.Object["data"])
	assert.Equal(t, diff.MaskBefore, mb.GetAnnotations()["kubectl.kubernetes.io/last-applied-configuration"])
	assert.Equal(t, diff.MaskAfter, ma.GetAnnotations()["kubectl.kubernetes.io/last-applied-configuration"])
	assert.Equal(t, diff.MaskBefore, mb.GetAnnotations()["example.com/note"], "an annotation quoting a value")
	assert.Equal(t, diff.MaskAfter, ma.GetAnnotations()["example.com/note"])
	assert.Equal(t, "team-a", ma.GetAnnotations()["example.com/owner"])

	other := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "c", "annotations": map[string]any{"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
		"data":     map[string]any{"k": "v"}}}
	_, same := diff.MaskSecrets(nil, other)
	assert.Equal(t, other.Object, same.Object, "other kinds are not masked")
	assert.NotSame(t, other, same, "but copied")
}

// TestUnifiedMasksSecrets renders two revisions of a Secret, as the CLI's
// preview of a pull request does, and checks no value of either shows.
func TestUnifiedMasksSecrets(t *testing.T) {
	b, a := plantedSecret("old-value-1234"), plantedSecret("new-value-5678")
	text, err := diff.Unified(b, a, diff.UnifiedOptions{From: "base/Secret/shop/db", To: "head/Secret/shop/db"})
	require.NoError(t, err)
	assert.Empty(t, leaks(text, "old-value-1234"), text)
	assert.Empty(t, leaks(text, "new-value-5678"), text)
	assert.Contains(t, text, "--- base/Secret/shop/db\n+++ head/Secret/shop/db\n")
	assert.Contains(t, text, "-  password: '*** (before)'\n+  password: '*** (after)'\n")

	created, err := diff.Unified(nil, a, diff.UnifiedOptions{})
	require.NoError(t, err)
	assert.Empty(t, leaks(created, "new-value-5678"), created)
	assert.Contains(t, created, "+  password: '***'\n")

	same, err := diff.Unified(a, a.DeepCopy(), diff.UnifiedOptions{})
	require.NoError(t, err)
	assert.Empty(t, same, "the same object renders no diff")

	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "c"}, "data": map[string]any{"mode": "blue"}}}
	cm2 := cm.DeepCopy()
	cm2.Object["data"].(map[string]any)["mode"] = "green"
	text, err = diff.Unified(cm, cm2, diff.UnifiedOptions{})
	require.NoError(t, err)
	assert.Contains(t, text, "-  mode: blue\n+  mode: green\n", "other kinds show their values")
}

// TestSecretErrorsCarryNoValues makes each step that can fail on a Secret
// fail, and checks the error names the object and quotes no value.
func TestSecretErrorsCarryNoValues(t *testing.T) {
	const value = "1234567.25"
	builtin := diff.SchemasFunc(func(context.Context, schema.GroupVersionKind) (managedfields.TypeConverter, error) {
		return applyconfigurations.NewTypeConverter(clientgoscheme.Scheme), nil
	})
	d, err := diff.New(builtin, diff.WithIgnoreRules(diff.IgnoreRule{Kind: "Secret", JSONPointers: []string{"/data/token"}}))
	require.NoError(t, err)
	bad := plantedSecret("marker-value-9876")
	bad.Object["data"] = map[string]any{"token": 1234567.25}
	live := plantedSecret("marker-value-9876")

	_, err = d.Diff(context.Background(), bad, live)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Secret/shop/db")
	assert.NotContains(t, err.Error(), value)
	assert.NotContains(t, err.Error(), "marker-value")

	_, err = d.StripIgnored(context.Background(), bad, live)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Secret/shop/db")
	assert.NotContains(t, err.Error(), value)

	nan := plantedSecret("marker-value-9876")
	nan.Object["extra"] = math.NaN()
	_, err = diff.Unified(nil, nan, diff.UnifiedOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Secret/shop/db")
	assert.NotContains(t, err.Error(), "NaN")
}

// FuzzMaskSecret plants a value in every place a Secret's value can be
// copied to, in an object the fuzzer shapes, and checks that the value, in
// any form it was planted in, appears nowhere in the masked object or its
// rendered diffs.
func FuzzMaskSecret(f *testing.F) {
	for _, s := range [][2]string{
		{"hunter2-marker", "{}"},
		{`quote"and\back`, `{"metadata":{"annotations":{"a":"b"}},"type":"Opaque"}`},
		{"ünïcødé-secret", `{"data":"not-a-map","stringData":[1,2]}`},
		{"line1\nline2\n", `{"metadata":{"labels":null,"annotations":{"x":["nested"]}}}`},
		{"****", `{"data":{"a":"***"}}`},
		{"c2VjcmV0", `{"extra":[[["deep"]]]}`},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, value, shape string) {
		if len(value) < 6 || strings.ContainsAny(value, "*") {
			return // too short to tell from structure, or part of the masks
		}
		var extra map[string]any
		if json.Unmarshal([]byte(shape), &extra) != nil {
			extra = map[string]any{}
		}
		obj := plantedSecret(value)
		for k, v := range extra {
			if k == "metadata" {
				if md, ok := v.(map[string]any); ok {
					for mk, mv := range md {
						if mk != "name" && mk != "namespace" {
							obj.Object["metadata"].(map[string]any)[mk] = mv
						}
					}
				}
				continue
			}
			if k != "apiVersion" && k != "kind" {
				obj.Object[k] = v
			}
		}
		// Plant again where the shape may have replaced the planted copies.
		obj.Object["stringData"] = map[string]any{"token": value}
		obj.SetAnnotations(map[string]string{"example.com/note": "is " + value})

		// A value that is part of the object's structure (a key, the name,
		// a number the shape holds) is no copy of a secret.
		clean := diff.MaskSecret(plantedSecret("zzzzzz-unplanted"))
		structure, _ := json.Marshal(clean.Object)
		shapeKeys, _ := json.Marshal(withoutStrings(extra))
		if len(leaks(string(structure), value)) > 0 || len(leaks(string(shapeKeys), value)) > 0 {
			return
		}

		masked := diff.MaskSecret(obj)
		out, err := json.Marshal(masked.Object)
		if err != nil {
			t.Fatal(err)
		}
		if l := leaks(string(out), value); len(l) > 0 {
			t.Fatalf("%q survives masking: %s", l, out)
		}
		text, err := diff.Unified(obj, plantedSecret(value+"-2"), diff.UnifiedOptions{})
		if err == nil {
			if l := leaks(text, value); len(l) > 0 {
				t.Fatalf("%q survives in the diff:\n%s", l, text)
			}
		}
	})
}

// withoutStrings returns v with every string value emptied: what is left
// of a JSON document is its structure.
func withoutStrings(v any) any {
	switch v := v.(type) {
	case string:
		return ""
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			out[k] = withoutStrings(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = withoutStrings(x)
		}
		return out
	}
	return v
}
