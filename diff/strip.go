package diff

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/typed"

	"github.com/converge-dev/converge/object"
)

// StripIgnored returns a copy of desired without the fields that an
// ignore rule of this Differ covers and that live shows owned by a field
// manager other than the Differ's: the object an apply should send so that
// it does not take back what another controller manages (Argo CD's
// RespectIgnoreDifferences). An HPA's /spec/replicas under a rule for
// /spec/replicas is left out of the apply, and the HPA's value stays.
//
// A covered field is kept when nobody else owns it: on create (live is
// nil), when only the Differ's manager owns it, or when no manager does,
// so a new Deployment still gets its replicas. Fields of managers that a
// rule's Managers names are covered wherever desired sets them. Fields
// outside every rule are never touched, nor is desired.
//
// Use it on the way to an apply only. Diff, Record and receipts work on
// desired as the host renders it: record the apply with the unstripped
// desired (and the applied object), so that the next Diff of the same
// desired matches its receipt. Errors name the object and never carry a
// Secret's values.
func (d *Differ) StripIgnored(ctx context.Context, desired, live *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	out := desired.DeepCopy()
	id := object.IDOf(desired)
	var rules []compiledRule
	for _, r := range d.compiled {
		if r.matches(id) && (len(r.paths) > 0 || len(r.rule.Managers) > 0) {
			rules = append(rules, r)
		}
	}
	if len(rules) == 0 {
		return out, nil
	}
	fm, err := d.fieldManager(ctx, desired.GroupVersionKind())
	if err != nil {
		return nil, d.wrap(id, err)
	}
	tv, err := fm.converter.ObjectToTyped(desired, typed.AllowDuplicates)
	if err != nil {
		return nil, d.wrap(id, fmt.Errorf("read desired object: %w", err))
	}
	if live == nil {
		return out, nil
	}
	strip, err := d.strippable(rules, fm, tv, desired, live)
	if err != nil {
		return nil, d.wrap(id, err)
	}
	if strip.Empty() {
		return out, nil
	}
	obj, err := fm.converter.TypedToObject(tv.RemoveItems(strip))
	if err != nil {
		return nil, d.wrap(id, err)
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, d.wrap(id, fmt.Errorf("type converter returned %T", obj))
	}
	dropEmptied(u.Object, desired.Object)
	return u, nil
}

// strippable returns the fields of desired (typed as tv) that rules cover
// and another manager owns in live.
func (d *Differ) strippable(rules []compiledRule, fm *fieldManager, tv *typed.TypedValue, desired, live *unstructured.Unstructured) (*fieldpath.Set, error) {
	all, err := tv.ToFieldSet()
	if err != nil {
		return nil, err
	}
	others, err := othersSet(live, d.manager)
	if err != nil {
		return nil, err
	}
	strip := &fieldpath.Set{}
	if others.Empty() {
		return strip, nil
	}
	// The fields under rule paths: those that removing the paths takes
	// out of desired's field set.
	kept := desired.DeepCopy()
	applyRules(rules, object.IDOf(desired), kept)
	tvKept, err := fm.converter.ObjectToTyped(kept, typed.AllowDuplicates)
	if err != nil {
		return nil, fmt.Errorf("read desired object without ignored fields: %w", err)
	}
	keptSet, err := tvKept.ToFieldSet()
	if err != nil {
		return nil, err
	}
	strip = all.Difference(keptSet).Intersection(others)
	var managers []string
	for _, r := range rules {
		for _, m := range r.rule.Managers {
			if m != d.manager {
				managers = append(managers, m)
			}
		}
	}
	if len(managers) > 0 {
		owned, err := managersSet(live, managers)
		if err != nil {
			return nil, err
		}
		strip = strip.Union(all.Intersection(owned))
	}
	return strip, nil
}

// othersSet returns the union of the fields every manager but manager owns
// in obj, through any operation and subresource (an HPA writes replicas
// through /scale).
func othersSet(obj *unstructured.Unstructured, manager string) (*fieldpath.Set, error) {
	var names []string
	for _, e := range obj.GetManagedFields() {
		if e.Manager != manager && !contains(names, e.Manager) {
			names = append(names, e.Manager)
		}
	}
	if len(names) == 0 {
		return &fieldpath.Set{}, nil
	}
	return managersSet(obj, names)
}

// dropEmptied deletes, from stripped, the maps that stripping emptied
// (they held fields in original; the type converter leaves them empty or
// null): applying an empty or null map would claim it. It reports whether
// stripped itself is such a map.
func dropEmptied(stripped, original any) bool {
	switch s := stripped.(type) {
	case nil:
		o, _ := original.(map[string]any)
		return len(o) > 0
	case map[string]any:
		o, _ := original.(map[string]any)
		for k, v := range s {
			if dropEmptied(v, o[k]) {
				delete(s, k)
			}
		}
		return len(s) == 0 && len(o) > 0
	case []any:
		// Items pair up by place only while none was stripped whole; an
		// emptied item keeps its place either way.
		if o, _ := original.([]any); len(o) == len(s) {
			for i, v := range s {
				dropEmptied(v, o[i])
			}
		}
	}
	return false
}

// MayStrip reports whether StripIgnored could leave anything out of
// desired: a rule of this Differ names a manager for the object, or
// covers a field desired sets. It reads desired only, so an applier can
// skip StripIgnored, and the read of live's full managedFields it needs,
// for every other object.
func (d *Differ) MayStrip(desired *unstructured.Unstructured) bool {
	id := object.IDOf(desired)
	for _, r := range d.compiled {
		if !r.matches(id) {
			continue
		}
		if len(r.rule.Managers) > 0 {
			return true
		}
		for _, p := range r.paths {
			if hasPath(desired.Object, p) {
				return true
			}
		}
	}
	return false
}

// hasPath reports whether obj holds a value at steps.
func hasPath(obj any, steps []step) bool {
	if len(steps) == 0 {
		return true
	}
	st := steps[0]
	switch v := obj.(type) {
	case map[string]any:
		switch st.kind {
		case stepField, stepIndexOrField:
			child, ok := v[st.field]
			return ok && hasPath(child, steps[1:])
		case stepAll:
			for _, child := range v {
				if hasPath(child, steps[1:]) {
					return true
				}
			}
		}
	case []any:
		for i, child := range v {
			if st.selects(i, child) && hasPath(child, steps[1:]) {
				return true
			}
		}
	}
	return false
}
