package apply

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/object"
)

// Sharing says what Apply does with an object that another owner applied
// first (its owner labels name another unit).
type Sharing int

const (
	// RefuseShared fails such an object with an [*OwnerError] naming the
	// other owner, and writes nothing to it. This is the default: two
	// units that define the same object are usually a mistake, and
	// taking the object over silently would let either one prune it from
	// under the other.
	RefuseShared Sharing = iota
	// AllowShared applies the object and records this owner among its
	// co-owners (object.AnnotationCoOwners). A shared object is never
	// deleted by a prune while another owner holds it: the pruning owner
	// only takes itself off. Both owners write under the same field
	// manager, so their definitions of the object should agree (a shared
	// Namespace, typically): where they differ, each apply reverts the
	// other's.
	AllowShared
)

func (s Sharing) String() string {
	if s == AllowShared {
		return "AllowShared"
	}
	return "RefuseShared"
}

// key is how an owner is written in object.AnnotationCoOwners and
// object.AnnotationCreatedFor: "namespace/name", or "name" without a
// namespace.
func (o Owner) key() string {
	if o.Namespace == "" {
		return o.Name
	}
	return o.Namespace + "/" + o.Name
}

// String returns the owner as "namespace/name" (or "name").
func (o Owner) String() string { return o.key() }

// identity is the owner without its Source: who it is, not where its
// objects come from.
func (o Owner) identity() Owner { return Owner{Name: o.Name, Namespace: o.Namespace} }

func parseOwnerKey(s string) Owner {
	if ns, name, ok := strings.Cut(s, "/"); ok {
		return Owner{Namespace: ns, Name: name}
	}
	return Owner{Name: s}
}

// ownership is what a live object says about who applied it: the owner
// in its labels (the first to apply it) and the co-owners that joined.
type ownership struct {
	primary    Owner
	hasPrimary bool
	co         []Owner // sorted by key, without primary
	source     string
}

func ownershipOf(obj *unstructured.Unstructured) ownership {
	var o ownership
	l := obj.GetLabels()
	if name := l[object.LabelOwner]; name != "" {
		o.primary = Owner{Name: name, Namespace: l[object.LabelOwnerNamespace]}
		o.hasPrimary = true
	}
	a := obj.GetAnnotations()
	for _, k := range splitList(a[object.AnnotationCoOwners]) {
		if co := parseOwnerKey(k); co.Name != "" && !(o.hasPrimary && co == o.primary) {
			o.co = append(o.co, co)
		}
	}
	slices.SortFunc(o.co, func(a, b Owner) int { return strings.Compare(a.key(), b.key()) })
	o.co = slices.Compact(o.co)
	if !o.hasPrimary && len(o.co) > 0 {
		// The owner labels were taken off by hand: the first co-owner
		// holds the object now.
		o.primary, o.hasPrimary, o.co = o.co[0], true, o.co[1:]
	}
	o.source = a[object.AnnotationSource]
	return o
}

// holds reports whether owner is the primary owner or a co-owner.
func (o ownership) holds(owner Owner) bool {
	owner = owner.identity()
	return (o.hasPrimary && o.primary == owner) || slices.Contains(o.co, owner)
}

// others returns the owners other than owner.
func (o ownership) others(owner Owner) []Owner {
	owner = owner.identity()
	var out []Owner
	if o.hasPrimary && o.primary != owner {
		out = append(out, o.primary)
	}
	for _, co := range o.co {
		if co != owner {
			out = append(out, co)
		}
	}
	return out
}

// without returns the ownership once owner has let go: the first
// co-owner becomes the primary owner when owner was it.
func (o ownership) without(owner Owner) ownership {
	rest := o.others(owner)
	out := ownership{source: o.source}
	if len(rest) > 0 {
		out.primary, out.hasPrimary, out.co = rest[0], true, rest[1:]
	}
	return out
}

// coOwnersValue is the annotation value for the co-owners, "" for none.
func (o ownership) coOwnersValue() string {
	keys := make([]string, len(o.co))
	for i, co := range o.co {
		keys[i] = co.key()
	}
	return strings.Join(keys, ",")
}

// withOwnership returns a copy of the prepared obj whose ownership marks
// are o's instead of the Applier's own (the object is shared). Only
// metadata is copied.
func withOwnership(obj *unstructured.Unstructured, o ownership) *unstructured.Unstructured {
	out := withOwnMetadata(obj)
	l := out.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	delete(l, object.LabelOwnerNamespace)
	l[object.LabelOwner] = o.primary.Name
	if o.primary.Namespace != "" {
		l[object.LabelOwnerNamespace] = o.primary.Namespace
	}
	out.SetLabels(l)
	a := maps.Clone(out.GetAnnotations())
	if a == nil {
		a = map[string]string{}
	}
	delete(a, object.AnnotationCoOwners)
	if v := o.coOwnersValue(); v != "" {
		a[object.AnnotationCoOwners] = v
	}
	delete(a, object.AnnotationSource)
	if o.source != "" {
		a[object.AnnotationSource] = o.source
	}
	out.SetAnnotations(a)
	return out
}

// CacheOptions returns the cluster.CacheOptions of a cache an Applier can
// read live objects through: it holds every object that carries any
// owner's label (so an object another owner applied is recognised
// without a request) and every Namespace, keeping only manager's entries
// in managedFields. One such cache serves every Applier on a cluster
// (see WithCache).
func CacheOptions(manager string) cluster.CacheOptions {
	owned, _ := labels.NewRequirement(object.LabelOwner, selection.Exists, nil)
	return cluster.CacheOptions{
		Selector:      labels.NewSelector().Add(*owned),
		KindSelectors: map[schema.GroupKind]labels.Selector{{Kind: "Namespace"}: labels.Everything()},
		Transform:     cluster.TrimManagedFields(manager),
	}
}

// holdsEveryOwner reports whether a cache holds objects whatever owner
// labels them, which the Applier needs to see other owners' objects.
func holdsEveryOwner(c *cluster.Cache) bool {
	probe := labels.Set{object.LabelOwner: "any-other-owner", object.LabelOwnerNamespace: "any-namespace"}
	return c.Holds(schema.GroupKind{Kind: "ConfigMap"}, probe)
}

// Sentinel errors of ownership, for errors.Is.
var (
	// ErrOwnedByOther: the object was applied by another owner and
	// Options.Sharing is RefuseShared.
	ErrOwnedByOther = errors.New("owned by another owner")
	// ErrOtherSource: a prune would delete objects last applied from
	// another source than the owner's, and Options.PruneOtherSources is
	// off.
	ErrOtherSource = errors.New("last applied from another source")
)

// OwnerError says which other owners hold an object.
type OwnerError struct {
	Owners []Owner
}

func (e *OwnerError) Error() string {
	names := make([]string, len(e.Owners))
	for i, o := range e.Owners {
		names[i] = o.key()
	}
	return fmt.Sprintf("%v by %s; set Options.Sharing to AllowShared to share it, or remove it from one of them",
		ErrOwnedByOther, strings.Join(names, ", "))
}

// Is makes errors.Is(err, ErrOwnedByOther) true.
func (e *OwnerError) Is(target error) bool { return target == ErrOwnedByOther }

// SourceError says where an object the prune would delete was last
// applied from.
type SourceError struct {
	// Source is the object's recorded source; Want is the owner's.
	Source, Want string
}

func (e *SourceError) Error() string {
	want := e.Want
	if want == "" {
		want = "no source"
	}
	return fmt.Sprintf("not pruned: %v (%s, while this owner applies %s); two units may share one owner name, or set Options.PruneOtherSources to prune it",
		ErrOtherSource, e.Source, want)
}

// Is makes errors.Is(err, ErrOtherSource) true.
func (e *SourceError) Is(target error) bool { return target == ErrOtherSource }
