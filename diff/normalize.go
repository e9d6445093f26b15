package diff

import (
	"encoding/base64"
	"math"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// normalizer brings an object to the form the API server stores, so that
// values the server canonicalizes compare equal: quantities ("1000m" is
// stored as "1"), empty and absent optional fields, Secret stringData
// (stored as data), and integral floats in custom resources.
type normalizer struct {
	scheme *runtime.Scheme // built-in types; unknown kinds skip the typed round trip
}

var gvkSecret = schema.GroupVersionKind{Version: "v1", Kind: "Secret"}

// normalize returns a normalized copy of obj without managedFields, and
// whether normalization was exact (false when a built-in object would not
// decode into its Go type, which the server would reject anyway).
func (n normalizer) normalize(obj *unstructured.Unstructured) (*unstructured.Unstructured, bool) {
	out := obj.DeepCopy()
	unstructured.RemoveNestedField(out.Object, "metadata", "managedFields")
	gvk := out.GroupVersionKind()
	if gvk == gvkSecret {
		foldStringData(out.Object)
	}
	exact := true
	if n.scheme != nil && n.scheme.Recognizes(gvk) {
		if typed, err := n.scheme.New(gvk); err == nil {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(out.Object, typed); err != nil {
				exact = false
			} else if m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(typed); err != nil {
				exact = false
			} else {
				out.Object = m
				out.SetGroupVersionKind(gvk) // typed objects lose TypeMeta in the round trip
			}
		}
	}
	out.Object = integralFloats(out.Object).(map[string]any)
	return out, exact
}

// foldStringData moves stringData into data, base64-encoded, as the API
// server does on write; stringData wins over data for the same key.
func foldStringData(obj map[string]any) {
	sd, ok := obj["stringData"].(map[string]any)
	if !ok {
		delete(obj, "stringData")
		return
	}
	data, _ := obj["data"].(map[string]any)
	if data == nil {
		data = map[string]any{}
	}
	for k, v := range sd {
		if s, ok := v.(string); ok {
			data[k] = base64.StdEncoding.EncodeToString([]byte(s))
		}
	}
	obj["data"] = data
	delete(obj, "stringData")
}

// integralFloats turns float64 values with integral values into int64, as
// JSON's round trip through the API server does.
func integralFloats(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = integralFloats(x)
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = integralFloats(x)
		}
		return v
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int64(v)
		}
		return v
	}
	return v
}
