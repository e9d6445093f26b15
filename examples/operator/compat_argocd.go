package operator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/argocd"
)

// The Argo CD kinds SetupCompat serves.
var (
	ArgoCDApplicationGVK    = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Application"}
	ArgoCDApplicationSetGVK = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "ApplicationSet"}
	ArgoCDAppProjectGVK     = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "AppProject"}
)

// The types of Argo CD's application conditions the compat controller
// writes.
const (
	ArgoCDInvalidSpecError = "InvalidSpecError"
	ArgoCDComparisonError  = "ComparisonError"
	ArgoCDSyncError        = "SyncError"
)

// argoFinalizer is Argo CD's cascading-delete finalizer; its /foreground
// and /background forms start with it too.
const argoFinalizer = "resources-finalizer.argocd.argoproj.io"

// ArgoCDApplicationReconciler serves Argo CD Applications
// (argoproj.io/v1alpha1) as they are written for Argo CD: each one, with
// the AppProject it names read from Argo CD's namespace, goes through
// reconcile/argocd.Load to a unit, which one pass of the engine
// reconciles, and the outcome is written in Argo CD's status shape:
//
//	status.sync.status        Synced, OutOfSync or Unknown; .revision the commit; .comparedTo
//	status.health.status      Healthy, Progressing, Degraded, Suspended, Missing or Unknown
//	status.operationState     after a pass that wrote (or failed to): phase Succeeded or
//	                          Failed, message, startedAt, finishedAt, syncResult.revision
//	status.conditions         InvalidSpecError (refused by the loader or the AppProject),
//	                          ComparisonError (fetch or render failed), SyncError (apply failed)
//	status.resources          the inventory, with each object's health
//	status.reconciledAt       the last pass that changed the status
//
// so that `kubectl get applications.argoproj.io` prints what it prints
// under Argo CD. reconciledAt moves only with the rest of the status: an
// unchanged pass writes nothing, where Argo CD writes at every
// comparison. An Application without spec.syncPolicy.automated is planned
// only (OutOfSync) until an operation asks for a sync (what `argocd app
// sync` writes: operation.sync): that pass applies it
// (reconcile.Reconciler.Sync), records the operation in operationState
// and clears it. Deleting an Application with Argo CD's resources
// finalizer deletes what it applied first (reconcile.Reconciler.Delete),
// then takes the finalizer off.
type ArgoCDApplicationReconciler struct {
	// Client reads and writes Applications (the manager's client).
	Client client.Client
	// APIReader reads AppProjects from the API server.
	APIReader client.Reader
	// Engine runs the passes.
	Engine  *reconcile.Reconciler
	Options CompatOptions
}

var _ crreconcile.Reconciler = (*ArgoCDApplicationReconciler)(nil)

// SetupWithManager registers the controller with mgr.
func (r *ArgoCDApplicationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.Options.defaults()
	return ctrl.NewControllerManagedBy(mgr).
		Named("argocd-application").
		For(newObject(ArgoCDApplicationGVK), builder.WithPredicates(specChanged{})).
		Watches(newObject(ArgoCDAppProjectGVK), handler.EnqueueRequestsFromMapFunc(r.projectApplications)).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Options.Concurrency}).
		Complete(r)
}

// projectApplications returns the Applications that name the AppProject
// obj.
func (r *ArgoCDApplicationReconciler) projectApplications(ctx context.Context, obj client.Object) []crreconcile.Request {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(ArgoCDApplicationGVK.GroupVersion().WithKind("ApplicationList"))
	if err := r.Client.List(ctx, list); err != nil {
		r.Options.Log.Error(err, "list applications of an AppProject", "appproject", obj.GetName())
		return nil
	}
	var reqs []crreconcile.Request
	for _, a := range list.Items {
		p, _, _ := unstructured.NestedString(a.Object, "spec", "project")
		if cmpOr(p, "default") == obj.GetName() {
			reqs = append(reqs, crreconcile.Request{NamespacedName: types.NamespacedName{Namespace: a.GetNamespace(), Name: a.GetName()}})
		}
	}
	return reqs
}

// Reconcile runs one pass over the Application req names.
func (r *ArgoCDApplicationReconciler) Reconcile(ctx context.Context, req crreconcile.Request) (crreconcile.Result, error) {
	ref := reconcile.Ref{Name: req.Name, Namespace: req.Namespace}
	app := newObject(ArgoCDApplicationGVK)
	if err := r.Client.Get(ctx, req.NamespacedName, app); err != nil {
		if apierrors.IsNotFound(err) {
			r.Engine.Forget(ref)
			return crreconcile.Result{}, nil
		}
		return crreconcile.Result{}, err
	}
	before, status := statusOf(app), statusOf(app)
	res, loadErr := r.load(ctx, app)
	if app.GetDeletionTimestamp() != nil {
		return crreconcile.Result{}, r.finalize(ctx, app, res, loadErr)
	}
	if loadErr != nil {
		// Retrying will not help until the spec or its AppProject changes.
		setArgoCondition(status, ArgoCDInvalidSpecError, loadErr.Error())
		setNested(status, string(reconcile.SyncUnknown), "sync", "status")
		recordEvent(r.Options.Recorder, app, corev1.EventTypeWarning, ArgoCDInvalidSpecError, "Load", loadErr.Error())
		return crreconcile.Result{}, r.write(ctx, app, before, status)
	}
	u := res.Units[0]
	if u.Interval <= 0 {
		u.Interval = r.Options.ArgoCDInterval
	}
	if u.Retry.Backoff <= 0 {
		u.Retry = reconcile.Retry{Limit: u.Retry.Limit, Backoff: r.Options.RetryInterval, Factor: 2, MaxBackoff: u.Interval}
	}
	// An operation (what `argocd app sync` writes) syncs a manual
	// Application once; the request is cleared when its state is written,
	// as Argo CD does.
	op, _, _ := unstructured.NestedMap(app.Object, "operation")
	pass := r.Engine.Reconcile
	if op["sync"] != nil {
		pass = r.Engine.Sync
	}
	s, passErr := pass(ctx, u)
	if ctx.Err() != nil {
		return crreconcile.Result{}, nil
	}
	objHealth, _ := r.Engine.ObjectHealth(ctx, ref)
	spec, _, _ := unstructured.NestedMap(app.Object, "spec")
	setArgoStatus(status, spec, s, passErr, objHealth, op)

	result := crreconcile.Result{RequeueAfter: u.Interval}
	switch {
	case errors.Is(passErr, reconcile.ErrInvalidUnit):
		result = crreconcile.Result{}
	case passErr != nil:
		result.RequeueAfter = min(RetryAfter(u.Retry, s.Failures), u.Interval)
		recordEvent(r.Options.Recorder, app, corev1.EventTypeWarning, argoErrorType(passErr), "Reconcile", passErr.Error())
	case s.Health == health.Progressing || s.Health == health.Unknown:
		// Argo CD refreshes an Application as its objects change; a pass
		// soon after does here.
		result.RequeueAfter = min(u.Interval, r.Options.RetryInterval)
	}
	if n := writes(s.Result); n > 0 && passErr == nil {
		recordEvent(r.Options.Recorder, app, corev1.EventTypeNormal, EventApplied, "Sync", fmt.Sprintf("revision %s: %d objects written", s.Revision, n))
	}
	if op != nil {
		return result, r.writeClearing(ctx, app, before, status)
	}
	return result, r.write(ctx, app, before, status)
}

// load reads the Application's AppProject and gives both to argocd.Load.
// A missing "default" AppProject allows everything, as the one Argo CD
// creates does; any other missing AppProject refuses the Application.
func (r *ArgoCDApplicationReconciler) load(ctx context.Context, app *unstructured.Unstructured) (*argocd.Result, error) {
	project, _, _ := unstructured.NestedString(app.Object, "spec", "project")
	project = cmpOr(project, "default")
	objs := []*unstructured.Unstructured{app}
	opts := argocd.DefaultOptions()
	opts.Namespace = r.Options.ArgoCDNamespace
	opts.RequireProjects = true
	p := newObject(ArgoCDAppProjectGVK)
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: r.Options.ArgoCDNamespace, Name: project}, p)
	switch {
	case err == nil:
		objs = append(objs, p)
	case apierrors.IsNotFound(err) && project == "default":
		opts.RequireProjects = false
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("Application referencing project %s which does not exist", project)
	default:
		return nil, fmt.Errorf("read AppProject %s/%s: %w", r.Options.ArgoCDNamespace, project, err)
	}
	doc, err := manifestOf(objs...)
	if err != nil {
		return nil, err
	}
	opts.Decode.Source = fmt.Sprintf("Application %s/%s", app.GetNamespace(), app.GetName())
	res, err := argocd.Load(strings.NewReader(string(doc)), opts)
	if err != nil {
		return nil, err
	}
	if len(res.Units) != 1 {
		return nil, fmt.Errorf("Application %s/%s: %d units loaded, want 1", app.GetNamespace(), app.GetName(), len(res.Units))
	}
	return res, nil
}

// finalize deletes what the Application applied when it carries Argo CD's
// resources finalizer, then takes the finalizer off. An Application whose
// spec cannot be loaded is released: its objects stay.
func (r *ArgoCDApplicationReconciler) finalize(ctx context.Context, app *unstructured.Unstructured, res *argocd.Result, loadErr error) error {
	if !hasFinalizer(app, isArgoFinalizer) {
		r.Engine.Forget(reconcile.Ref{Name: app.GetName(), Namespace: app.GetNamespace()})
		return nil
	}
	if loadErr == nil {
		u := res.Units[0]
		if c, ok := res.Cascade(u.Ref()); ok {
			u.Sync.PropagationPolicy = c.Propagation
			ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			defer cancel()
			dr, err := r.Engine.Delete(ctx, u, false)
			if err != nil {
				recordEvent(r.Options.Recorder, app, corev1.EventTypeWarning, "DeleteFailed", "Delete", err.Error())
				return fmt.Errorf("delete the objects of Application %s/%s: %w", app.GetNamespace(), app.GetName(), err)
			}
			if dr != nil {
				recordEvent(r.Options.Recorder, app, corev1.EventTypeNormal, "Deleted", "Delete", fmt.Sprintf("%d objects deleted", writes(dr)))
			}
		}
	} else {
		recordEvent(r.Options.Recorder, app, corev1.EventTypeWarning, "Released", "Delete", "the spec cannot be loaded, the applied objects are left: "+loadErr.Error())
	}
	r.Engine.Forget(reconcile.Ref{Name: app.GetName(), Namespace: app.GetNamespace()})
	return removeFinalizers(ctx, r.Client, app, isArgoFinalizer)
}

// write patches the Application's status when it changed, stamping
// reconciledAt.
func (r *ArgoCDApplicationReconciler) write(ctx context.Context, app *unstructured.Unstructured, before, status map[string]any) error {
	if equality.Semantic.DeepEqual(before, status) {
		return nil
	}
	status["reconciledAt"] = time.Now().UTC().Format(time.RFC3339)
	return patchStatus(ctx, r.Client, app, before, status, false)
}

// writeClearing writes the status and removes the operation it ran, in
// one patch.
func (r *ArgoCDApplicationReconciler) writeClearing(ctx context.Context, app *unstructured.Unstructured, before, status map[string]any) error {
	status["reconciledAt"] = time.Now().UTC().Format(time.RFC3339)
	base := app.DeepCopy()
	if err := unstructured.SetNestedField(base.Object, before, "status"); err != nil {
		return err
	}
	if err := unstructured.SetNestedField(app.Object, status, "status"); err != nil {
		return err
	}
	delete(app.Object, "operation")
	if err := r.Client.Patch(ctx, app, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("write status of Application %s/%s: %w", app.GetNamespace(), app.GetName(), err)
	}
	return nil
}

func hasFinalizer(obj *unstructured.Unstructured, match func(string) bool) bool {
	for _, f := range obj.GetFinalizers() {
		if match(f) {
			return true
		}
	}
	return false
}

// argoErrorType is the Argo CD condition type of a failed pass.
func argoErrorType(err error) string {
	var se *reconcile.StageError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, reconcile.ErrInvalidUnit), errors.Is(err, reconcile.ErrRestricted):
		return ArgoCDInvalidSpecError
	case errors.As(err, &se) && (se.Stage == reconcile.StageApply || se.Stage == reconcile.StageCluster):
		return ArgoCDSyncError
	case errors.As(err, &se) && se.Stage == reconcile.StageHealth:
		return "" // the health status says it
	default:
		return ArgoCDComparisonError
	}
}

// setArgoStatus writes a pass's outcome into an Argo CD Application's
// status (in place), spec being the Application's spec and op the
// operation the pass ran (nil for an automated pass). It does no I/O.
func setArgoStatus(st, spec map[string]any, s reconcile.Status, passErr error, objHealth []health.ObjectResult, op map[string]any) {
	errType := argoErrorType(passErr)
	compared := errType != ArgoCDComparisonError && errType != ArgoCDInvalidSpecError
	// Conditions: the error of this pass, or none.
	switch errType {
	case "":
		delete(st, "conditions")
	case ArgoCDComparisonError:
		setArgoCondition(st, errType, "Failed to load target state: "+passErr.Error())
	default:
		setArgoCondition(st, errType, passErr.Error())
	}
	if !compared {
		// Nothing was compared: the sync status is unknown, the live
		// objects' health is what it was.
		setNested(st, string(reconcile.SyncUnknown), "sync", "status")
		return
	}
	commit := commitOf(s.Revision)
	sync := map[string]any{"status": string(cmpOr(string(s.Sync), string(reconcile.SyncUnknown)))}
	if commit != "" {
		sync["revision"] = commit
	}
	cmp := map[string]any{}
	if v, ok := spec["source"]; ok {
		cmp["source"] = v
	}
	if v, ok := spec["destination"]; ok {
		cmp["destination"] = v
	}
	if d, ok := cmp["destination"]; ok && d != nil {
		sync["comparedTo"] = cmp
	}
	st["sync"] = sync
	if s.Health != "" {
		h, _, _ := unstructured.NestedMap(st, "health")
		if old, _ := h["status"].(string); old != string(s.Health) || h["lastTransitionTime"] == nil {
			st["health"] = map[string]any{"status": string(s.Health), "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}
		}
	}
	if res := argoResources(s, objHealth); res != nil {
		st["resources"] = res
	}
	// The operation state tells of the last sync: a pass that wrote, or
	// failed to, or one an operation asked for.
	if writes(s.Result) > 0 || errType == ArgoCDSyncError || op != nil {
		operation := op
		if operation == nil {
			operation = map[string]any{
				"sync":        map[string]any{"revision": commit},
				"initiatedBy": map[string]any{"automated": true},
			}
		}
		state := map[string]any{
			"operation": operation,
			"phase":     "Succeeded",
			"message":   "successfully synced (all tasks run)",
			"startedAt": s.Started.UTC().Format(time.RFC3339),
			"syncResult": map[string]any{
				"revision": commit,
			},
		}
		if !s.Finished.IsZero() {
			state["finishedAt"] = s.Finished.UTC().Format(time.RFC3339)
		}
		if src, ok := spec["source"]; ok {
			state["syncResult"].(map[string]any)["source"] = src
		}
		if errType == ArgoCDSyncError {
			state["phase"] = "Failed"
			state["message"] = truncate(passErr.Error(), 1024)
			state["retryCount"] = int64(max(s.Failures-1, 0))
		}
		st["operationState"] = state
	}
}

// argoResources lists the unit's objects in Argo CD's status.resources
// shape, each with its health when the engine knows it.
func argoResources(s reconcile.Status, objHealth []health.ObjectResult) []any {
	if len(s.Inventory) == 0 {
		return nil
	}
	hs := map[string]health.Status{}
	for _, h := range objHealth {
		hs[h.ID.String()] = h.Status
	}
	out := make([]any, 0, len(s.Inventory))
	for _, id := range s.Inventory {
		e := map[string]any{"kind": id.Kind, "name": id.Name, "status": cmpOr(string(s.Sync), string(reconcile.SyncUnknown))}
		if id.Group != "" {
			e["group"] = id.Group
		}
		if id.Namespace != "" {
			e["namespace"] = id.Namespace
		}
		if h, ok := hs[id.String()]; ok && h != "" {
			e["health"] = map[string]any{"status": string(h)}
		}
		out = append(out, e)
	}
	return out
}

// setArgoCondition makes the Application's conditions the one of type t,
// keeping its lastTransitionTime while the message stays.
func setArgoCondition(st map[string]any, t, msg string) {
	msg = truncate(msg, 1024)
	now := time.Now().UTC().Format(time.RFC3339)
	if old, _, _ := unstructured.NestedSlice(st, "conditions"); len(old) == 1 {
		if c, ok := old[0].(map[string]any); ok && c["type"] == t && c["message"] == msg {
			return
		}
	}
	st["conditions"] = []any{map[string]any{"type": t, "message": msg, "lastTransitionTime": now}}
}

// setNested sets a string field of a status map, creating the maps on
// the way.
func setNested(st map[string]any, v string, fields ...string) {
	_ = unstructured.SetNestedField(st, v, fields...)
}

// ArgoCDApplicationSetReconciler serves Argo CD ApplicationSets with a
// list generator (what reconcile/argocd.Load expands) as Argo CD's
// ApplicationSet controller does: each generated Application is an
// argoproj.io Application object the ApplicationSet controls (an owner
// reference), created, updated and deleted as spec.syncPolicy's
// applicationsSync allows (Argo CD's default: all three), and then served
// by ArgoCDApplicationReconciler like any other. So `kubectl get
// applications.argoproj.io`, and every tool that reads them, see what
// they saw under Argo CD, and a cluster that moves from Argo CD keeps the
// Applications its ApplicationSets made: they are adopted, not
// reconciled twice. The ApplicationSet's status is written in Argo CD's
// shape: the conditions ErrorOccurred, ParametersGenerated and
// ResourcesUpToDate, and status.resources, one entry per generated
// Application with its sync and health status.
type ArgoCDApplicationSetReconciler struct {
	Client    client.Client
	APIReader client.Reader
	Options   CompatOptions
}

var _ crreconcile.Reconciler = (*ArgoCDApplicationSetReconciler)(nil)

// SetupWithManager registers the controller with mgr.
func (r *ArgoCDApplicationSetReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.Options.defaults()
	return ctrl.NewControllerManagedBy(mgr).
		Named("argocd-applicationset").
		For(newObject(ArgoCDApplicationSetGVK), builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		// A generated Application's status is in the ApplicationSet's
		// status.resources; an edit of it by hand is undone.
		Owns(newObject(ArgoCDApplicationGVK)).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Options.Concurrency}).
		Complete(r)
}

// Reconcile writes the Applications of the ApplicationSet req names and
// its status.
func (r *ArgoCDApplicationSetReconciler) Reconcile(ctx context.Context, req crreconcile.Request) (crreconcile.Result, error) {
	set := newObject(ArgoCDApplicationSetGVK)
	if err := r.Client.Get(ctx, req.NamespacedName, set); err != nil {
		return crreconcile.Result{}, client.IgnoreNotFound(err)
	}
	if set.GetDeletionTimestamp() != nil {
		return crreconcile.Result{}, nil // the garbage collector deletes its Applications
	}
	before, status := statusOf(set), statusOf(set)
	res, err := r.load(ctx, set)
	if err != nil {
		setAppSetConditions(status, err.Error(), "ApplicationGenerationFromParamsError", false)
		recordEvent(r.Options.Recorder, set, corev1.EventTypeWarning, "ApplicationGenerationFromParamsError", "Load", err.Error())
		return crreconcile.Result{}, patchStatus(ctx, r.Client, set, before, status, true)
	}
	var want []*unstructured.Unstructured
	for _, g := range res.Generated {
		want = append(want, g.Application)
	}
	owned, writeErr := r.write(ctx, set, want)
	resources := make([]any, 0, len(want))
	var unhealthy bool
	for _, w := range want {
		e := map[string]any{"group": ArgoCDApplicationGVK.Group, "version": ArgoCDApplicationGVK.Version, "kind": "Application",
			"name": w.GetName(), "namespace": w.GetNamespace(), "status": string(reconcile.SyncUnknown),
			"health": map[string]any{"status": string(health.Unknown)}}
		if app := owned[w.GetName()]; app != nil {
			if s, _, _ := unstructured.NestedString(app.Object, "status", "sync", "status"); s != "" {
				e["status"] = s
			}
			if h, _, _ := unstructured.NestedString(app.Object, "status", "health", "status"); h != "" {
				e["health"].(map[string]any)["status"] = h
				unhealthy = unhealthy || h == string(health.Progressing)
			}
		}
		resources = append(resources, e)
	}
	status["resources"] = resources
	if writeErr != nil {
		setAppSetConditions(status, writeErr.Error(), "ApplicationSetReconcileError", true)
		recordEvent(r.Options.Recorder, set, corev1.EventTypeWarning, "ApplicationSetReconcileError", "Sync", writeErr.Error())
	} else {
		setAppSetConditions(status, "All applications have been generated successfully", "ApplicationSetUpToDate", true)
	}
	if err := patchStatus(ctx, r.Client, set, before, status, true); err != nil {
		return crreconcile.Result{}, err
	}
	// The Applications' own changes requeue it (Owns); a failed write is
	// tried again after the retry interval.
	if writeErr != nil || unhealthy {
		return crreconcile.Result{RequeueAfter: r.Options.RetryInterval}, nil
	}
	return crreconcile.Result{}, nil
}

// write creates, updates and deletes the ApplicationSet's Applications as
// its applicationsSync policy allows, and returns those it controls now
// by name.
func (r *ArgoCDApplicationSetReconciler) write(ctx context.Context, set *unstructured.Unstructured, want []*unstructured.Unstructured) (map[string]*unstructured.Unstructured, error) {
	policy, _, _ := unstructured.NestedString(set.Object, "spec", "syncPolicy", "applicationsSync")
	update := policy == "" || policy == "sync" || policy == "create-update"
	prune := policy == "" || policy == "sync" || policy == "create-delete"
	preserve, _, _ := unstructured.NestedBool(set.Object, "spec", "syncPolicy", "preserveResourcesOnDeletion")

	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(ArgoCDApplicationGVK.GroupVersion().WithKind("ApplicationList"))
	if err := r.Client.List(ctx, list, client.InNamespace(set.GetNamespace())); err != nil {
		return nil, fmt.Errorf("list Applications: %w", err)
	}
	owned := map[string]*unstructured.Unstructured{}
	for i := range list.Items {
		if metav1.IsControlledBy(&list.Items[i], set) {
			owned[list.Items[i].GetName()] = &list.Items[i]
		}
	}
	stale := maps.Clone(owned)
	var errs []error
	for _, w := range want {
		w = w.DeepCopy()
		if w.GetNamespace() != set.GetNamespace() {
			errs = append(errs, fmt.Errorf("Application %s/%s: an ApplicationSet generates Applications in its own namespace %s", w.GetNamespace(), w.GetName(), set.GetNamespace()))
			continue
		}
		w.SetOwnerReferences([]metav1.OwnerReference{*metav1.NewControllerRef(set, ArgoCDApplicationSetGVK)})
		have := owned[w.GetName()]
		delete(stale, w.GetName())
		switch {
		case have == nil:
			if err := r.Client.Create(ctx, w); err != nil {
				if apierrors.IsAlreadyExists(err) {
					err = errors.New("an Application of this name exists and is not this ApplicationSet's")
				}
				errs = append(errs, fmt.Errorf("create Application %s: %w", w.GetName(), err))
				continue
			}
			owned[w.GetName()] = w
			recordEvent(r.Options.Recorder, set, corev1.EventTypeNormal, "Created", "Create", "created Application "+w.GetName())
		case update && argoAppChanged(have, w):
			next := have.DeepCopy()
			next.Object["spec"] = w.Object["spec"]
			next.SetLabels(w.GetLabels())
			next.SetAnnotations(mergeAnnotations(have.GetAnnotations(), w.GetAnnotations()))
			if f := w.GetFinalizers(); len(f) > 0 {
				next.SetFinalizers(f)
			}
			if err := r.Client.Update(ctx, next); err != nil {
				errs = append(errs, fmt.Errorf("update Application %s: %w", w.GetName(), err))
				continue
			}
			owned[w.GetName()] = next
			recordEvent(r.Options.Recorder, set, corev1.EventTypeNormal, "Updated", "Update", "updated Application "+w.GetName())
		}
	}
	if prune {
		for _, name := range slices.Sorted(maps.Keys(stale)) {
			app := stale[name]
			if preserve && hasFinalizer(app, isArgoFinalizer) {
				// Argo CD's preserveResourcesOnDeletion: the Application
				// goes, what it applied stays.
				next := app.DeepCopy()
				next.SetFinalizers(slices.DeleteFunc(next.GetFinalizers(), isArgoFinalizer))
				if err := r.Client.Update(ctx, next); err != nil {
					errs = append(errs, fmt.Errorf("delete Application %s: remove its resources finalizer: %w", name, err))
					continue
				}
			}
			uid := app.GetUID()
			if err := r.Client.Delete(ctx, app, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
				errs = append(errs, fmt.Errorf("delete Application %s: %w", name, err))
				continue
			}
			delete(owned, name)
			recordEvent(r.Options.Recorder, set, corev1.EventTypeNormal, "Deleted", "Delete", "deleted Application "+name+": no element generates it")
		}
	}
	return owned, errors.Join(errs...)
}

// argoAppChanged compares what an ApplicationSet owns of an Application:
// its spec, its labels, and the annotations and finalizers the template
// sets (others may annotate it too).
func argoAppChanged(have, want *unstructured.Unstructured) bool {
	if !equality.Semantic.DeepEqual(have.Object["spec"], want.Object["spec"]) || !maps.Equal(have.GetLabels(), want.GetLabels()) {
		return true
	}
	if f := want.GetFinalizers(); len(f) > 0 && !slices.Equal(f, have.GetFinalizers()) {
		return true
	}
	ha := have.GetAnnotations()
	for k, v := range want.GetAnnotations() {
		if ha[k] != v {
			return true
		}
	}
	return false
}

func isArgoFinalizer(f string) bool { return strings.HasPrefix(f, argoFinalizer) }

// load expands the ApplicationSet with the AppProjects of Argo CD's
// namespace.
func (r *ArgoCDApplicationSetReconciler) load(ctx context.Context, set *unstructured.Unstructured) (*argocd.Result, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(ArgoCDAppProjectGVK.GroupVersion().WithKind("AppProjectList"))
	if err := r.APIReader.List(ctx, list, client.InNamespace(r.Options.ArgoCDNamespace)); err != nil {
		return nil, fmt.Errorf("list AppProjects of %s: %w", r.Options.ArgoCDNamespace, err)
	}
	objs := []*unstructured.Unstructured{set}
	for i := range list.Items {
		objs = append(objs, &list.Items[i])
	}
	doc, err := manifestOf(objs...)
	if err != nil {
		return nil, err
	}
	opts := argocd.DefaultOptions()
	opts.Namespace = r.Options.ArgoCDNamespace
	opts.RequireProjects = true
	opts.Decode.Source = fmt.Sprintf("ApplicationSet %s/%s", set.GetNamespace(), set.GetName())
	return argocd.Load(strings.NewReader(string(doc)), opts)
}

// setAppSetConditions writes an ApplicationSet's three conditions:
// generated is whether the parameters were, msg and reason say why.
func setAppSetConditions(st map[string]any, msg, reason string, generated bool) {
	msg = truncate(msg, 1024)
	errored := reason != "ApplicationSetUpToDate"
	b := func(v bool) string {
		if v {
			return "True"
		}
		return "False"
	}
	now := time.Now().UTC().Format(time.RFC3339)
	old := map[string]map[string]any{}
	if cs, _, _ := unstructured.NestedSlice(st, "conditions"); cs != nil {
		for _, c := range cs {
			if m, ok := c.(map[string]any); ok {
				if t, ok := m["type"].(string); ok {
					old[t] = m
				}
			}
		}
	}
	cond := func(t, status string) map[string]any {
		c := map[string]any{"type": t, "status": status, "reason": reason, "message": msg, "lastTransitionTime": now}
		if o := old[t]; o != nil && o["status"] == status {
			c["lastTransitionTime"] = o["lastTransitionTime"]
		}
		return c
	}
	st["conditions"] = []any{
		cond("ErrorOccurred", b(errored)),
		cond("ParametersGenerated", b(generated)),
		cond("ResourcesUpToDate", b(!errored)),
	}
}
