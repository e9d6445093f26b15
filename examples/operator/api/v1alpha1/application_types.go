package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types an Application's status carries, as Flux's controllers
// and kstatus read them, so `kubectl wait --for=condition=Ready` works.
const (
	// ConditionReady is True when the last pass applied the source's
	// revision and everything it waited for is healthy.
	ConditionReady = "Ready"
	// ConditionReconciling is True while a pass is due again soon: a
	// failure being retried, a dependency being waited for.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when retrying will not help until the
	// Application changes (an invalid spec).
	ConditionStalled = "Stalled"
	// ConditionHealthy reports the health of the applied objects.
	ConditionHealthy = "Healthy"
)

// Application is one unit of desired state: a path of a Git repository,
// rendered (Kustomize, Helm or plain manifests, by what the path holds)
// and applied with server-side apply to a namespace of the operator's
// cluster, again at every interval.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=capp,categories=converge
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Revision",type="string",JSONPath=".status.lastAppliedRevision"
// +kubebuilder:printcolumn:name="Health",type="string",JSONPath=".status.health"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].message",priority=1
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 54 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be a DNS label of at most 54 characters: it names the inventory and labels every applied object"
type Application struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ApplicationSpec   `json:"spec"`
	Status ApplicationStatus `json:"status,omitempty"`
}

// ApplicationSpec is the desired state of an Application.
type ApplicationSpec struct {
	// Source is where the desired state is.
	// +required
	Source Source `json:"source"`

	// Destination is where the objects go.
	// +optional
	Destination Destination `json:"destination,omitempty"`

	// SyncPolicy says how the objects are applied. By default they are
	// applied automatically and nothing is pruned.
	// +optional
	// +kubebuilder:default={automated: true}
	SyncPolicy SyncPolicy `json:"syncPolicy,omitempty"`

	// DependsOn names Applications of the same namespace that must be
	// Ready and healthy before this one is applied. Until they are, this
	// one is Ready=False with reason DependencyNotReady, and nothing of it
	// is applied.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=54
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	DependsOn []string `json:"dependsOn,omitempty"`

	// Suspend stops the reconciliation of the Application: nothing is
	// fetched or applied, and what was applied stays as it is.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// Interval is the time between passes ("5m", "30s"); the operator's
	// default when unset.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	Interval *metav1.Duration `json:"interval,omitempty"`

	// Timeout bounds one pass: fetch, render, apply and the health wait;
	// 5 minutes when unset.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// Source is a path of a Git repository at a revision.
type Source struct {
	// RepoURL is the repository: https, http, ssh or scp-like
	// ("git@github.com:myorg/deploy.git").
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	RepoURL string `json:"repoURL"`

	// TargetRevision is a branch, a tag, a semver range over the tags
	// (">=1.4.0 <2.0.0"), a full reference name (refs/...) or a 40-digit
	// commit, as Argo CD reads it; "main" when unset or HEAD.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	TargetRevision string `json:"targetRevision,omitempty"`

	// Path is the directory of the repository to render, relative to its
	// root; the root when unset.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && !self.split('/').exists(s, s == '..')",message="path must be relative to the repository root, inside it"
	Path string `json:"path,omitempty"`
}

// Destination is where an Application's objects go in the operator's
// cluster.
type Destination struct {
	// Namespace is given to namespaced objects that name none; the
	// Application's namespace when unset.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace,omitempty"`
}

// SyncPolicy says how an Application is applied.
type SyncPolicy struct {
	// Automated applies every change of the source. When false the
	// Application is only planned: Ready=False with reason OutOfSync
	// while the cluster differs from the source.
	// +optional
	// +kubebuilder:default=true
	Automated *bool `json:"automated,omitempty"`

	// Prune deletes the objects that left the source. It is off by
	// default: a deletion is asked for, never assumed.
	// +optional
	Prune bool `json:"prune,omitempty"`

	// SelfHeal puts back what was changed in the cluster by hand. The
	// operator corrects drift at every pass either way; SelfHeal is
	// carried to the SDK's unit for hosts that react to drift at once.
	// +optional
	SelfHeal bool `json:"selfHeal,omitempty"`
}

// ApplicationStatus is what the operator last observed of an
// Application.
type ApplicationStatus struct {
	// ObservedGeneration is the generation of the spec the last pass ran
	// for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions are Ready, Reconciling, Stalled and Healthy, each with
	// the observedGeneration it was computed for.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// LastAppliedRevision is the last revision applied successfully
	// ("main@sha1:…").
	// +optional
	LastAppliedRevision string `json:"lastAppliedRevision,omitempty"`

	// LastAttemptedRevision is the revision the last pass fetched,
	// applied or not.
	// +optional
	LastAttemptedRevision string `json:"lastAttemptedRevision,omitempty"`

	// Sync says whether the cluster matches the source.
	// +optional
	// +kubebuilder:validation:Enum=Synced;OutOfSync;Unknown
	Sync string `json:"sync,omitempty"`

	// Health is the roll-up of the applied objects' health.
	// +optional
	// +kubebuilder:validation:Enum=Healthy;Progressing;Suspended;Missing;Degraded;Unknown
	Health string `json:"health,omitempty"`

	// Inventory summarises the objects the Application applied.
	// +optional
	Inventory *InventorySummary `json:"inventory,omitempty"`

	// LastPlan counts what the last pass that reached the cluster did to
	// each object (for a manual Application: what it would do).
	// +optional
	LastPlan *PlanSummary `json:"lastPlan,omitempty"`
}

// InventorySummary summarises an Application's inventory.
type InventorySummary struct {
	// Count is the number of objects the Application applied.
	Count int32 `json:"count"`
}

// PlanSummary counts what a pass did, or would do, per action: the
// objects created, configured, left unchanged, deleted and created again,
// pruned, skipped on purpose, kept out of a prune, and failed.
type PlanSummary struct {
	Created    int32 `json:"created"`
	Configured int32 `json:"configured"`
	Unchanged  int32 `json:"unchanged"`
	Recreated  int32 `json:"recreated,omitempty"`
	Pruned     int32 `json:"pruned"`
	Skipped    int32 `json:"skipped,omitempty"`
	Kept       int32 `json:"kept,omitempty"`
	Failed     int32 `json:"failed,omitempty"`
	// DryRun is true when nothing was written (a manual Application).
	DryRun bool `json:"dryRun,omitempty"`
}

// ApplicationList is a list of Applications.
//
// +kubebuilder:object:root=true
type ApplicationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Application `json:"items"`
}

// IsAutomated reports whether the Application is applied automatically
// (the default).
func (s SyncPolicy) IsAutomated() bool { return s.Automated == nil || *s.Automated }
