package operator

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/reconcile"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

func cond(t string, s metav1.ConditionStatus, reason string, gen int64, at time.Time) metav1.Condition {
	return metav1.Condition{Type: t, Status: s, Reason: reason, Message: reason + " message", ObservedGeneration: gen, LastTransitionTime: metav1.NewTime(at)}
}

func TestSetStatus(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Hour)
	applied := reconcile.Status{
		ObservedGeneration:  2,
		Revision:            "main@sha1:bbb",
		LastAppliedRevision: "main@sha1:bbb",
		Sync:                reconcile.Synced,
		Health:              health.Healthy,
		Inventory:           []object.ID{{Kind: "ConfigMap", Namespace: "a", Name: "x"}, {Kind: "ConfigMap", Namespace: "a", Name: "y"}},
		Result: &apply.Result{Objects: []apply.ObjectResult{
			{ID: object.ID{Kind: "ConfigMap", Namespace: "a", Name: "x"}, Action: apply.Created},
			{ID: object.ID{Kind: "ConfigMap", Namespace: "a", Name: "y"}, Action: apply.Unchanged},
		}},
		Conditions: []metav1.Condition{
			cond(v1alpha1.ConditionReady, metav1.ConditionTrue, reconcile.ReasonSucceeded, 2, t1),
			cond(v1alpha1.ConditionReconciling, metav1.ConditionFalse, reconcile.ReasonSucceeded, 2, t1),
			cond(v1alpha1.ConditionHealthy, metav1.ConditionTrue, reconcile.ReasonHealthy, 2, t1),
		},
	}

	t.Run("a pass", func(t *testing.T) {
		var st v1alpha1.ApplicationStatus
		st.Conditions = []metav1.Condition{
			cond(v1alpha1.ConditionReady, metav1.ConditionTrue, reconcile.ReasonSucceeded, 1, t0),
			cond(v1alpha1.ConditionStalled, metav1.ConditionTrue, reconcile.ReasonInvalid, 1, t0),
		}
		SetStatus(&st, applied)
		assert.Equal(t, int64(2), st.ObservedGeneration)
		ready := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady)
		require.NotNil(t, ready)
		assert.Equal(t, int64(2), ready.ObservedGeneration, "each condition says which generation it is for")
		assert.True(t, ready.LastTransitionTime.Time.Equal(t0), "Ready stayed True: its transition time is the first one (the operator may have restarted since)")
		assert.Nil(t, meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionStalled), "a pass that is not stalled clears Stalled")
		assert.NotNil(t, meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionHealthy))
		assert.Equal(t, "main@sha1:bbb", st.LastAppliedRevision)
		assert.Equal(t, "main@sha1:bbb", st.LastAttemptedRevision)
		assert.Equal(t, "Synced", st.Sync)
		assert.Equal(t, "Healthy", st.Health)
		assert.Equal(t, &v1alpha1.InventorySummary{Count: 2}, st.Inventory)
		assert.Equal(t, &v1alpha1.PlanSummary{Created: 1, Unchanged: 1}, st.LastPlan)

		again := st.DeepCopy()
		SetStatus(again, applied)
		assert.Equal(t, &st, again, "the same pass twice leaves the status as it was: no write")
	})

	t.Run("a fetch failure", func(t *testing.T) {
		var st v1alpha1.ApplicationStatus
		SetStatus(&st, applied)
		failed := applied
		failed.Revision, failed.Result = "main@sha1:bbb", nil
		failed.Err = &reconcile.StageError{Stage: reconcile.StageFetch, Err: fmt.Errorf("503")}
		failed.Conditions = []metav1.Condition{
			cond(v1alpha1.ConditionReady, metav1.ConditionFalse, reconcile.ReasonArtifactFailed, 2, t1),
			cond(v1alpha1.ConditionReconciling, metav1.ConditionTrue, reconcile.ReasonProgressingRetry, 2, t1),
		}
		SetStatus(&st, failed)
		assert.Equal(t, reconcile.ReasonArtifactFailed, meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady).Reason)
		assert.Equal(t, "main@sha1:bbb", st.LastAppliedRevision, "the last good revision stays")
		assert.Equal(t, &v1alpha1.PlanSummary{Created: 1, Unchanged: 1}, st.LastPlan, "the last plan that reached the cluster stays")
		assert.Equal(t, &v1alpha1.InventorySummary{Count: 2}, st.Inventory)
	})

	t.Run("suspended", func(t *testing.T) {
		var st v1alpha1.ApplicationStatus
		SetStatus(&st, applied)
		before := st.DeepCopy()
		// What the SDK reports of a suspended unit it has not seen before
		// (the operator restarted): Reconciling alone, and unknowns.
		s := reconcile.Status{ObservedGeneration: 3, Sync: reconcile.SyncUnknown, Health: health.Unknown,
			Err:        fmt.Errorf("x: %w", reconcile.ErrSuspended),
			Conditions: []metav1.Condition{cond(v1alpha1.ConditionReconciling, metav1.ConditionFalse, reconcile.ReasonSuspended, 3, t1)}}
		SetStatus(&st, s)
		assert.Equal(t, reconcile.ReasonSuspended, meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReconciling).Reason)
		assert.Equal(t, *meta.FindStatusCondition(before.Conditions, v1alpha1.ConditionReady), *meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady),
			"Ready keeps saying what was last applied")
		assert.Equal(t, "Healthy", st.Health, "nothing was looked at: the health stays")
		assert.Equal(t, before.LastAppliedRevision, st.LastAppliedRevision)
	})
}
