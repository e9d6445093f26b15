package apply

import (
	"context"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/object"
)

// Policy can refuse a set before anything is written. It sees the objects
// as they will be applied: namespaced objects carry their namespace,
// cluster-scoped objects have none. Hooks are included.
type Policy interface {
	Check(ctx context.Context, objs []*unstructured.Unstructured) error
}

// PolicyFunc adapts a function to a [Policy].
type PolicyFunc func(ctx context.Context, objs []*unstructured.Unstructured) error

// Check calls f.
func (f PolicyFunc) Check(ctx context.Context, objs []*unstructured.Unstructured) error {
	return f(ctx, objs)
}

// TenantPolicy is the policy multi-tenant hosts usually want.
type TenantPolicy struct {
	// Namespaces are the namespaces objects may be in; empty allows all.
	Namespaces []string
	// Kinds are the kinds allowed; empty allows all.
	Kinds []schema.GroupKind
	// DeniedKinds are refused even when Kinds allows them.
	DeniedKinds []schema.GroupKind
	// ClusterScoped allows cluster-scoped objects (Namespaces, CRDs,
	// ClusterRoles, ...). Off by default.
	ClusterScoped bool
}

// Check refuses the first object the policy does not allow, naming it.
func (p TenantPolicy) Check(_ context.Context, objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		id := object.IDOf(o)
		gk := o.GroupVersionKind().GroupKind()
		switch {
		case o.GetNamespace() == "" && !p.ClusterScoped:
			return fmt.Errorf("%s: cluster-scoped objects are not allowed", id)
		case o.GetNamespace() != "" && len(p.Namespaces) > 0 && !slices.Contains(p.Namespaces, o.GetNamespace()):
			return fmt.Errorf("%s: namespace %q is not allowed", id, o.GetNamespace())
		case len(p.Kinds) > 0 && !slices.Contains(p.Kinds, gk):
			return fmt.Errorf("%s: kind %s is not allowed", id, gk)
		case slices.Contains(p.DeniedKinds, gk):
			return fmt.Errorf("%s: kind %s is denied", id, gk)
		}
	}
	return nil
}

var (
	_ Policy = PolicyFunc(nil)
	_ Policy = TenantPolicy{}
)
