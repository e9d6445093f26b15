package reconcile

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/rollout"
)

// Condition types, as Flux's controllers and kstatus read them.
const (
	// ConditionReady is True when the last pass applied the source's
	// revision and everything it waited for is healthy.
	ConditionReady = "Ready"
	// ConditionReconciling is True while a pass runs, or when the last one
	// is being retried.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when retrying will not help until the
	// unit or its source changes (invalid input, retries exhausted).
	ConditionStalled = "Stalled"
	// ConditionHealthy reports the health of the applied objects.
	ConditionHealthy = "Healthy"
)

// Condition reasons. Flux's names where Flux has one.
const (
	ReasonSucceeded          = "ReconciliationSucceeded"
	ReasonFailed             = "ReconciliationFailed"
	ReasonProgressing        = "Progressing"
	ReasonProgressingRetry   = "ProgressingWithRetry"
	ReasonArtifactFailed     = "ArtifactFailed"
	ReasonBuildFailed        = "BuildFailed"
	ReasonHealthCheckFailed  = "HealthCheckFailed"
	ReasonDependencyNotReady = "DependencyNotReady"
	ReasonSuspended          = "Suspended"
	ReasonInvalid            = "InvalidUnit"
	ReasonRetriesExhausted   = "RetriesExhausted"
	// ReasonOutOfSync: a manual unit whose cluster differs from the
	// source; Reconciler.Sync applies it.
	ReasonOutOfSync = "OutOfSync"
	// ReasonGateRefused: a Gate held the apply back (an approval not yet
	// given, a policy).
	ReasonGateRefused = "GateRefused"
	ReasonHealthy     = "Healthy"
	ReasonUnhealthy   = "Unhealthy"
)

// SyncStatus says whether the cluster matches the source, as Argo CD's
// sync status does.
type SyncStatus string

const (
	Synced      SyncStatus = "Synced"
	OutOfSync   SyncStatus = "OutOfSync"
	SyncUnknown SyncStatus = "Unknown"
)

// Status is the outcome of a pass, in a shape a host can copy into the
// status of its own resource.
type Status struct {
	// Unit is the unit the status is for.
	Unit Ref
	// ObservedGeneration is the Unit's Generation this pass ran for.
	ObservedGeneration int64
	// Revision is the source revision this pass fetched
	// ("main@sha1:…"); LastAppliedRevision the last one applied
	// successfully (Flux's lastAttemptedRevision and lastAppliedRevision).
	Revision            string
	LastAppliedRevision string
	// Conditions are Ready, Reconciling, Stalled and Healthy, with reasons
	// and messages; their ObservedGeneration is set too.
	Conditions []metav1.Condition
	// Sync compares the cluster with the source.
	Sync SyncStatus
	// Health is the roll-up of the applied objects' health.
	Health health.Status
	// Result is what the last apply or plan did, per object.
	Result *apply.Result
	// Inventory lists the objects the unit applied.
	Inventory []object.ID
	// Rollouts are the unit's rollouts after the pass (WithRollouts):
	// the step, the weight and the running analysis of each.
	Rollouts []rollout.Status `json:"rollouts,omitempty"`
	// Rendered is false when the pass reused the previous render (the
	// revision and every input were unchanged).
	Rendered bool
	// Failures counts the passes that failed in a row.
	Failures int
	// Started and Finished bound the pass.
	Started, Finished time.Time
	// Err is the pass's error, nil when it succeeded.
	Err error `json:"-"`
}

// Condition returns the condition of type t, or nil.
func (s *Status) Condition(t string) *metav1.Condition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			return &s.Conditions[i]
		}
	}
	return nil
}

// Ready reports whether the Ready condition is True.
func (s *Status) Ready() bool {
	c := s.Condition(ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue
}

// setCondition sets or replaces a condition, keeping its transition time
// when its status did not change since prev.
func (s *Status) setCondition(prev *Status, t string, status metav1.ConditionStatus, reason, message string) {
	c := metav1.Condition{
		Type: t, Status: status, Reason: reason, Message: message,
		ObservedGeneration: s.ObservedGeneration,
		LastTransitionTime: metav1.NewTime(s.Finished.Truncate(time.Second)),
	}
	if prev != nil {
		if p := prev.Condition(t); p != nil && p.Status == status {
			c.LastTransitionTime = p.LastTransitionTime
		}
	}
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			s.Conditions[i] = c
			return
		}
	}
	s.Conditions = append(s.Conditions, c)
}

func (s *Status) removeCondition(t string) {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			s.Conditions = append(s.Conditions[:i], s.Conditions[i+1:]...)
			return
		}
	}
}
