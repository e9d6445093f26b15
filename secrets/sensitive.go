package secrets

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
)

// minSensitive is the shortest value searched for inside longer strings;
// a shorter one marks only fields that equal it, as diff masks them.
const minSensitive = 4

// MarkSensitive records, in obj's object.AnnotationSensitive, the fields
// of obj that hold one of values or contain it, so that diffs and plans
// mask them as they mask a Secret's values. A Secret is left alone: all
// of its values are masked anyway. Steps that put secret values into
// other kinds (a decrypted ConfigMap, a resolved placeholder in a
// Deployment's env) call it; the annotation holds paths, never values.
func MarkSensitive(obj *unstructured.Unstructured, values []string) {
	if obj == nil || len(values) == 0 || (obj.GetAPIVersion() == "v1" && obj.GetKind() == "Secret") {
		return
	}
	var pointers []string
	for k, v := range obj.Object {
		if k == "apiVersion" || k == "kind" {
			continue
		}
		if k == "metadata" {
			md, _ := v.(map[string]any)
			for mk, mv := range md {
				if mk != "name" && mk != "namespace" && mk != "annotations" {
					findSensitive(mv, "/metadata/"+escapePointer(mk), values, &pointers, 0)
				}
			}
			if a, ok := md["annotations"].(map[string]any); ok {
				for ak, av := range a {
					if ak != object.AnnotationSensitive {
						findSensitive(av, "/metadata/annotations/"+escapePointer(ak), values, &pointers, 0)
					}
				}
			}
			continue
		}
		findSensitive(v, "/"+escapePointer(k), values, &pointers, 0)
	}
	if len(pointers) == 0 {
		return
	}
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	var existing []string
	if raw, ok := annotations[object.AnnotationSensitive]; ok {
		_ = json.Unmarshal([]byte(raw), &existing) // a broken one is replaced
	}
	for _, p := range pointers {
		if !slices.Contains(existing, p) {
			existing = append(existing, p)
		}
	}
	slices.Sort(existing)
	b, _ := json.Marshal(existing)
	annotations[object.AnnotationSensitive] = string(b)
	obj.SetAnnotations(annotations)
}

func findSensitive(v any, at string, values []string, out *[]string, depth int) {
	if depth > 64 {
		*out = append(*out, at)
		return
	}
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			findSensitive(x, at+"/"+escapePointer(k), values, out, depth+1)
		}
	case []any:
		for i, x := range v {
			findSensitive(x, at+"/"+strconv.Itoa(i), values, out, depth+1)
		}
	case string:
		for _, s := range values {
			if s != "" && (v == s || (len(s) >= minSensitive && strings.Contains(v, s))) {
				*out = append(*out, at)
				return
			}
		}
	}
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
