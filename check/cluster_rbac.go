package check

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/object"
)

var (
	clusterRoleGVK        = schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}
	clusterRoleBindingGVK = schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding"}
	roleGVK               = schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"}
	roleBindingGVK        = schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"}
)

// writeVerbs are the verbs that change the cluster, or that let their
// holder give themselves more.
var writeVerbs = []string{"*", "create", "update", "patch", "delete", "deletecollection", "escalate", "bind", "impersonate"}

// selfReviewGroups hold the review resources every authenticated user
// may create (system:basic-user): asking what one may do is not a write.
var selfReviewGroups = []string{"authorization.k8s.io", "authentication.k8s.io"}

// rbac finds the bindings that give write verbs to everyone or to people,
// cluster-wide or in a managed namespace.
func (s *clusterScan) rbac(ctx context.Context) ([]Finding, error) {
	if len(s.managed) == 0 {
		return nil, nil // nothing GitOps-managed: nothing to protect
	}
	clusterRoles, err := s.reader.List(ctx, clusterRoleGVK, "")
	if err != nil {
		return nil, err
	}
	crbs, err := s.reader.List(ctx, clusterRoleBindingGVK, "")
	if err != nil {
		return nil, err
	}
	writes := map[string]writeGrant{} // by "ClusterRole/name" or "Role/ns/name"
	for _, r := range clusterRoles {
		writes["ClusterRole/"+r.GetName()] = grantedWrites(r)
	}
	var out []Finding
	for _, b := range crbs {
		out = append(out, bindingFindings(b, writes, "cluster-wide, so in "+strings.Join(clip(s.managed, 5), ", "))...)
	}
	for _, ns := range s.managed {
		roles, err := s.reader.List(ctx, roleGVK, ns)
		if err != nil {
			return out, err
		}
		for _, r := range roles {
			writes["Role/"+ns+"/"+r.GetName()] = grantedWrites(r)
		}
		rbs, err := s.reader.List(ctx, roleBindingGVK, ns)
		if err != nil {
			return out, err
		}
		for _, b := range rbs {
			out = append(out, bindingFindings(b, writes, "in "+ns)...)
		}
	}
	return out, nil
}

// writeGrant is what a role lets its subjects change: the write verbs
// and the resources they apply to.
type writeGrant struct{ verbs, resources []string }

func (g writeGrant) String() string {
	slices.Sort(g.verbs)
	slices.Sort(g.resources)
	return fmt.Sprintf("%s on %s", strings.Join(g.verbs, ", "), strings.Join(clip(g.resources, 6), ", "))
}

// grantedWrites returns a role's write rules, or nothing when it writes
// nothing.
func grantedWrites(role unstructured.Unstructured) writeGrant {
	rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
	var g writeGrant
	for _, r := range rules {
		rule, ok := r.(map[string]any)
		if !ok {
			continue
		}
		groups := stringList(rule["apiGroups"])
		resources := stringList(rule["resources"])
		if len(resources) == 0 || len(groups) > 0 && !slices.ContainsFunc(groups, func(g string) bool { return !slices.Contains(selfReviewGroups, g) }) {
			continue // non-resource URLs, or only the self-review groups
		}
		writes := false
		for _, v := range stringList(rule["verbs"]) {
			if slices.Contains(writeVerbs, v) {
				writes = true
				if !slices.Contains(g.verbs, v) {
					g.verbs = append(g.verbs, v)
				}
			}
		}
		for _, res := range resources {
			if writes && !slices.Contains(g.resources, res) {
				g.resources = append(g.resources, res)
			}
		}
	}
	return g
}

func stringList(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func bindingFindings(b unstructured.Unstructured, writes map[string]writeGrant, scope string) []Finding {
	if disables(b.GetAnnotations()[AnnotationDisable], rbacWriteMeta.ID) {
		return nil
	}
	kind, _, _ := unstructured.NestedString(b.Object, "roleRef", "kind")
	name, _, _ := unstructured.NestedString(b.Object, "roleRef", "name")
	key := "ClusterRole/" + name
	if kind == "Role" {
		key = "Role/" + b.GetNamespace() + "/" + name
	}
	granted := writes[key]
	if len(granted.verbs) == 0 {
		return nil
	}
	subjects, _, _ := unstructured.NestedSlice(b.Object, "subjects")
	var everyone, people []string
	for _, s := range subjects {
		sub, ok := s.(map[string]any)
		if !ok {
			continue
		}
		sk, _ := sub["kind"].(string)
		sn, _ := sub["name"].(string)
		switch {
		case sk == "Group" && (sn == "system:authenticated" || sn == "system:unauthenticated"):
			everyone = append(everyone, sn)
		case (sk == "User" || sk == "Group") && !strings.HasPrefix(sn, "system:"):
			people = append(people, strings.ToLower(sk)+" "+sn)
		}
	}
	id := object.ID{Group: "rbac.authorization.k8s.io", Kind: b.GetKind(), Namespace: b.GetNamespace(), Name: b.GetName()}
	what := granted.String()
	var out []Finding
	if len(everyone) > 0 {
		out = append(out, Finding{Rule: rbacWriteMeta.ID, Severity: SeverityHigh, Location: Location{Object: &id},
			Message: fmt.Sprintf("%s %s gives %s write access (%s) %s: %s", b.GetKind(), b.GetName(), strings.Join(everyone, " and "), key, scope, what)})
	}
	if len(people) > 0 {
		out = append(out, Finding{Rule: rbacWriteMeta.ID, Severity: rbacWriteMeta.Severity, Location: Location{Object: &id},
			Message: fmt.Sprintf("%s %s gives %s write access (%s) %s: %s", b.GetKind(), b.GetName(), strings.Join(clip(people, 5), ", "), key, scope, what)})
	}
	return out
}
