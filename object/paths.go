package object

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
)

// ChangedPaths lists the dotted paths ("spec.replicas",
// "spec.template.spec.containers[0].image") where two decoded objects
// (or any values of maps, slices and scalars) differ, keys in order,
// at most limit of them (all when limit is 0). Lists of different
// lengths differ as a whole.
func ChangedPaths(a, b any, limit int) []string {
	return changedPaths(a, b, "", limit, nil)
}

func changedPaths(a, b any, prefix string, limit int, out []string) []string {
	if limit > 0 && len(out) >= limit {
		return out
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := slices.Sorted(maps.Keys(am))
		for k := range bm {
			if _, ok := am[k]; !ok {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out = changedPaths(am[k], bm[k], p, limit, out)
		}
		return out
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) {
		for i := range al {
			out = changedPaths(al[i], bl[i], fmt.Sprintf("%s[%d]", prefix, i), limit, out)
		}
		return out
	}
	if !reflect.DeepEqual(a, b) {
		out = append(out, prefix)
	}
	return out
}
