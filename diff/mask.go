package diff

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// Masks replace Secret values in diffs. A changed value shows as a change
// from maskBefore to maskAfter; an unchanged one as mask on both sides.
const (
	mask       = "***"
	maskBefore = "*** (before)"
	maskAfter  = "*** (after)"
)

// maskSecrets replaces every value of data and stringData, and the
// last-applied annotation, in a pair of Secret versions (either may be
// nil), so a diff shows which keys changed and never a value.
func maskSecrets(before, after *unstructured.Unstructured) {
	for _, field := range []string{"data", "stringData"} {
		b := nestedMap(before, field)
		a := nestedMap(after, field)
		for k, bv := range b {
			av, ok := a[k]
			switch {
			case !ok:
				b[k] = mask
			case equalValues(av, bv):
				b[k], a[k] = mask, mask
			default:
				b[k], a[k] = maskBefore, maskAfter
			}
		}
		for k := range a {
			if _, ok := b[k]; !ok {
				a[k] = mask
			}
		}
	}
	ba, aa := annotation(before, lastApplied), annotation(after, lastApplied)
	switch {
	case ba != nil && aa != nil && *ba == *aa:
		setAnnotation(before, lastApplied, mask)
		setAnnotation(after, lastApplied, mask)
	default:
		if ba != nil {
			setAnnotation(before, lastApplied, maskBefore)
		}
		if aa != nil {
			setAnnotation(after, lastApplied, maskAfter)
		}
	}
}

func nestedMap(obj *unstructured.Unstructured, field string) map[string]any {
	if obj == nil {
		return nil
	}
	m, _ := obj.Object[field].(map[string]any)
	return m
}

func equalValues(a, b any) bool {
	as, ok1 := a.(string)
	bs, ok2 := b.(string)
	return ok1 && ok2 && as == bs
}

func annotation(obj *unstructured.Unstructured, key string) *string {
	if obj == nil {
		return nil
	}
	v, ok, _ := unstructured.NestedString(obj.Object, "metadata", "annotations", key)
	if !ok {
		return nil
	}
	return &v
}

func setAnnotation(obj *unstructured.Unstructured, key, value string) {
	_ = unstructured.SetNestedField(obj.Object, value, "metadata", "annotations", key)
}
