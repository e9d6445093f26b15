package object

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ID names one Kubernetes object independently of its API version: the same
// Deployment read as apps/v1 or through another version has one ID.
//
// The zero ID names nothing. IDs are comparable and can be map keys.
type ID struct {
	Group     string
	Kind      string
	Namespace string // empty for cluster-scoped objects
	Name      string
}

// IDOf returns the ID of obj. It does not validate obj; use [ID.Validate].
func IDOf(obj *unstructured.Unstructured) ID {
	group, _, found := strings.Cut(obj.GetAPIVersion(), "/")
	if !found {
		group = "" // "v1": the core group
	}
	return ID{
		Group:     group,
		Kind:      obj.GetKind(),
		Namespace: obj.GetNamespace(),
		Name:      obj.GetName(),
	}
}

// GroupKind returns the ID's group and kind.
func (id ID) GroupKind() schema.GroupKind {
	return schema.GroupKind{Group: id.Group, Kind: id.Kind}
}

// String returns the ID in the form kubectl users read:
//
//	Kind[.group]/[namespace/]name
//
// for example "Deployment.apps/shop/api", "ConfigMap/shop/settings" or
// "ClusterRole.rbac.authorization.k8s.io/viewer". [ParseID] reverses it for
// every ID that passes [ID.Validate].
func (id ID) String() string {
	var b strings.Builder
	b.Grow(len(id.Kind) + len(id.Group) + len(id.Namespace) + len(id.Name) + 3)
	b.WriteString(id.Kind)
	if id.Group != "" {
		b.WriteByte('.')
		b.WriteString(id.Group)
	}
	b.WriteByte('/')
	if id.Namespace != "" {
		b.WriteString(id.Namespace)
		b.WriteByte('/')
	}
	b.WriteString(id.Name)
	return b.String()
}

// Validate reports whether the ID can name an object and round-trip through
// [ID.String] and [ParseID]: kind and name set, no '/' in any part, no '.' in
// the kind, and no empty or "."/".." name.
func (id ID) Validate() error {
	switch {
	case id.Kind == "":
		return fmt.Errorf("object has no kind")
	case strings.ContainsAny(id.Kind, "./"):
		return fmt.Errorf("kind %q: must not contain '.' or '/'", id.Kind)
	case strings.Contains(id.Group, "/"):
		return fmt.Errorf("group %q: must not contain '/'", id.Group)
	case id.Name == "":
		return fmt.Errorf("%s object has no name", id.Kind)
	case strings.Contains(id.Name, "/") || id.Name == "." || id.Name == "..":
		return fmt.Errorf("%s name %q: not a valid path segment", id.Kind, id.Name)
	case strings.Contains(id.Namespace, "/") || id.Namespace == "." || id.Namespace == "..":
		return fmt.Errorf("%s namespace %q: not a valid path segment", id.Kind, id.Namespace)
	}
	return nil
}

// ParseID parses the form [ID.String] writes.
func ParseID(s string) (ID, error) {
	parts := strings.Split(s, "/")
	var id ID
	switch len(parts) {
	case 2:
		id.Name = parts[1]
	case 3:
		id.Namespace, id.Name = parts[1], parts[2]
		if id.Namespace == "" {
			return ID{}, fmt.Errorf("parse object ID %q: empty namespace", s)
		}
	default:
		return ID{}, fmt.Errorf("parse object ID %q: want Kind[.group]/[namespace/]name", s)
	}
	id.Kind, id.Group, _ = strings.Cut(parts[0], ".")
	if err := id.Validate(); err != nil {
		return ID{}, fmt.Errorf("parse object ID %q: %w", s, err)
	}
	return id, nil
}
