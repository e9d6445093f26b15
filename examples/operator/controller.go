package operator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/converge-dev/converge/reconcile"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

// Event reasons the operator records on Applications, besides the SDK's
// condition reasons (ArtifactFailed, BuildFailed, ...) for failures.
const (
	// EventApplied: a pass wrote to the cluster (created, configured,
	// recreated or pruned objects).
	EventApplied = "Applied"
	// EventRecovered: a pass succeeded after failing passes.
	EventRecovered = "Recovered"
	// EventWaiting: the Application started waiting for a dependency.
	EventWaiting = "DependencyNotReady"
	// EventSuspended: the Application was suspended.
	EventSuspended = "Suspended"
	// EventInvalid: the spec cannot be reconciled as it is.
	EventInvalid = "InvalidSpec"
)

// AnnotationPushed is set on an Application by a replica that received a
// push event for it but does not hold its shard: the change of the
// annotation wakes the holder, which fetches afresh. Its value is the
// pushed revision, or the time of the push when the event names none.
const AnnotationPushed = "converge.dev/pushed"

// AnnotationRequestedAt asks for a pass now, with a fresh fetch of the
// source, as `flux reconcile` and Argo CD's refresh annotation do: set it
// to a new value (a time, by convention) and status.lastHandledReconcileAt
// echoes the value once the pass ran. Applications given the same value
// share one fetch of their repository.
const AnnotationRequestedAt = "converge.dev/requested-at"

// dependsOnIndex indexes Applications by the names they depend on, so a
// dependency's change finds its dependents in the manager's cache.
const dependsOnIndex = "spec.dependsOn"

// ApplicationReconciler is the controller of Applications: each
// reconcile maps the Application to a reconcile.Unit, runs one pass of
// the SDK's reconcile.Reconciler over it, writes the status (only when
// it changed), records events for writes, failures and recoveries, and
// asks to run again at the Application's interval.
//
// One ApplicationReconciler, and so one reconcile.Reconciler, serves
// every Application of the manager: they share one watch cache of the
// cluster, and a dependent sees its dependencies' last passes.
type ApplicationReconciler struct {
	// Client reads and writes Applications (the manager's client).
	Client client.Client
	// Engine runs the passes.
	Engine *reconcile.Reconciler
	// Recorder records events on Applications; none are recorded when
	// nil.
	Recorder events.EventRecorder
	// DefaultInterval is the interval of an Application that sets none.
	DefaultInterval time.Duration
	// RetryInterval is the first wait after a failed pass of an
	// Application whose spec.retry says none; it doubles with every
	// failure in a row, up to the interval.
	RetryInterval time.Duration
	// DependencyRetry is how soon an Application waiting for a dependency
	// is tried again; it is also tried as soon as a dependency's status
	// changes.
	DependencyRetry time.Duration
	// RequireProject refuses Applications that name no Project (they
	// would be bound by none): set it where tenants create Applications.
	RequireProject bool
	// Metrics records converge's metrics of each pass ([NewMetrics]);
	// none are recorded when nil.
	Metrics *Metrics
	// Expirer, when set, is told of each Application a push event
	// triggers ([ApplicationReconciler.Webhook]), so that the fetch that
	// follows asks the Git server even inside the fetch-coalescing
	// window: set it to the Engine's fetcher when that coalesces.
	Expirer reconcile.Expirer
	// Shards, when set, limits the passes to the Applications of the
	// shards this replica holds ([ShardKeeper]); every Application is
	// reconciled when nil.
	Shards *ShardKeeper
	// Log receives what happens outside a reconcile (push events);
	// discarded when unset.
	Log logr.Logger
	// Clusters is the registry of destination clusters the Engine
	// resolves them by; when set, a change of a cluster Secret makes the
	// engine forget the cluster and runs its Applications again.
	Clusters *Clusters

	// triggers carries the Applications push events trigger to the
	// controller's queue.
	triggers chan event.GenericEvent
	// fresh holds, per repository URL, the last AnnotationPushed or
	// AnnotationRequestedAt value a pass expired the fetch for (a string
	// → string), so that the Applications of one push or one request
	// share a fetch.
	fresh sync.Map
}

var _ crreconcile.Reconciler = (*ApplicationReconciler)(nil)

// SetupWithManager registers the controller with mgr, running at most
// concurrency reconciles at once (at least 1).
func (r *ApplicationReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, concurrency int) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.Application{}, dependsOnIndex, func(o client.Object) []string {
		return o.(*v1alpha1.Application).Spec.DependsOn
	}); err != nil {
		return fmt.Errorf("index applications by dependsOn: %w", err)
	}
	// Buffered so that a push of a repository with many Applications
	// does not hold the forge's request while the queue takes them.
	r.triggers = make(chan event.GenericEvent, 1024)
	return ctrl.NewControllerManagedBy(mgr).
		Named("application").
		For(&v1alpha1.Application{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deletionStarted{}))).
		WatchesRawSource(source.Channel(r.triggers, &handler.EnqueueRequestForObject{})).
		WatchesRawSource(r.Shards.source()). // the Applications of a gained shard
		Watches(&v1alpha1.Application{}, handler.EnqueueRequestsFromMapFunc(r.dependents), builder.WithPredicates(statusChanged{})).
		Watches(&v1alpha1.Project{}, handler.EnqueueRequestsFromMapFunc(r.projectApplications)).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.clusterSecretApplications), builder.WithPredicates(clusterSecretChanged{r.Clusters})).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(concurrency, 1)}).
		Complete(r)
}

// dependents returns the Applications of obj's namespace that depend on
// it.
func (r *ApplicationReconciler) dependents(ctx context.Context, obj client.Object) []crreconcile.Request {
	var list v1alpha1.ApplicationList
	if err := r.Client.List(ctx, &list, client.InNamespace(obj.GetNamespace()), client.MatchingFields{dependsOnIndex: obj.GetName()}); err != nil {
		logr.FromContextOrDiscard(ctx).Error(err, "list dependents", "application", client.ObjectKeyFromObject(obj))
		return nil
	}
	reqs := make([]crreconcile.Request, 0, len(list.Items))
	for _, a := range list.Items {
		reqs = append(reqs, crreconcile.Request{NamespacedName: types.NamespacedName{Namespace: a.Namespace, Name: a.Name}})
	}
	return reqs
}

// statusChanged passes updates whose status changed: a dependency that
// became Ready or healthy, or stopped being so.
type statusChanged struct{ predicate.Funcs }

func (statusChanged) Create(event.CreateEvent) bool   { return true }
func (statusChanged) Delete(event.DeleteEvent) bool   { return true }
func (statusChanged) Generic(event.GenericEvent) bool { return false }
func (statusChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*v1alpha1.Application)
	n, ok2 := e.ObjectNew.(*v1alpha1.Application)
	return ok1 && ok2 && !equality.Semantic.DeepEqual(o.Status, n.Status)
}

// Reconcile runs one pass over the Application req names.
func (r *ApplicationReconciler) Reconcile(ctx context.Context, req crreconcile.Request) (crreconcile.Result, error) {
	ctx, leave, owned := r.Shards.Enter(ctx, req.NamespacedName)
	if !owned {
		// Another replica's shard: it reconciles this one, and this
		// replica queues it again if it gains the shard.
		return crreconcile.Result{}, nil
	}
	defer leave()
	log := logr.FromContextOrDiscard(ctx)
	ref := reconcile.Ref{Name: req.Name, Namespace: req.Namespace}
	app := &v1alpha1.Application{}
	if err := r.Client.Get(ctx, req.NamespacedName, app); err != nil {
		if apierrors.IsNotFound(err) {
			// Gone: its finalizer, if it pruned, deleted what it applied
			// (finalizer.go); the engine forgets it.
			r.Engine.Forget(ref)
			r.Metrics.forget(req.NamespacedName)
			return crreconcile.Result{}, nil
		}
		return crreconcile.Result{}, err
	}
	if !app.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, app)
	}
	// Another replica received a push for it, or a user asked for a
	// pass: the fetch must ask the Git server, not answer from the
	// coalescing window.
	r.expireOnChange(app, AnnotationPushed)
	r.expireOnChange(app, AnnotationRequestedAt)
	if err := r.syncFinalizer(ctx, app); err != nil {
		return crreconcile.Result{}, err
	}
	defer func() { r.Metrics.setHealth(req.NamespacedName, app.Status.Health) }()
	before := app.Status.DeepCopy()
	if at, ok := app.Annotations[AnnotationRequestedAt]; ok {
		// Written with whatever this pass ends in: the request was handled.
		app.Status.LastHandledReconcileAt = at
	}

	u, err := r.unit(ctx, app) // Unit, bound to its Project (project.go)
	if err != nil {
		// Retrying will not help until the spec changes: Stalled, and no
		// requeue (a new generation brings the Application back).
		r.setInvalid(app, err)
		r.eventOnChange(app, before, corev1.EventTypeWarning, EventInvalid, "Invalid", err.Error())
		return crreconcile.Result{}, r.writeStatus(ctx, app, before)
	}
	if !app.Spec.Suspend {
		if missing := r.missingDependency(ctx, app); missing != "" {
			msg := fmt.Sprintf("dependency %s/%s does not exist", app.Namespace, missing)
			r.setWaiting(app, msg)
			r.eventOnChange(app, before, corev1.EventTypeNormal, EventWaiting, "Wait", msg)
			return crreconcile.Result{RequeueAfter: r.DependencyRetry}, r.writeStatus(ctx, app, before)
		}
	}

	mark := r.Metrics.startPass(ref)
	s, passErr := r.Engine.Reconcile(ctx, u)
	if ctx.Err() != nil {
		// The manager is stopping: the pass says nothing about the
		// Application.
		return crreconcile.Result{}, nil
	}
	r.Metrics.endPass(mark, app, before, &s, passErr)
	SetStatus(&app.Status, s)
	result := crreconcile.Result{RequeueAfter: u.Interval}
	switch {
	case errors.Is(passErr, reconcile.ErrSuspended):
		// Nothing is due until the spec changes (suspend: false).
		result = crreconcile.Result{}
		r.eventOnChange(app, before, corev1.EventTypeNormal, EventSuspended, "Suspend", "reconciliation is suspended; the applied objects are left as they are")
	case errors.Is(passErr, reconcile.ErrDependencyNotReady):
		result.RequeueAfter = min(u.Interval, r.DependencyRetry)
		r.eventOnChange(app, before, corev1.EventTypeNormal, EventWaiting, "Wait", readyOf(&app.Status).Message)
	case errors.Is(passErr, reconcile.ErrInvalidUnit):
		result = crreconcile.Result{}
		r.eventOnChange(app, before, corev1.EventTypeWarning, EventInvalid, "Invalid", passErr.Error())
	case passErr != nil:
		if c := meta.FindStatusCondition(app.Status.Conditions, v1alpha1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
			// Retries exhausted (spec.retry.limit): no more backoff, but
			// the interval still comes round, so that a new revision is
			// seen and can mend it.
			result.RequeueAfter = u.Interval
		} else {
			result.RequeueAfter = RetryAfter(u.Retry, s.Failures)
		}
		ready := readyOf(&app.Status)
		// Every failed pass is recorded; the events API counts repeats
		// of the same one as a series.
		r.event(app, corev1.EventTypeWarning, ready.Reason, "Reconcile", ready.Message)
		log.Info("pass failed", "application", req.NamespacedName, "reason", ready.Reason, "error", passErr.Error())
	default:
		if n := writes(s.Result); n > 0 {
			p := app.Status.LastPlan
			r.event(app, corev1.EventTypeNormal, EventApplied, "Apply", fmt.Sprintf("revision %s: %d created, %d configured, %d recreated, %d pruned",
				s.Revision, p.Created, p.Configured, p.Recreated, p.Pruned))
		}
		if old := readyOf(before); old != nil && old.Status == metav1.ConditionFalse && failedReason(old.Reason) && s.Ready() {
			r.event(app, corev1.EventTypeNormal, EventRecovered, "Reconcile", fmt.Sprintf("recovered from %s: %s", old.Reason, readyOf(&app.Status).Message))
		}
	}
	return result, r.writeStatus(ctx, app, before)
}

// expireOnChange expires the fetch of app's repository when app carries
// a value of annotation that no pass of an Application of that
// repository has expired it for yet.
func (r *ApplicationReconciler) expireOnChange(app *v1alpha1.Application, annotation string) {
	v, ok := app.Annotations[annotation]
	if !ok || r.Expirer == nil {
		return
	}
	url := app.Spec.Source.RepoURL
	if last, seen := r.fresh.Swap(annotation+"\x00"+url, v); !seen || last != v {
		r.Expirer.Expire(&reconcile.Unit{Source: reconcile.Source{URL: url}})
	}
}

// missingDependency returns the first dependency of app that does not
// exist, from the manager's cache; "" when all do.
func (r *ApplicationReconciler) missingDependency(ctx context.Context, app *v1alpha1.Application) string {
	for _, d := range app.Spec.DependsOn {
		var dep v1alpha1.Application
		if err := r.Client.Get(ctx, types.NamespacedName{Namespace: app.Namespace, Name: d}, &dep); apierrors.IsNotFound(err) {
			return d
		}
	}
	return ""
}

func (r *ApplicationReconciler) setInvalid(app *v1alpha1.Application, err error) {
	st := &app.Status
	st.ObservedGeneration = app.Generation
	msg := err.Error()
	for _, c := range []metav1.Condition{
		{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: reconcile.ReasonInvalid, Message: msg},
		{Type: v1alpha1.ConditionStalled, Status: metav1.ConditionTrue, Reason: reconcile.ReasonInvalid, Message: msg},
		{Type: v1alpha1.ConditionReconciling, Status: metav1.ConditionFalse, Reason: reconcile.ReasonInvalid, Message: msg},
	} {
		c.ObservedGeneration = app.Generation
		setCondition(&st.Conditions, c)
	}
}

func (r *ApplicationReconciler) setWaiting(app *v1alpha1.Application, msg string) {
	st := &app.Status
	st.ObservedGeneration = app.Generation
	for _, c := range []metav1.Condition{
		{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: reconcile.ReasonDependencyNotReady, Message: msg},
		{Type: v1alpha1.ConditionReconciling, Status: metav1.ConditionTrue, Reason: reconcile.ReasonDependencyNotReady, Message: msg},
	} {
		c.ObservedGeneration = app.Generation
		setCondition(&st.Conditions, c)
	}
	meta.RemoveStatusCondition(&st.Conditions, v1alpha1.ConditionStalled)
}

// writeStatus patches the status subresource when it differs from
// before: an unchanged pass costs no write.
func (r *ApplicationReconciler) writeStatus(ctx context.Context, app *v1alpha1.Application, before *v1alpha1.ApplicationStatus) error {
	if equality.Semantic.DeepEqual(&app.Status, before) {
		return nil
	}
	base := app.DeepCopy()
	base.Status = *before
	if err := r.Client.Status().Patch(ctx, app, client.MergeFrom(base)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("write status of application %s/%s: %w", app.Namespace, app.Name, err)
	}
	return nil
}

// eventOnChange records an event when the Ready condition's reason or
// message changed: a state entered, not one event per pass.
func (r *ApplicationReconciler) eventOnChange(app *v1alpha1.Application, before *v1alpha1.ApplicationStatus, eventType, reason, action, msg string) {
	old, now := readyOf(before), readyOf(&app.Status)
	if old != nil && now != nil && old.Reason == now.Reason && old.Message == now.Message &&
		condReason(before, v1alpha1.ConditionReconciling) == condReason(&app.Status, v1alpha1.ConditionReconciling) {
		return
	}
	r.event(app, eventType, reason, action, msg)
}

func (r *ApplicationReconciler) event(app *v1alpha1.Application, eventType, reason, action, msg string) {
	if r.Recorder == nil {
		return
	}
	r.Recorder.Eventf(app, nil, eventType, reason, action, "%s", truncate(msg, 1024))
}

func condReason(st *v1alpha1.ApplicationStatus, t string) string {
	if c := meta.FindStatusCondition(st.Conditions, t); c != nil {
		return c.Reason
	}
	return ""
}

// failedReason reports whether a Ready=False reason is a failed pass (not
// a wait, a suspension or a manual Application's plan).
func failedReason(reason string) bool {
	switch reason {
	case reconcile.ReasonDependencyNotReady, reconcile.ReasonSuspended, reconcile.ReasonOutOfSync, reconcile.ReasonGateRefused, reconcile.ReasonProgressing:
		return false
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
