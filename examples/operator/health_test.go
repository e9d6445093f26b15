package operator

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/reconcile"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

// TestHealthReadsApplication: converge's own health engine (kstatus's
// rules for conditions) reads an Application's status, so a converge unit
// that applies Applications waits for them like any other object.
func TestHealthReadsApplication(t *testing.T) {
	engine, err := health.New()
	require.NoError(t, err)
	c := func(typ string, s metav1.ConditionStatus, reason string, gen int64) metav1.Condition {
		return metav1.Condition{Type: typ, Status: s, Reason: reason, Message: reason, ObservedGeneration: gen}
	}
	cases := map[string]struct {
		reason string
		status v1alpha1.ApplicationStatus
		want   health.Status
	}{
		"ready": {
			reason: "the current generation applied",
			status: v1alpha1.ApplicationStatus{ObservedGeneration: 2, Conditions: []metav1.Condition{
				c(v1alpha1.ConditionReady, metav1.ConditionTrue, reconcile.ReasonSucceeded, 2),
				c(v1alpha1.ConditionReconciling, metav1.ConditionFalse, reconcile.ReasonSucceeded, 2),
			}},
			want: health.Healthy,
		},
		"stale": {
			reason: "Ready for an older generation is not ready for this one",
			status: v1alpha1.ApplicationStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{
				c(v1alpha1.ConditionReady, metav1.ConditionTrue, reconcile.ReasonSucceeded, 1),
			}},
			want: health.Progressing,
		},
		"waiting": {
			reason: "a dependent waiting for its dependency is on its way",
			status: v1alpha1.ApplicationStatus{ObservedGeneration: 2, Conditions: []metav1.Condition{
				c(v1alpha1.ConditionReady, metav1.ConditionFalse, reconcile.ReasonDependencyNotReady, 2),
				c(v1alpha1.ConditionReconciling, metav1.ConditionTrue, reconcile.ReasonDependencyNotReady, 2),
			}},
			want: health.Progressing,
		},
		"stalled": {
			reason: "an invalid spec will not get better by itself",
			status: v1alpha1.ApplicationStatus{ObservedGeneration: 2, Conditions: []metav1.Condition{
				c(v1alpha1.ConditionReady, metav1.ConditionFalse, reconcile.ReasonInvalid, 2),
				c(v1alpha1.ConditionStalled, metav1.ConditionTrue, reconcile.ReasonInvalid, 2),
			}},
			want: health.Degraded,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			app := &v1alpha1.Application{
				TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Application"},
				ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", Generation: 2},
				Status:     tc.status,
			}
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(app)
			require.NoError(t, err)
			res := engine.Check(&unstructured.Unstructured{Object: m})
			assert.Equal(t, tc.want, res.Status, "%s: %s", tc.reason, res.Message)
		})
	}
}
