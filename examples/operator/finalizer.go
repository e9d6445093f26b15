package operator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/reconcile"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

// Finalizer is on every Application whose spec.syncPolicy.prune is set,
// so that deleting it deletes what it applied first. It is taken off
// again when prune is turned off, so that an Application that does not
// prune is deleted at once, operator or not.
const Finalizer = "converge.dev/prune"

// Event reasons of an Application's deletion.
const (
	// EventDeleted: the objects the Application applied were deleted.
	EventDeleted = "Deleted"
	// EventDeleteFailed: deleting them failed; the finalizer stays and
	// the deletion is retried.
	EventDeleteFailed = "DeleteFailed"
	// EventReleased: the Application was let go without deleting its
	// objects (suspended, or a spec that cannot be mapped any more).
	EventReleased = "Released"
)

// defaultDeleteTimeout bounds a deletion of an Application that sets no
// spec.timeout: the objects' own finalizers can hold it.
const defaultDeleteTimeout = 5 * time.Minute

// syncFinalizer puts the finalizer on app or takes it off, as
// spec.syncPolicy.prune says. The patch carries the resourceVersion, so
// that it never drops a finalizer someone else added meanwhile.
func (r *ApplicationReconciler) syncFinalizer(ctx context.Context, app *v1alpha1.Application) error {
	want := app.Spec.SyncPolicy.Prune
	if want == controllerutil.ContainsFinalizer(app, Finalizer) {
		return nil
	}
	base := app.DeepCopy()
	verb := "add"
	if want {
		controllerutil.AddFinalizer(app, Finalizer)
	} else {
		verb = "remove"
		controllerutil.RemoveFinalizer(app, Finalizer)
	}
	if err := r.Client.Patch(ctx, app, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("application %s/%s: %s finalizer %s: %w", app.Namespace, app.Name, verb, Finalizer, err)
	}
	return nil
}

// finalize handles an Application being deleted: with the finalizer and
// prune, what it applied is deleted through the SDK's
// reconcile.Reconciler.Delete (the inventory's objects that still carry
// its ownership marks, then the inventory), then the finalizer comes
// off. A suspended Application, or one whose spec cannot be mapped to a
// unit any more, is released with its objects left as they are. A
// failed deletion keeps the finalizer, records an event and is retried
// with the controller's backoff.
func (r *ApplicationReconciler) finalize(ctx context.Context, app *v1alpha1.Application) (crreconcile.Result, error) {
	ref := reconcile.Ref{Name: app.Name, Namespace: app.Namespace}
	key := types.NamespacedName{Namespace: app.Namespace, Name: app.Name}
	if !controllerutil.ContainsFinalizer(app, Finalizer) {
		r.Engine.Forget(ref)
		r.Metrics.forget(key)
		return crreconcile.Result{}, nil
	}
	switch {
	case !app.Spec.SyncPolicy.Prune:
		// Prune was turned off after the finalizer went on, and the
		// Application was deleted before the change was seen.
		r.event(app, corev1.EventTypeNormal, EventReleased, "Delete", "syncPolicy.prune is off: the applied objects are left in the cluster")
	case app.Spec.Suspend:
		r.event(app, corev1.EventTypeNormal, EventReleased, "Delete", "the Application is suspended: the applied objects are left in the cluster")
	default:
		u, err := r.unit(ctx, app)
		if err != nil && !errors.Is(err, reconcile.ErrInvalidUnit) {
			return crreconcile.Result{}, err // could not read the Project: retry
		}
		if err != nil {
			r.event(app, corev1.EventTypeWarning, EventReleased, "Delete", "cannot delete the applied objects, they are left in the cluster: "+err.Error())
			break
		}
		timeout := defaultDeleteTimeout
		if u.Timeout > 0 {
			timeout = u.Timeout
		}
		dctx, cancel := context.WithTimeout(ctx, timeout)
		res, err := r.Engine.Delete(dctx, u, false)
		cancel()
		r.Metrics.deleted(res)
		if err != nil {
			if ctx.Err() != nil {
				return crreconcile.Result{}, nil // the manager is stopping
			}
			r.event(app, corev1.EventTypeWarning, EventDeleteFailed, "Delete", err.Error()+notDeleted(res))
			return crreconcile.Result{}, fmt.Errorf("application %s/%s: %w", app.Namespace, app.Name, err)
		}
		pruned := 0
		if res != nil {
			pruned = res.Count(apply.Pruned)
		}
		r.event(app, corev1.EventTypeNormal, EventDeleted, "Delete", fmt.Sprintf("deleted %d objects", pruned))
	}
	base := app.DeepCopy()
	controllerutil.RemoveFinalizer(app, Finalizer)
	if err := r.Client.Patch(ctx, app, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil && !apierrors.IsNotFound(err) {
		return crreconcile.Result{}, fmt.Errorf("application %s/%s: remove finalizer %s: %w", app.Namespace, app.Name, Finalizer, err)
	}
	r.Engine.Forget(ref)
	r.Metrics.forget(key)
	return crreconcile.Result{}, nil
}

// notDeleted names the objects a failed deletion did not delete, for its
// event.
func notDeleted(res *apply.Result) string {
	if res == nil {
		return ""
	}
	var ids []string
	for _, o := range res.Objects {
		if o.Action == apply.Failed {
			ids = append(ids, o.ID.String())
		}
	}
	if len(ids) == 0 {
		return ""
	}
	return "; not deleted: " + strings.Join(ids, ", ")
}

// deletionStarted passes the update that marks an Application deleted,
// whatever the API server does with its generation; it passes nothing
// else.
type deletionStarted struct{ predicate.Funcs }

func (deletionStarted) Create(event.CreateEvent) bool   { return false }
func (deletionStarted) Delete(event.DeleteEvent) bool   { return false }
func (deletionStarted) Generic(event.GenericEvent) bool { return false }

func (deletionStarted) Update(e event.UpdateEvent) bool {
	return e.ObjectOld != nil && e.ObjectNew != nil &&
		e.ObjectOld.GetDeletionTimestamp().IsZero() && !e.ObjectNew.GetDeletionTimestamp().IsZero()
}
