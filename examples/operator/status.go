package operator

import (
	"errors"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/reconcile"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

// SetStatus copies a pass's Status into an Application's status: the
// conditions (each with the pass's observedGeneration), the revisions, the
// sync and health statuses, the inventory count and the counts of the last
// apply or plan. A condition keeps its lastTransitionTime while its status
// does not change, across operator restarts too, so that an unchanged pass
// leaves the status as it was and costs no write.
//
// A condition the pass does not report is kept, except Stalled, which only
// a pass that finds the Application stalled reports: a suspended pass
// reports Reconciling alone, so Ready keeps saying what was last applied,
// and the rest of the status is left as it is. A pass the Application's
// Project refused is Stalled with reason ProjectViolation; one whose
// destination cluster is not registered, or whose cluster Secret cannot be
// used, is Stalled with reason ClusterNotRegistered or ClusterSecretInvalid.
func SetStatus(st *v1alpha1.ApplicationStatus, s reconcile.Status) {
	st.ObservedGeneration = s.ObservedGeneration
	for _, t := range []string{v1alpha1.ConditionReady, v1alpha1.ConditionReconciling, v1alpha1.ConditionStalled, v1alpha1.ConditionHealthy} {
		c := s.Condition(t)
		switch {
		case c != nil:
			setCondition(&st.Conditions, *c)
		case t == v1alpha1.ConditionStalled:
			meta.RemoveStatusCondition(&st.Conditions, t)
		default:
			// Reported by an earlier pass; it says which generation.
		}
	}
	setProjectViolation(st, s)
	setClusterUnavailable(st, s)
	if errors.Is(s.Err, reconcile.ErrSuspended) {
		return // nothing was fetched or looked at
	}
	if s.Revision != "" {
		st.LastAttemptedRevision = s.Revision
	}
	if s.LastAppliedRevision != "" {
		st.LastAppliedRevision = s.LastAppliedRevision
	}
	if s.Sync != "" {
		st.Sync = string(s.Sync)
	}
	if s.Health != "" {
		st.Health = string(s.Health)
	}
	if s.Result != nil || len(s.Inventory) > 0 {
		st.Inventory = &v1alpha1.InventorySummary{Count: int32(len(s.Inventory))}
	}
	if s.Result != nil {
		st.LastPlan = planSummary(s.Result)
	}
}

// setCondition sets c, keeping the lastTransitionTime of a condition of
// the same type and status.
func setCondition(conds *[]metav1.Condition, c metav1.Condition) {
	if old := meta.FindStatusCondition(*conds, c.Type); old != nil && old.Status == c.Status {
		c.LastTransitionTime = old.LastTransitionTime
	}
	if c.LastTransitionTime.IsZero() {
		c.LastTransitionTime = metav1.Now()
	}
	if c.Message == "" {
		c.Message = c.Reason
	}
	meta.SetStatusCondition(conds, c)
}

func planSummary(r *apply.Result) *v1alpha1.PlanSummary {
	n := func(a apply.Action) int32 { return int32(r.Count(a)) }
	return &v1alpha1.PlanSummary{
		Created:    n(apply.Created),
		Configured: n(apply.Configured),
		Unchanged:  n(apply.Unchanged),
		Recreated:  n(apply.Recreated),
		Pruned:     n(apply.Pruned),
		Skipped:    n(apply.Skipped),
		Kept:       n(apply.Kept),
		Failed:     n(apply.Failed),
		DryRun:     r.DryRun,
	}
}

// writes counts the objects a result changed in the cluster.
func writes(r *apply.Result) int {
	if r == nil || r.DryRun {
		return 0
	}
	return r.Count(apply.Created) + r.Count(apply.Configured) + r.Count(apply.Recreated) + r.Count(apply.Pruned)
}

// readyOf returns the Ready condition of a status, or nil.
func readyOf(st *v1alpha1.ApplicationStatus) *metav1.Condition {
	return meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady)
}
