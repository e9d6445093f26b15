package diff

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
)

const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// Masks replace Secret values. A changed value shows as a change from
// MaskBefore to MaskAfter; an unchanged one, or one on one side only, as
// Mask.
const (
	Mask       = "***"
	MaskBefore = "*** (before)"
	MaskAfter  = "*** (after)"
)

// minContained is the shortest secret value searched for inside other
// strings. A shorter one ("1", "yes") would match half of any object by
// chance; it is still masked where a string equals it.
const minContained = 4

// IsSecret reports whether obj is a core Secret, the kind whose values
// [MaskSecret] and [MaskSecrets] hide.
func IsSecret(obj *unstructured.Unstructured) bool {
	if obj == nil {
		return false
	}
	gvk := obj.GroupVersionKind()
	return gvk.Group == "" && gvk.Kind == "Secret"
}

// MaskSecret returns a copy of obj with every copy of its secret values
// masked, when obj is a Secret; a copy of obj unchanged otherwise. It
// masks each value of data and stringData (the keys stay), the
// last-applied-configuration annotation, every annotation that holds JSON
// (another tool's copy of the object), and every other string (an
// annotation, a label, any field) that contains one of the Secret's
// values as stored (base64) or decoded. Only the object's identity
// (apiVersion, kind, name, namespace, uid, resourceVersion) and keys are
// kept as they are.
func MaskSecret(obj *unstructured.Unstructured) *unstructured.Unstructured {
	_, after := MaskSecrets(nil, obj)
	return after
}

// MaskSecrets returns masked copies of two versions of one object, either
// of which may be nil, as [MaskSecret] masks one, so that a diff of them
// still shows which values changed: a value that differs shows as
// MaskBefore on one side and MaskAfter on the other, a value that is the
// same as Mask on both. Values are found on both sides, so a value of
// either version is masked wherever it appears in the other. An object
// that is not a Secret is masked the same way in the fields its
// object.AnnotationSensitive lists (what converge's secrets steps put
// there), and copied unchanged when it lists none. The inputs are not
// modified.
func MaskSecrets(before, after *unstructured.Unstructured) (*unstructured.Unstructured, *unstructured.Unstructured) {
	b, a := copyOrNil(before), copyOrNil(after)
	pointers := sensitivePointers(before, after)
	if !IsSecret(before) && !IsSecret(after) && len(pointers) == 0 {
		return b, a
	}
	values := secretValues(before, after)
	if len(pointers) > 0 {
		maskSensitive(b, a, pointers, values)
	}
	for _, field := range []string{"data", "stringData"} {
		maskPair(nestedMap(b, field), nestedMap(a, field), func(string, any) bool { return true })
		for _, obj := range []*unstructured.Unstructured{b, a} {
			// Not a map (the server would refuse it): no keys to show.
			if v, ok := objectField(obj, field); ok && v != nil && nestedMap(obj, field) == nil {
				obj.Object[field] = Mask
			}
		}
	}
	for _, field := range []string{"annotations", "labels"} {
		maskPair(metaMap(b, field), metaMap(a, field), func(key string, v any) bool {
			s, _ := v.(string)
			if field == "annotations" && key == object.AnnotationSensitive {
				return values.in(s) // paths, not values
			}
			return key == lastApplied || (field == "annotations" && holdsJSON(s)) || values.in(s)
		})
	}
	for _, obj := range []*unstructured.Unstructured{b, a} {
		if obj != nil {
			maskObject(obj.Object, values, IsSecret(obj))
		}
	}
	return b, a
}

// sensitivePointers are the fields either version's AnnotationSensitive
// lists. An annotation that does not parse makes the whole object
// sensitive: every string is masked.
func sensitivePointers(objs ...*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		if o == nil {
			continue
		}
		raw, ok := o.GetAnnotations()[object.AnnotationSensitive]
		if !ok {
			continue
		}
		var ps []string
		if err := json.Unmarshal([]byte(raw), &ps); err != nil {
			ps = []string{""} // the whole object
		}
		for _, p := range ps {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// maskSensitive masks the fields pointers name in both versions, pairwise
// (a changed value shows as MaskBefore and MaskAfter), and adds their
// values to values, so that copies elsewhere are masked too.
func maskSensitive(b, a *unstructured.Unstructured, pointers []string, values secretSet) {
	for _, p := range pointers {
		var bv, av any
		var bok, aok bool
		if b != nil {
			bv, bok = pointerGet(b.Object, p)
		}
		if a != nil {
			av, aok = pointerGet(a.Object, p)
		}
		for _, v := range []any{bv, av} {
			values.addAll(v)
			if s, ok := v.(string); ok {
				values.add(base64.StdEncoding.EncodeToString([]byte(s)))
			}
		}
		if p == "" {
			continue // the whole object: every string holding a value goes below
		}
		switch {
		case bok && aok && equalValues(bv, av):
			pointerSet(b.Object, p, Mask)
			pointerSet(a.Object, p, Mask)
		case bok && aok:
			pointerSet(b.Object, p, MaskBefore)
			pointerSet(a.Object, p, MaskAfter)
		case bok:
			pointerSet(b.Object, p, Mask)
		case aok:
			pointerSet(a.Object, p, Mask)
		}
	}
	if slices.Contains(pointers, "") {
		for _, o := range []*unstructured.Unstructured{b, a} {
			if o != nil {
				for k, v := range o.Object {
					if k != "apiVersion" && k != "kind" && k != "metadata" {
						values.addAll(v)
					}
				}
			}
		}
	}
}

// pointerGet returns the value at JSON pointer p of obj.
func pointerGet(obj map[string]any, p string) (any, bool) {
	if p == "" {
		return obj, true
	}
	if !strings.HasPrefix(p, "/") {
		return nil, false
	}
	var cur any = obj
	for _, tok := range strings.Split(p[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// pointerSet replaces the value at JSON pointer p of obj, when it exists.
func pointerSet(obj map[string]any, p string, v any) {
	i := strings.LastIndex(p, "/")
	if i < 0 {
		return
	}
	parent, ok := pointerGet(obj, p[:i])
	if !ok {
		return
	}
	tok := strings.ReplaceAll(strings.ReplaceAll(p[i+1:], "~1", "/"), "~0", "~")
	switch c := parent.(type) {
	case map[string]any:
		if _, ok := c[tok]; ok {
			c[tok] = v
		}
	case []any:
		if n, err := strconv.Atoi(tok); err == nil && n >= 0 && n < len(c) {
			c[n] = v
		}
	}
}

// maskPair masks, in two versions of one map (either may be nil), the
// entries secret says hold a secret on either side.
func maskPair(b, a map[string]any, secret func(key string, v any) bool) {
	for k, bv := range b {
		av, ok := a[k]
		if !secret(k, bv) && (!ok || !secret(k, av)) {
			continue
		}
		switch {
		case !ok:
			b[k] = Mask
		case equalValues(av, bv):
			b[k], a[k] = Mask, Mask
		default:
			b[k], a[k] = MaskBefore, MaskAfter
		}
	}
	for k, av := range a {
		if _, ok := b[k]; !ok && secret(k, av) {
			a[k] = Mask
		}
	}
}

// maskObject masks every string of obj that contains a secret value,
// except its identity and, in a Secret, data and stringData (masked key
// by key).
func maskObject(obj map[string]any, values secretSet, secret bool) {
	for k, x := range obj {
		switch k {
		case "apiVersion", "kind":
			continue
		case "data", "stringData":
			if secret {
				continue
			}
		case "metadata":
			md, ok := x.(map[string]any)
			if !ok {
				break
			}
			for mk, mx := range md {
				if !isIdentity(mk) {
					md[mk] = maskValue(mx, values, 0)
				}
			}
			continue
		}
		obj[k] = maskValue(x, values, 0)
	}
}

// maskValue masks every string in v that contains a secret value, and
// returns v.
func maskValue(v any, values secretSet, depth int) any {
	if depth > 64 {
		return Mask // deeper than any Secret: hide it whole
	}
	switch v := v.(type) {
	case string:
		if !isMask(v) && values.in(v) {
			return Mask
		}
	case map[string]any:
		for k, x := range v {
			v[k] = maskValue(x, values, depth+1)
		}
	case []any:
		for i, x := range v {
			v[i] = maskValue(x, values, depth+1)
		}
	}
	return v
}

// isIdentity names the metadata fields that identify an object and are
// never a copy of a value: masking them would only make diffs unreadable.
func isIdentity(k string) bool {
	switch k {
	case "name", "namespace", "uid", "resourceVersion", "generateName", "creationTimestamp", "managedFields":
		return true
	}
	return false
}

func isMask(s string) bool { return s == Mask || s == MaskBefore || s == MaskAfter }

// holdsJSON reports whether an annotation value is a JSON object or list:
// a copy of the object (last-applied configurations of other tools), whose
// escaped strings a plain search would miss.
func holdsJSON(s string) bool {
	s = strings.TrimSpace(s)
	return (strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[")) && json.Valid([]byte(s))
}

// secretSet holds a Secret's values in every form they are written in.
type secretSet map[string]bool

func (s secretSet) add(v string) {
	if v != "" {
		s[v] = true
	}
}

// addAll adds v as text, and every scalar inside it.
func (s secretSet) addAll(v any) {
	s.add(scalarString(v))
	switch v := v.(type) {
	case map[string]any:
		for _, x := range v {
			s.addAll(x)
		}
	case []any:
		for _, x := range v {
			s.addAll(x)
		}
	}
}

// in reports whether str equals a secret value or contains one long
// enough to search for.
func (s secretSet) in(str string) bool {
	if str == "" {
		return false
	}
	for v := range s {
		if str == v || (len(v) >= minContained && strings.Contains(str, v)) {
			return true
		}
	}
	return false
}

// secretValues collects the values of data (as stored, base64, and
// decoded) and stringData (as written, and base64) of the given objects.
func secretValues(objs ...*unstructured.Unstructured) secretSet {
	out := secretSet{}
	for _, o := range objs {
		if !IsSecret(o) {
			continue
		}
		for _, field := range []string{"data", "stringData"} {
			if v, ok := objectField(o, field); ok && nestedMap(o, field) == nil {
				out.addAll(v) // not a map: every value in it counts
			}
		}
		for _, v := range nestedMap(o, "data") {
			out.addAll(v)
			s := scalarString(v)
			out.add(s)
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
				if dec, err := enc.DecodeString(s); err == nil {
					out.add(string(dec))
					break
				}
			}
		}
		for _, v := range nestedMap(o, "stringData") {
			out.addAll(v)
			s := scalarString(v)
			out.add(s)
			out.add(base64.StdEncoding.EncodeToString([]byte(s)))
		}
	}
	return out
}

// scalarString is a value as text: a string as is, anything else (a
// number where a string belongs) as it would print.
func scalarString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	case map[string]any, []any:
		data, _ := json.Marshal(v)
		return string(data)
	default:
		return fmt.Sprint(v)
	}
}

func copyOrNil(obj *unstructured.Unstructured) *unstructured.Unstructured {
	if obj == nil {
		return nil
	}
	return obj.DeepCopy()
}

func objectField(obj *unstructured.Unstructured, field string) (any, bool) {
	if obj == nil {
		return nil, false
	}
	v, ok := obj.Object[field]
	return v, ok
}

func nestedMap(obj *unstructured.Unstructured, field string) map[string]any {
	if obj == nil {
		return nil
	}
	m, _ := obj.Object[field].(map[string]any)
	return m
}

func metaMap(obj *unstructured.Unstructured, field string) map[string]any {
	if obj == nil {
		return nil
	}
	md, _ := obj.Object["metadata"].(map[string]any)
	m, _ := md[field].(map[string]any)
	return m
}

func equalValues(a, b any) bool {
	as, ok1 := a.(string)
	bs, ok2 := b.(string)
	return ok1 && ok2 && as == bs
}
