package manifest

import (
	"cmp"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
)

// ObjectName names the i-th object of a stream (counting from 0) for
// messages: "Kind namespace/name", the namespace defaultNS when the
// object names none, or "Kind (object 3)" when it has no name.
func ObjectName(o *unstructured.Unstructured, i int, defaultNS string) string {
	kind := Short(o.GetKind())
	if o.GetName() == "" {
		return fmt.Sprintf("%s (object %d)", kind, i+1)
	}
	return kind + " " + Short(cmp.Or(o.GetNamespace(), defaultNS)) + "/" + Short(o.GetName())
}

// Meta is what converge reads of an object's metadata.
type Meta struct {
	Name, Namespace string
	Generation      int64
	Finalizers      []string
	Annotations     map[string]string
}

// maxUnitName is the longest name of a unit.
const maxUnitName = 54

// ReadMeta reads the metadata of the object n: a name is required, the
// namespace (defaultNS when empty) must be a namespace name, labels and
// annotations are strings, and generateName is refused. What the API
// server writes (uid, resourceVersion, managedFields, ...) is accepted and
// ignored, so that an object copied from `kubectl get -o yaml` loads.
func ReadMeta(n *Node, defaultNS string) Meta {
	return readMeta(n, defaultNS, false)
}

// ReadUnitMeta is ReadMeta for an object whose name becomes a unit's: the
// name must also be a DNS label of at most 54 characters.
func ReadUnitMeta(n *Node, defaultNS string) Meta {
	return readMeta(n, defaultNS, true)
}

func readMeta(n *Node, defaultNS string, unit bool) Meta {
	md := n.Obj("metadata")
	m := Meta{Name: md.Str("name"), Namespace: cmp.Or(md.Str("namespace"), defaultNS)}
	md.StrMap("labels")
	m.Annotations = md.StrMap("annotations")
	m.Finalizers = md.Strs("finalizers")
	if g, ok := md.Int("generation"); ok {
		m.Generation = g
	}
	md.Refuse("generateName", "a generated name cannot identify a unit; set metadata.name")
	md.Accept("uid", "resourceVersion", "creationTimestamp", "managedFields", "ownerReferences",
		"selfLink", "deletionTimestamp", "deletionGracePeriodSeconds")
	switch {
	case m.Name == "":
		n.d.Fail(md.At("name"), ErrInvalid, "required")
	case unit && (len(validation.IsDNS1123Label(m.Name)) > 0 || len(m.Name) > maxUnitName):
		n.d.Fail(md.At("name"), ErrInvalid, "%q: a unit's name is a DNS label of at most 54 characters (lower-case letters, digits, '-')", Short(m.Name))
	}
	if errs := validation.IsDNS1123Label(m.Namespace); len(errs) > 0 {
		n.d.Fail(md.At("namespace"), ErrInvalid, "%q is not a namespace name", Short(m.Namespace))
	}
	return m
}
