package object

import (
	"cmp"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Class groups kinds by when they must exist relative to the rest. Classes
// order from first to apply to last; prune runs them in reverse.
type Class int

const (
	// ClassCustomResourceDefinition holds CRDs: custom resources cannot be
	// applied before their definition is Established.
	ClassCustomResourceDefinition Class = iota
	// ClassNamespace holds Namespaces: namespaced objects need theirs Active.
	ClassNamespace
	// ClassClusterRBAC holds ClusterRoles and ClusterRoleBindings, which
	// other objects' controllers may need before they start.
	ClassClusterRBAC
	// ClassOther holds every other kind.
	ClassOther
)

// String returns the class's name.
func (c Class) String() string {
	switch c {
	case ClassCustomResourceDefinition:
		return "CustomResourceDefinition"
	case ClassNamespace:
		return "Namespace"
	case ClassClusterRBAC:
		return "ClusterRBAC"
	case ClassOther:
		return "Other"
	}
	return "Class(?)"
}

var (
	gkCRD                = schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}
	gkNamespace          = schema.GroupKind{Kind: "Namespace"}
	gkClusterRole        = schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}
	gkClusterRoleBinding = schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}
)

// ClassOf returns the class of a kind.
func ClassOf(gk schema.GroupKind) Class {
	switch gk {
	case gkCRD:
		return ClassCustomResourceDefinition
	case gkNamespace:
		return ClassNamespace
	case gkClusterRole, gkClusterRoleBinding:
		return ClassClusterRBAC
	}
	return ClassOther
}

// kindRank is the fixed order of well-known kinds inside a class: what
// others depend on comes first (the order Helm and kustomize's legacy sort
// use). Kinds not listed rank after all listed ones.
var kindRank = func() map[schema.GroupKind]int {
	order := []schema.GroupKind{
		gkCRD,
		gkNamespace,
		{Kind: "ResourceQuota"},
		{Kind: "LimitRange"},
		{Group: "policy", Kind: "PodSecurityPolicy"},
		{Group: "policy", Kind: "PodDisruptionBudget"},
		{Kind: "ServiceAccount"},
		{Kind: "Secret"},
		{Kind: "ConfigMap"},
		{Group: "storage.k8s.io", Kind: "StorageClass"},
		{Kind: "PersistentVolume"},
		{Kind: "PersistentVolumeClaim"},
		gkClusterRole,
		gkClusterRoleBinding,
		{Group: "rbac.authorization.k8s.io", Kind: "Role"},
		{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"},
		{Kind: "Service"},
		{Group: "apps", Kind: "DaemonSet"},
		{Kind: "Pod"},
		{Kind: "ReplicationController"},
		{Group: "apps", Kind: "ReplicaSet"},
		{Group: "apps", Kind: "Deployment"},
		{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"},
		{Group: "apps", Kind: "StatefulSet"},
		{Group: "batch", Kind: "Job"},
		{Group: "batch", Kind: "CronJob"},
		{Group: "networking.k8s.io", Kind: "IngressClass"},
		{Group: "networking.k8s.io", Kind: "Ingress"},
		{Group: "apiregistration.k8s.io", Kind: "APIService"},
		{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"},
		{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"},
	}
	m := make(map[schema.GroupKind]int, len(order))
	for i, gk := range order {
		m[gk] = i
	}
	return m
}()

// KindRank returns the position of a kind in converge's fixed apply order
// inside one class and wave. Unknown kinds (custom resources) share the
// highest rank, so they follow everything they may depend on.
func KindRank(gk schema.GroupKind) int {
	if r, ok := kindRank[gk]; ok {
		return r
	}
	return len(kindRank)
}

// Compare orders IDs for applying: by class, then kind rank, then group,
// kind, namespace and name. It is a total order, so sorting with it is
// deterministic.
func Compare(a, b ID) int {
	ga, gb := a.GroupKind(), b.GroupKind()
	return cmp.Or(
		cmp.Compare(ClassOf(ga), ClassOf(gb)),
		cmp.Compare(KindRank(ga), KindRank(gb)),
		cmp.Compare(a.Group, b.Group),
		cmp.Compare(a.Kind, b.Kind),
		cmp.Compare(a.Namespace, b.Namespace),
		cmp.Compare(a.Name, b.Name),
	)
}

// clusterScoped lists the built-in kinds that are never namespaced. It lets
// code that has no REST mapper yet (rendering, planning without a cluster)
// tell that a namespace on such an object is a mistake.
var clusterScoped = map[schema.GroupKind]bool{
	gkCRD:                      true,
	gkNamespace:                true,
	gkClusterRole:              true,
	gkClusterRoleBinding:       true,
	{Kind: "Node"}:             true,
	{Kind: "PersistentVolume"}: true,
	{Group: "storage.k8s.io", Kind: "StorageClass"}:                                 true,
	{Group: "storage.k8s.io", Kind: "CSIDriver"}:                                    true,
	{Group: "networking.k8s.io", Kind: "IngressClass"}:                              true,
	{Group: "scheduling.k8s.io", Kind: "PriorityClass"}:                             true,
	{Group: "apiregistration.k8s.io", Kind: "APIService"}:                           true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"}:   true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}: true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicy"}:      true,
}

// KnownClusterScoped reports whether gk is a built-in kind that is always
// cluster-scoped. False means "namespaced or unknown": only a REST mapper
// knows the scope of a custom resource.
func KnownClusterScoped(gk schema.GroupKind) bool { return clusterScoped[gk] }
