package operator

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

// eventuallyGone waits until the Application no longer exists.
func (f *fixture) eventuallyGone(name string) {
	f.t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		app := &v1alpha1.Application{}
		err := f.c.Get(ctxT(f.t), client.ObjectKey{Namespace: f.ns, Name: name}, app)
		if apierrors.IsNotFound(err) {
			return
		}
		require.NoError(f.t, err)
		if time.Now().After(deadline) {
			f.t.Fatalf("application %s/%s: still there after %s: finalizers %q, events %q", f.ns, name, waitFor, app.Finalizers, f.events(name))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (f *fixture) delete(name string) {
	f.t.Helper()
	app := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name}}
	require.NoError(f.t, f.c.Delete(ctxT(f.t), app))
}

func prune(a *v1alpha1.Application) { a.Spec.SyncPolicy.Prune = true }

// TestDeleteWithPrune: an Application that prunes carries the finalizer;
// deleting it deletes the objects it applied, a Deployment that has Pods
// by then included, and its inventory, then the Application is gone, and
// an event says what was deleted.
func TestDeleteWithPrune(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	head := f.repo.Commit(t, "a map and a deployment", map[string]string{
		"app/cm.yaml":     configMapYAML("gone-config", map[string]string{"k": "v"}),
		"app/deploy.yaml": deploymentYAML("gone", true),
	})
	f.application("gone", "app", prune)
	f.eventually("gone", "ready", readyAt(head))
	f.eventually("gone", "has the finalizer", func(a *v1alpha1.Application) bool {
		return controllerutil.ContainsFinalizer(a, Finalizer)
	})
	require.NotNil(t, f.configMap("gone-config"))
	require.NotNil(t, f.configMap("converge-gone"), "the inventory")

	f.delete("gone")
	f.eventuallyGone("gone")
	assert.Nil(t, f.configMap("gone-config"), "what it applied is deleted")
	assert.Nil(t, f.configMap("converge-gone"), "its inventory too")
	var dep appsv1.Deployment
	err := f.c.Get(ctxT(t), client.ObjectKey{Namespace: f.ns, Name: "gone"}, &dep)
	assert.True(t, apierrors.IsNotFound(err), "the Deployment is gone: %v", err)
	f.eventuallyEvent("gone", "Normal/Deleted: deleted 2 objects")
}

// TestDeleteReleases: an Application that does not prune, or that is
// suspended, is released on deletion with what it applied left in the
// cluster; turning prune off takes the finalizer off, so the API server
// deletes such an Application at once.
func TestDeleteReleases(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		mutate    func(*v1alpha1.Application)
		finalizer bool
		change    func(*v1alpha1.Application) // made once it is Ready, before deletion
		event     string
	}{
		"prune off":        {mutate: func(*v1alpha1.Application) {}},
		"prune turned off": {mutate: prune, finalizer: true, change: func(a *v1alpha1.Application) { a.Spec.SyncPolicy.Prune = false }},
		"suspended": {mutate: prune, finalizer: true, change: func(a *v1alpha1.Application) { a.Spec.Suspend = true },
			event: "Normal/Released: the Application is suspended: the applied objects are left in the cluster"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			head := f.repo.Commit(t, "a map", map[string]string{"app/cm.yaml": configMapYAML("kept", map[string]string{"k": "v"})})
			f.application("kept", "app", tc.mutate)
			app := f.eventually("kept", "ready", readyAt(head))
			if tc.finalizer {
				app = f.eventually("kept", "has the finalizer", func(a *v1alpha1.Application) bool {
					return controllerutil.ContainsFinalizer(a, Finalizer)
				})
			} else {
				assert.NotContains(t, app.Finalizers, Finalizer, "an Application that does not prune has no finalizer")
			}
			if tc.change != nil {
				tc.change(app)
				require.NoError(t, f.c.Update(ctxT(t), app))
				f.eventually("kept", "the change seen", func(a *v1alpha1.Application) bool {
					return a.Status.ObservedGeneration == a.Generation
				})
			}
			if !app.Spec.SyncPolicy.Prune {
				f.eventually("kept", "no finalizer", func(a *v1alpha1.Application) bool {
					return !controllerutil.ContainsFinalizer(a, Finalizer)
				})
			}

			f.delete("kept")
			f.eventuallyGone("kept")
			assert.Equal(t, map[string]string{"k": "v"}, f.configMap("kept"), "what it applied stays")
			assert.NotNil(t, f.configMap("converge-kept"), "and so does its inventory")
			if tc.event != "" {
				f.eventuallyEvent("kept", tc.event)
			}
		})
	}
}

// TestDeleteFails: while an object the Application applied cannot be
// deleted (another controller's finalizer holds it past spec.timeout),
// the Application keeps its finalizer, a warning says why, and the
// deletion is retried; once the object can go, the Application goes
// too.
func TestDeleteFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	head := f.repo.Commit(t, "a map", map[string]string{"app/cm.yaml": configMapYAML("stuck", map[string]string{"k": "v"})})
	f.application("held", "app", prune, func(a *v1alpha1.Application) { a.Spec.Timeout = &metav1.Duration{Duration: 2 * time.Second} })
	f.eventually("held", "ready", readyAt(head))
	f.eventually("held", "has the finalizer", func(a *v1alpha1.Application) bool { return controllerutil.ContainsFinalizer(a, Finalizer) })

	const hold = "test.converge.dev/hold"
	var cm corev1.ConfigMap
	require.NoError(t, f.c.Get(ctxT(t), client.ObjectKey{Namespace: f.ns, Name: "stuck"}, &cm))
	cm.Finalizers = append(cm.Finalizers, hold)
	require.NoError(t, f.c.Update(ctxT(t), &cm))

	f.delete("held")
	ev := f.eventuallyEvent("held", "Warning/DeleteFailed: ")
	t.Logf("event: %s", ev)
	assert.Contains(t, ev, "ConfigMap/"+f.ns+"/stuck", "the event names the object")
	time.Sleep(3 * time.Second) // more attempts
	app := f.get("held")
	assert.False(t, app.DeletionTimestamp.IsZero(), "being deleted")
	assert.Contains(t, app.Finalizers, Finalizer, "the finalizer stays while the deletion fails")
	assert.NotNil(t, f.configMap("converge-held"), "the inventory stays: the next attempt knows what to delete")

	require.NoError(t, f.c.Get(ctxT(t), client.ObjectKey{Namespace: f.ns, Name: "stuck"}, &cm))
	controllerutil.RemoveFinalizer(&cm, hold)
	require.NoError(t, f.c.Update(ctxT(t), &cm))
	f.eventuallyGone("held")
	assert.Nil(t, f.configMap("stuck"))
	assert.Nil(t, f.configMap("converge-held"))
	f.eventuallyEvent("held", "Normal/Deleted: ")
}
