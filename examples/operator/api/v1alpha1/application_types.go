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
	// Application or its source changes (an invalid spec, retries
	// exhausted).
	ConditionStalled = "Stalled"
	// ConditionHealthy reports the health of the applied objects.
	ConditionHealthy = "Healthy"
)

// Application is one unit of desired state: a path of a Git repository,
// rendered (Kustomize, Helm or plain manifests, by what the path holds or
// as spec.render says) and applied with server-side apply to a namespace of the operator's
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

	// LastHandledReconcileAt is the value of the converge.dev/requested-at
	// annotation the last pass ran for.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`

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
