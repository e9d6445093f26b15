package diff

import (
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// fieldManager is the API server's own server-side-apply machinery
// (k8s.io/apimachinery managedfields), run in memory: the same merge, the
// same ownership bookkeeping, the same conflict detection. What it cannot
// do is what happens after the merge on the server: defaulting, admission
// webhooks and conversion, which normalize and the dry-run fallback cover.
type fieldManager struct {
	manager   *managedfields.FieldManager
	converter managedfields.TypeConverter
	deduced   bool       // no schema: types were guessed from the values
	defaults  *defaulter // nil without a schema
}

func newFieldManager(tc managedfields.TypeConverter, gvk schema.GroupVersionKind, deduced bool) (*fieldManager, error) {
	// The merge runs without defaulting (noDefaults): the comparison fills
	// in defaults on both sides instead (see defaulter), so that a dry-run
	// answer, already defaulted, is compared the same way.
	//
	// The server resets status on an apply to the main resource of every
	// type with a status subresource; do the same so a desired object that
	// carries a status is compared the way the server treats it.
	reset := map[fieldpath.APIVersion]fieldpath.Filter{
		fieldpath.APIVersion(gvk.GroupVersion().String()): fieldpath.NewExcludeSetFilter(fieldpath.NewSet(fieldpath.MakePathOrDie("status"))),
	}
	fm, err := managedfields.NewDefaultCRDFieldManager(tc, unstructuredConvertor{}, noDefaults{}, unstructuredCreater{}, gvk, gvk.GroupVersion(), "", reset)
	if err != nil {
		return nil, err
	}
	return &fieldManager{manager: fm, converter: tc, deduced: deduced, defaults: newDefaulter(tc, gvk, deduced)}, nil
}

// apply merges desired into live as manager. Without force, conflicts come
// back as a *apierrors.StatusError of reason Conflict.
func (f *fieldManager) apply(live, desired *unstructured.Unstructured, manager string, force bool) (*unstructured.Unstructured, error) {
	out, err := f.manager.Apply(live.DeepCopy(), desired.DeepCopy(), manager, force)
	if err != nil {
		return nil, err
	}
	u, ok := out.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("field manager returned %T", out)
	}
	return u, nil
}

// conflicts runs the apply without force and reads the conflicts the field
// manager reports.
func (f *fieldManager) conflicts(live, desired *unstructured.Unstructured, manager string) ([]Conflict, error) {
	_, err := f.apply(live, desired, manager, false)
	if err == nil {
		return nil, nil
	}
	var status *apierrors.StatusError
	if !errors.As(err, &status) || !apierrors.IsConflict(err) || status.ErrStatus.Details == nil {
		return nil, err
	}
	var out []Conflict
	for _, c := range status.ErrStatus.Details.Causes {
		if c.Type != metav1.CauseTypeFieldManagerConflict {
			continue
		}
		out = append(out, Conflict{Manager: quoted(c.Message), Path: c.Field})
	}
	return out, nil
}

// quoted returns the first double-quoted string in s: the manager name in
// `conflict with "kubectl-edit" using apps/v1`.
func quoted(s string) string {
	_, rest, ok := strings.Cut(s, `"`)
	if !ok {
		return s
	}
	name, _, _ := strings.Cut(rest, `"`)
	return name
}

// managedSet returns the fields manager owns in obj through Apply.
func managedSet(obj *unstructured.Unstructured, manager string) (*fieldpath.Set, error) {
	entry, ok := applyEntry(obj, manager)
	if !ok || entry.FieldsV1 == nil {
		return &fieldpath.Set{}, nil
	}
	set := &fieldpath.Set{}
	if err := set.FromJSON(entry.FieldsV1.GetRawReader()); err != nil {
		return nil, fmt.Errorf("decode managed fields of %s: %w", manager, err)
	}
	return set, nil
}

// managersSet returns the union of the fields the given managers own in
// obj, through any operation.
func managersSet(obj *unstructured.Unstructured, managers []string) (*fieldpath.Set, error) {
	out := &fieldpath.Set{}
	for _, e := range obj.GetManagedFields() {
		if e.FieldsV1 == nil || !contains(managers, e.Manager) {
			continue
		}
		set := &fieldpath.Set{}
		if err := set.FromJSON(e.FieldsV1.GetRawReader()); err != nil {
			return nil, fmt.Errorf("decode managed fields of %s: %w", e.Manager, err)
		}
		out = out.Union(set)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// unstructuredConvertor converts between versions of one kind by renaming
// the apiVersion. The field manager needs a convertor; converge only ever
// compares an object with itself at the desired version, since the cache
// reads it at that version.
type unstructuredConvertor struct{}

func (unstructuredConvertor) Convert(in, out, _ any) error {
	src, ok1 := in.(*unstructured.Unstructured)
	dst, ok2 := out.(*unstructured.Unstructured)
	if !ok1 || !ok2 {
		return fmt.Errorf("cannot convert %T to %T", in, out)
	}
	dst.Object = src.DeepCopy().Object
	return nil
}

func (unstructuredConvertor) ConvertToVersion(in runtime.Object, gv runtime.GroupVersioner) (runtime.Object, error) {
	u, ok := in.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("cannot convert %T", in)
	}
	target, ok := gv.KindForGroupVersionKinds([]schema.GroupVersionKind{u.GroupVersionKind()})
	if !ok {
		return nil, fmt.Errorf("no version of %s for %v", u.GroupVersionKind(), gv)
	}
	out := u.DeepCopy()
	out.SetGroupVersionKind(target)
	return out, nil
}

func (unstructuredConvertor) ConvertFieldLabel(_ schema.GroupVersionKind, label, value string) (string, string, error) {
	return label, value, nil
}

type noDefaults struct{}

func (noDefaults) Default(runtime.Object) {}

type unstructuredCreater struct{}

func (unstructuredCreater) New(gvk schema.GroupVersionKind) (runtime.Object, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u, nil
}
