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
// stored as "1"), empty and absent optional fields, empty and null lists
// (one and the same in the server's storage), Secret stringData (stored as
// data), integral floats in custom resources, and the defaults the server
// fills in (see defaulter).
type normalizer struct {
	scheme *runtime.Scheme // built-in types; unknown kinds skip the typed round trip
}

var gvkSecret = schema.GroupVersionKind{Version: "v1", Kind: "Secret"}

// protoMessage is what the generated protobuf code of k8s.io/api gives
// every built-in type: the encoding the API server stores them in.
type protoMessage interface {
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
}

// normalize returns a normalized copy of obj without managedFields, and
// whether normalization was exact (false when a built-in object would not
// decode into its Go type, which the server would reject anyway). With a
// defaulter, the server's defaults are filled in last.
func (n normalizer) normalize(obj *unstructured.Unstructured, d *defaulter) (*unstructured.Unstructured, bool) {
	out := obj.DeepCopy()
	unstructured.RemoveNestedField(out.Object, "metadata", "managedFields")
	gvk := out.GroupVersionKind()
	if gvk == gvkSecret {
		foldStringData(out.Object)
	}
	exact := true
	if n.scheme != nil && n.scheme.Recognizes(gvk) {
		if m, ok := n.roundTrip(out.Object, gvk); ok {
			out.Object = m
			out.SetGroupVersionKind(gvk) // typed objects lose TypeMeta in the round trip
		} else {
			exact = false
		}
	}
	d.apply(out.Object)
	out.Object = integralFloats(out.Object).(map[string]any)
	return out, exact
}

// roundTrip decodes obj into its Go type, passes it through the protobuf
// encoding the API server stores built-in objects in, and encodes it back.
// The Go type canonicalizes values and drops empty optional fields; the
// protobuf step does what storage does to what JSON tells apart and
// protobuf does not: an empty list or map and a missing one are the same
// (a ClusterRole applied with `rules: []` reads back `rules: null`).
func (n normalizer) roundTrip(obj map[string]any, gvk schema.GroupVersionKind) (map[string]any, bool) {
	typed, err := n.scheme.New(gvk)
	if err != nil {
		return nil, false
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, typed); err != nil {
		return nil, false
	}
	if pb, ok := typed.(protoMessage); ok {
		data, err := pb.Marshal()
		if err != nil {
			return nil, false
		}
		stored, err := n.scheme.New(gvk)
		if err != nil {
			return nil, false
		}
		spb, ok := stored.(protoMessage)
		if !ok || spb.Unmarshal(data) != nil {
			return nil, false
		}
		typed = stored
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(typed)
	if err != nil {
		return nil, false
	}
	return m, true
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
