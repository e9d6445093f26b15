package diff

import (
	"context"
	"fmt"
	"reflect"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/typed"

	"github.com/converge-dev/converge/object"
)

// local merges desired into live with the API server's field manager and
// compares the result with live.
func (d *Differ) local(ctx context.Context, id object.ID, desired, live *unstructured.Unstructured) (*Result, error) {
	fm, err := d.fieldManager(ctx, desired.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	merged, err := fm.apply(live, desired, d.manager, true)
	if err != nil {
		return nil, err
	}
	res, err := d.compare(id, fm, live, merged)
	if err != nil {
		return nil, err
	}
	res.Method = ByLocalMerge
	if fm.deduced && !res.Uncertain {
		res.Uncertain, res.Reason = true, "the API server publishes no schema for this kind"
	}
	if res.Action == Update && len(res.Paths) > 0 {
		conflicts, err := fm.conflicts(live, desired, d.manager)
		if err != nil {
			return nil, err
		}
		ignored := ignoredManagers(d.compiled, id)
		for _, c := range conflicts {
			if !slices.Contains(ignored, c.Manager) {
				res.Conflicts = append(res.Conflicts, c)
			}
		}
	}
	return res, nil
}

// compare says how after (a merge result or a dry-run answer) differs from
// live, after normalization and ignore rules.
func (d *Differ) compare(id object.ID, fm *fieldManager, live, after *unstructured.Unstructured) (*Result, error) {
	res := &Result{ID: id, Action: Unchanged}
	liveN, exact1 := d.norm.normalize(live, fm.defaults)
	afterN, exact2 := d.norm.normalize(after, fm.defaults)
	if !exact1 || !exact2 {
		res.Uncertain, res.Reason = true, "the object does not decode into its built-in type"
	}
	// The rules edit copies: the whole normalized objects are needed again
	// when only ownership differs.
	liveR, afterR := liveN.DeepCopy(), afterN.DeepCopy()
	applyRules(d.compiled, id, liveR, afterR)
	tvLive, err := fm.converter.ObjectToTyped(liveR, typed.AllowDuplicates)
	if err != nil {
		return nil, fmt.Errorf("read live object: %w", err)
	}
	tvAfter, err := fm.converter.ObjectToTyped(afterR, typed.AllowDuplicates)
	if err != nil {
		return nil, fmt.Errorf("read desired object: %w", err)
	}
	var owned *fieldpath.Set
	if managers := ignoredManagers(d.compiled, id); len(managers) > 0 {
		if owned, err = managersSet(live, managers); err != nil {
			return nil, err
		}
		tvLive, tvAfter = tvLive.RemoveItems(owned), tvAfter.RemoveItems(owned)
	}
	cmp, err := tvLive.Compare(tvAfter)
	if err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	if !cmp.IsSame() {
		res.Action = Update
		changed := cmp.Added.Union(cmp.Modified).Union(cmp.Removed)
		changed.Iterate(func(p fieldpath.Path) { res.Paths = append(res.Paths, p.String()) })
		slices.Sort(res.Paths)
		if res.Diff, err = d.render(id, fm, tvLive, tvAfter); err != nil {
			return nil, err
		}
		if !res.Uncertain && cmp.Added.Empty() && cmp.Removed.Empty() && within(afterR.Object, liveR.Object) {
			// Every difference is a value live holds inside an atomic
			// value (one the merge replaces whole) that desired does not
			// set: a default the server fills in and defaulter does not
			// know, or a field desired dropped. Only the server can tell.
			res.Uncertain = true
			res.Reason = "live has fields inside atomic values that desired does not set: server defaults, or fields desired dropped"
		}
		return res, nil
	}
	// Same values: the apply still writes when the managedFields
	// bookkeeping changes: converge takes back fields another manager took
	// (ownership is what makes receipts exact), or entries that share a
	// timestamp second are re-sorted. The server ignores timestamp-only
	// changes, so times are left out.
	if sameManagedFields(live, after) {
		return res, nil
	}
	same, err := d.ownershipHidden(fm, live, after, liveN, afterN, tvLive, tvAfter, owned)
	if err != nil {
		return nil, err
	}
	if !same {
		res.Action = Update
		res.Uncertain = true
		res.Reason = "only managedFields would change: converge would take back fields set to the same values, or the server defaults keys of list items"
	}
	return res, nil
}

// ownershipHidden reports whether the ownership change between live and
// after lies only in fields ignore rules hide (fields the rules removed
// from the whole normalized objects, and fields ignored managers own).
func (d *Differ) ownershipHidden(fm *fieldManager, live, after, liveN, afterN *unstructured.Unstructured,
	tvLive, tvAfter *typed.TypedValue, owned *fieldpath.Set) (bool, error) {
	ignored := &fieldpath.Set{}
	for _, pair := range []struct {
		whole *unstructured.Unstructured
		kept  *typed.TypedValue
	}{{liveN, tvLive}, {afterN, tvAfter}} {
		all, err := fm.converter.ObjectToTyped(pair.whole, typed.AllowDuplicates)
		if err != nil {
			return false, err
		}
		removed, err := removedFields(all, pair.kept)
		if err != nil {
			return false, err
		}
		ignored = ignored.Union(removed)
	}
	if owned != nil {
		ignored = ignored.Union(owned)
	}
	before, err := managedSet(live, d.manager)
	if err != nil {
		return false, err
	}
	now, err := managedSet(after, d.manager)
	if err != nil {
		return false, err
	}
	if before.Union(now).Intersection(ignored).Empty() {
		return false, nil // the rules hide none of converge's fields
	}
	return before.Difference(ignored).Equals(now.Difference(ignored)), nil
}

// removedFields returns the fields of all that rules removed to get kept.
func removedFields(all, kept *typed.TypedValue) (*fieldpath.Set, error) {
	a, err := all.ToFieldSet()
	if err != nil {
		return nil, err
	}
	k, err := kept.ToFieldSet()
	if err != nil {
		return nil, err
	}
	return a.Difference(k), nil
}

func sameManagedFields(a, b *unstructured.Unstructured) bool {
	ea, eb := a.GetManagedFields(), b.GetManagedFields()
	if len(ea) != len(eb) {
		return false
	}
	for i := range ea {
		ea[i].Time, eb[i].Time = nil, nil
	}
	return reflect.DeepEqual(ea, eb)
}

// render produces the masked unified diff of two typed values.
func (d *Differ) render(id object.ID, fm *fieldManager, before, after *typed.TypedValue) (string, error) {
	b, err := fm.converter.TypedToObject(before)
	if err != nil {
		return "", err
	}
	a, err := fm.converter.TypedToObject(after)
	if err != nil {
		return "", err
	}
	bu, ok1 := b.(*unstructured.Unstructured)
	au, ok2 := a.(*unstructured.Unstructured)
	if !ok1 || !ok2 {
		return "", fmt.Errorf("type converter returned %T and %T", b, a)
	}
	return Unified(bu, au, UnifiedOptions{From: "live/" + id.String(), To: "desired/" + id.String()})
}

// storedAsSent reports whether every value in sent appears, unchanged and
// of the same type, at the same place in stored: maps may hold more keys,
// lists must have the same length. It is a sufficient test only: any
// difference, even one normalization would explain (a quantity written
// another way, stringData moved to data), answers false and leaves the
// verdict to the local merge.
func storedAsSent(sent, stored any) bool {
	switch s := sent.(type) {
	case map[string]any:
		m, ok := stored.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range s {
			sv, found := m[k]
			if !found {
				if v == nil {
					continue // a null the server drops
				}
				return false
			}
			if !storedAsSent(v, sv) {
				return false
			}
		}
		return true
	case []any:
		l, ok := stored.([]any)
		if !ok || len(l) != len(s) {
			return false
		}
		for i := range s {
			if !storedAsSent(s[i], l[i]) {
				return false
			}
		}
		return true
	case string, bool, int64, float64, nil:
		return sent == stored
	default:
		return false
	}
}

// within reports whether every value in a is in b at the same place, b
// holding possibly more map keys; lists must have the same length.
func within(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		m, ok := b.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range a {
			bv, found := m[k]
			if !found && v != nil {
				return false
			}
			if found && !within(v, bv) {
				return false
			}
		}
		return true
	case []any:
		l, ok := b.([]any)
		if !ok || len(l) != len(a) {
			return false
		}
		for i := range a {
			if !within(a[i], l[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(a, b)
	}
}
