package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Project is what the Applications that name it (spec.project) may do: the
// repositories they may fetch, the clusters and namespaces they may apply
// to, the cluster-scoped kinds they may apply (none unless listed) and the
// namespaced kinds they may not, and the service account their writes are
// made as. An Application that goes beyond its Project is refused before
// anything is written (Ready=False, Stalled, reason ProjectViolation).
//
// Its fields take the names of Argo CD's AppProject (sourceRepos,
// destinations, clusterResourceWhitelist, namespaceResourceBlacklist) and
// Flux's serviceAccountName. A Project serves the Applications of its own
// namespace; whoever may write Projects there sets the tenants' limits, so
// tenants should be granted Applications, not Projects.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=cproj,categories=converge
// +kubebuilder:printcolumn:name="Service Account",type="string",JSONPath=".spec.serviceAccountName"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
type Project struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ProjectSpec `json:"spec"`
}

// ProjectSpec is a Project's limits. Patterns are globs as Argo CD writes
// them: '*' matches any run of characters, '/' included, '?' any one.
type ProjectSpec struct {
	// Description says what the Project is for.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Description string `json:"description,omitempty"`

	// SourceRepos are the repositories the Applications may fetch, as
	// globs ("https://github.com/myorg/*"); a repository matches with or
	// without its ".git". Empty allows none; "*" allows all.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=2048
	SourceRepos []string `json:"sourceRepos,omitempty"`

	// Destinations are the clusters and namespaces the Applications may
	// apply to: their destination.namespace and the namespace of every
	// namespaced object they render must match one. Empty allows none.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	Destinations []ProjectDestination `json:"destinations,omitempty"`

	// ClusterResourceWhitelist are the cluster-scoped kinds the
	// Applications may apply (Namespaces, ClusterRoles, CRDs, ...). Empty,
	// the default and what a tenant should get, allows none.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	ClusterResourceWhitelist []GroupKindPattern `json:"clusterResourceWhitelist,omitempty"`

	// NamespaceResourceBlacklist are namespaced kinds the Applications
	// may not apply (a tenant's own RoleBindings, ResourceQuotas, ...);
	// every other namespaced kind is allowed.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	NamespaceResourceBlacklist []GroupKindPattern `json:"namespaceResourceBlacklist,omitempty"`

	// ServiceAccountName is a service account of the Project's namespace
	// that the Applications' writes (applies, prunes, their inventory) are
	// made as, so that its RBAC limits them too. Unset, they are made as
	// the operator, and only the limits above bound them.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
}

// ProjectDestination is an allowed destination.
type ProjectDestination struct {
	// Namespace is a glob over namespaces ("team-a", "team-a-*", "*").
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Namespace string `json:"namespace"`

	// Cluster is a glob over destination cluster names; the operator's
	// own cluster (in-cluster) when unset, "*" for any.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Cluster string `json:"cluster,omitempty"`
}

// GroupKindPattern matches kinds by API group and kind, each a glob.
type GroupKindPattern struct {
	// Group is the API group ("rbac.authorization.k8s.io", "*"); empty is
	// the core group only, so that a core kind listed does not let a kind
	// of the same name from another group through.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Group string `json:"group"`

	// Kind is the kind ("ClusterRole", "*").
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Kind string `json:"kind"`
}

// ProjectList is a list of Projects.
//
// +kubebuilder:object:root=true
type ProjectList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Project `json:"items"`
}
