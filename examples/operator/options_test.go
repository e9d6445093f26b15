package operator

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/reconcile"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

// TestRetryLimit: with spec.retry.limit, a source that stays down makes
// the Application Stalled (RetriesExhausted) once the retries are spent,
// which converge's health reads as Degraded; the interval still comes
// round, and the first good pass clears Stalled and records the recovery.
func TestRetryLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	head := f.repo.Commit(t, "first", map[string]string{"app/cm.yaml": configMapYAML("flaky", map[string]string{"v": "1"})})
	f.down.Store(true)
	f.application("flaky", "app", func(a *v1alpha1.Application) {
		a.Spec.Retry = &v1alpha1.Retry{Limit: 2, Backoff: &v1alpha1.Backoff{Duration: &metav1.Duration{Duration: 100 * time.Millisecond}}}
	})

	app := f.eventually("flaky", "stalled", func(a *v1alpha1.Application) bool {
		c := condition(a, v1alpha1.ConditionStalled)
		return c.Status == metav1.ConditionTrue && c.Reason == reconcile.ReasonRetriesExhausted
	})
	stalled := condition(app, v1alpha1.ConditionStalled)
	t.Logf("stalled: %s: %s", stalled.Reason, stalled.Message)
	assert.Equal(t, app.Generation, stalled.ObservedGeneration)
	assert.Equal(t, reconcile.ReasonArtifactFailed, condition(app, v1alpha1.ConditionReady).Reason, "Ready still says why")
	assert.Equal(t, metav1.ConditionFalse, condition(app, v1alpha1.ConditionReconciling).Status, "no retry is due")
	assert.Nil(t, f.configMap("flaky"), "nothing was applied")
	assert.Equal(t, health.Degraded, checkHealth(t, app), "converge's health reads a stalled Application as Degraded")

	f.down.Store(false)
	app = f.eventually("flaky", "ready at the next interval", readyAt(head))
	assert.Empty(t, condition(app, v1alpha1.ConditionStalled).Type, "the good pass clears Stalled")
	assert.Equal(t, map[string]string{"v": "1"}, f.configMap("flaky"))
	assert.Equal(t, health.Healthy, checkHealth(t, app))
	f.eventuallyEvent("flaky", "Normal/Recovered: recovered from ArtifactFailed")
}

// TestWaitAndHealthChecks: syncOptions.createNamespace creates the
// destination namespace, and wait with healthChecks holds Ready until the
// objects are healthy; a health check that never passes makes the pass
// fail at its timeout, Ready=False with reason HealthCheckFailed naming
// the object, after the objects were applied.
func TestWaitAndHealthChecks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	head := f.repo.Commit(t, "web and stuck", map[string]string{
		"web/deploy.yaml":   deploymentYAML("web", true),
		"stuck/deploy.yaml": deploymentYAML("stuck", false),
	})
	made := f.ns + "-made"
	t.Cleanup(func() {
		_ = f.c.Delete(ctxT(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: made}})
	})
	f.application("web", "web", func(a *v1alpha1.Application) {
		a.Spec.Destination.Namespace = made
		a.Spec.SyncOptions.CreateNamespace = true
		a.Spec.Wait = true
		a.Spec.HealthChecks = []v1alpha1.HealthCheck{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}}
		a.Spec.Timeout = &metav1.Duration{Duration: 30 * time.Second}
	})
	f.application("stuck", "stuck", func(a *v1alpha1.Application) {
		a.Spec.HealthChecks = []v1alpha1.HealthCheck{{APIVersion: "apps/v1", Kind: "Deployment", Name: "stuck"}}
		a.Spec.Timeout = &metav1.Duration{Duration: 3 * time.Second}
	})

	app := f.eventually("web", "ready", readyAt(head))
	assert.Equal(t, "Healthy", app.Status.Health, "Ready waited for the health")
	var dep appsv1.Deployment
	require.NoError(t, f.c.Get(ctxT(t), client.ObjectKey{Namespace: made, Name: "web"}, &dep), "applied in the namespace it created")
	assert.Equal(t, int32(1), dep.Status.AvailableReplicas, "Ready came after the Deployment was available")

	app = f.eventually("stuck", "health check failed", func(a *v1alpha1.Application) bool {
		return condition(a, v1alpha1.ConditionReady).Reason == reconcile.ReasonHealthCheckFailed
	})
	ready := condition(app, v1alpha1.ConditionReady)
	t.Logf("stuck: Ready=%s %s: %s", ready.Status, ready.Reason, ready.Message)
	assert.Equal(t, metav1.ConditionFalse, ready.Status)
	assert.True(t, strings.Contains(ready.Message, "stuck"), "the message names the object: %s", ready.Message)
	require.NoError(t, f.c.Get(ctxT(t), client.ObjectKey{Namespace: f.ns, Name: "stuck"}, &dep), "the objects were applied before the wait")
	f.eventuallyEvent("stuck", "Warning/HealthCheckFailed: ")
}

// checkHealth is what converge's health engine says of an Application.
func checkHealth(t *testing.T, app *v1alpha1.Application) health.Status {
	t.Helper()
	engine, err := health.New()
	require.NoError(t, err)
	app = app.DeepCopy()
	app.TypeMeta = metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Application"}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(app)
	require.NoError(t, err)
	return engine.Check(&unstructured.Unstructured{Object: m}).Status
}
