package operator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/flux"
)

// The Flux kinds SetupCompat serves.
var (
	FluxGitRepositoryGVK = schema.GroupVersionKind{Group: flux.SourceGroup, Version: "v1", Kind: "GitRepository"}
	FluxKustomizationGVK = schema.GroupVersionKind{Group: flux.KustomizeGroup, Version: "v1", Kind: "Kustomization"}
)

// fluxFinalizer is the finalizer Flux's kustomize-controller puts on every
// Kustomization, so that deleting one can delete what it applied.
const fluxFinalizer = "finalizers.fluxcd.io"

// fluxRequestedAt is the annotation `flux reconcile` sets to ask for a
// pass now; its value is echoed as status.lastHandledReconcileAt.
const fluxRequestedAt = "reconcile.fluxcd.io/requestedAt"

// FluxKustomizationReconciler serves Flux Kustomizations
// (kustomize.toolkit.fluxcd.io/v1) as they are written for Flux: each
// one, with the GitRepository its sourceRef names read from the API
// server (and the Secret that GitRepository's secretRef names, for the
// credentials), goes through reconcile/flux.Load to a unit, which one pass
// of the engine reconciles; the outcome is written in Flux's status shape:
// the conditions Ready, Reconciling, Stalled and Healthy with
// observedGeneration (Flux's reasons: ReconciliationSucceeded,
// ArtifactFailed, BuildFailed, HealthCheckFailed, DependencyNotReady, ...),
// lastAttemptedRevision and lastAppliedRevision ("main@sha1:…"),
// inventory.entries ("<namespace>_<name>_<group>_<kind>" and the
// version) and lastHandledReconcileAt, so that
//
//	kubectl wait --for=condition=Ready kustomization/backend-prod
//
// and `flux get kustomizations` read it as they read Flux's. Like Flux's
// controller it puts finalizers.fluxcd.io on each Kustomization; deleting
// one deletes what it applied when its deletionPolicy says so (spec.prune
// with the default policy), then the finalizer comes off.
//
// A Kustomization with spec.healthCheckExprs is refused (Stalled): the
// rules belong in the engine's health checker, which SetupCompat does not
// own.
type FluxKustomizationReconciler struct {
	// Client reads and writes Kustomizations (the manager's client).
	Client client.Client
	// APIReader reads GitRepositories and their Secrets from the API
	// server, so that the manager caches no Secrets.
	APIReader client.Reader
	// Engine runs the passes.
	Engine *reconcile.Reconciler
	// Mapper gives the version of each inventory entry's kind.
	Mapper  meta.RESTMapper
	Options CompatOptions
}

var _ crreconcile.Reconciler = (*FluxKustomizationReconciler)(nil)

// SetupWithManager registers the controller with mgr.
func (r *FluxKustomizationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.Options.defaults()
	return ctrl.NewControllerManagedBy(mgr).
		Named("flux-kustomization").
		For(newObject(FluxKustomizationGVK), builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deletionStarted{}))).
		Watches(newObject(FluxKustomizationGVK), handler.EnqueueRequestsFromMapFunc(r.dependents), builder.WithPredicates(unstructuredStatusChanged{})).
		Watches(newObject(FluxGitRepositoryGVK), handler.EnqueueRequestsFromMapFunc(r.sourceKustomizations), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Options.Concurrency}).
		Complete(r)
}

// Reconcile runs one pass over the Kustomization req names.
func (r *FluxKustomizationReconciler) Reconcile(ctx context.Context, req crreconcile.Request) (crreconcile.Result, error) {
	ref := reconcile.Ref{Name: req.Name, Namespace: req.Namespace}
	ks := newObject(FluxKustomizationGVK)
	if err := r.Client.Get(ctx, req.NamespacedName, ks); err != nil {
		if apierrors.IsNotFound(err) {
			r.Engine.Forget(ref)
			return crreconcile.Result{}, nil
		}
		return crreconcile.Result{}, err
	}
	if ks.GetDeletionTimestamp() != nil {
		return crreconcile.Result{}, r.finalize(ctx, ks)
	}
	if !hasFinalizer(ks, func(f string) bool { return f == fluxFinalizer }) {
		if err := addFinalizer(ctx, r.Client, ks, fluxFinalizer); err != nil {
			return crreconcile.Result{}, err
		}
	}
	before, status := statusOf(ks), statusOf(ks)
	if at, ok := ks.GetAnnotations()[fluxRequestedAt]; ok {
		status["lastHandledReconcileAt"] = at
	}
	retry := fluxDuration(ks, "retryInterval", fluxDuration(ks, "interval", r.Options.RetryInterval))

	u, _, reason, err := r.unit(ctx, ks)
	if err != nil {
		// What the pass could not start with: a missing source or
		// dependency is retried; a refused spec waits for a new one.
		stalled := reason == reconcile.ReasonInvalid
		setFluxFailure(status, ks.GetGeneration(), reason, err.Error(), stalled)
		recordEvent(r.Options.Recorder, ks, corev1.EventTypeWarning, reason, "Reconcile", err.Error())
		result := crreconcile.Result{RequeueAfter: retry}
		if stalled {
			result = crreconcile.Result{}
		} else if reason == reconcile.ReasonDependencyNotReady {
			result.RequeueAfter = r.Options.DependencyRetry
		}
		return result, patchStatus(ctx, r.Client, ks, before, status, true)
	}
	s, passErr := r.Engine.Reconcile(ctx, u)
	if ctx.Err() != nil {
		return crreconcile.Result{}, nil
	}
	setFluxStatus(status, s, r.inventory(s.Inventory))

	result := crreconcile.Result{RequeueAfter: u.Interval}
	switch {
	case errors.Is(passErr, reconcile.ErrSuspended):
		result = crreconcile.Result{}
	case errors.Is(passErr, reconcile.ErrDependencyNotReady):
		result.RequeueAfter = min(u.Interval, r.Options.DependencyRetry)
	case errors.Is(passErr, reconcile.ErrInvalidUnit):
		result = crreconcile.Result{}
		recordEvent(r.Options.Recorder, ks, corev1.EventTypeWarning, reconcile.ReasonInvalid, "Reconcile", passErr.Error())
	case passErr != nil:
		result.RequeueAfter = RetryAfter(u.Retry, s.Failures)
		if c := s.Condition(reconcile.ConditionReady); c != nil {
			recordEvent(r.Options.Recorder, ks, corev1.EventTypeWarning, c.Reason, "Reconcile", c.Message)
		}
	default:
		if n := writes(s.Result); n > 0 {
			recordEvent(r.Options.Recorder, ks, corev1.EventTypeNormal, reconcile.ReasonSucceeded, "Apply", fmt.Sprintf("revision %s: %d objects written", s.Revision, n))
		}
	}
	return result, patchStatus(ctx, r.Client, ks, before, status, true)
}

// unit reads the Kustomization's GitRepository (and credentials) and
// loads the unit. On failure it returns the Flux reason to report.
func (r *FluxKustomizationReconciler) unit(ctx context.Context, ks *unstructured.Unstructured) (reconcile.Unit, *flux.Result, string, error) {
	kind, _, _ := unstructured.NestedString(ks.Object, "spec", "sourceRef", "kind")
	name, _, _ := unstructured.NestedString(ks.Object, "spec", "sourceRef", "name")
	ns, _, _ := unstructured.NestedString(ks.Object, "spec", "sourceRef", "namespace")
	ns = cmpOr(ns, ks.GetNamespace())
	objs := []*unstructured.Unstructured{ks}
	if kind == "GitRepository" && name != "" {
		repo := newObject(FluxGitRepositoryGVK)
		err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, repo)
		switch {
		case apierrors.IsNotFound(err):
			return reconcile.Unit{}, nil, reconcile.ReasonArtifactFailed, fmt.Errorf("Source 'GitRepository/%s/%s' not found", ns, name)
		case err != nil:
			return reconcile.Unit{}, nil, reconcile.ReasonArtifactFailed, fmt.Errorf("read GitRepository %s/%s: %w", ns, name, err)
		}
		objs = append(objs, repo)
	}
	// Without the GitRepository in the input, flux.Load refuses the
	// sourceRef by name (and every kind but GitRepository).
	doc, err := manifestOf(objs...)
	if err != nil {
		return reconcile.Unit{}, nil, reconcile.ReasonInvalid, err
	}
	opts := flux.DefaultOptions()
	opts.Namespace = ks.GetNamespace()
	opts.Decode.Source = fmt.Sprintf("Kustomization %s/%s", ks.GetNamespace(), ks.GetName())
	res, err := flux.Load(strings.NewReader(string(doc)), opts)
	if err != nil {
		return reconcile.Unit{}, nil, reconcile.ReasonInvalid, err
	}
	if len(res.Units) != 1 {
		return reconcile.Unit{}, nil, reconcile.ReasonInvalid, fmt.Errorf("Kustomization %s/%s: %d units loaded, want 1", ks.GetNamespace(), ks.GetName(), len(res.Units))
	}
	if len(res.HealthRules) > 0 {
		return reconcile.Unit{}, nil, reconcile.ReasonInvalid, fmt.Errorf("Kustomization %s/%s: spec.healthCheckExprs: the operator's health engine does not take per-Kustomization rules in this version", ks.GetNamespace(), ks.GetName())
	}
	u := res.Units[0]
	if u.Source.SecretRef != "" && u.Source.Credentials == nil {
		// Read here, from the API server, so that the engine's fetcher
		// needs no Secret reader and the manager caches no Secrets. The
		// error names the Secret, never its data.
		var sec corev1.Secret
		if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: u.Namespace, Name: u.Source.SecretRef}, &sec); err != nil {
			return u, res, reconcile.ReasonArtifactFailed, fmt.Errorf("failed to get secret '%s/%s': %w", u.Namespace, u.Source.SecretRef, err)
		}
		u.Source.Credentials = reconcile.CredentialsFromSecret(sec.Data)
	}
	for _, d := range u.DependsOn {
		dep := newObject(FluxKustomizationGVK)
		dns := cmpOr(d.Namespace, u.Namespace)
		if err := r.Client.Get(ctx, types.NamespacedName{Namespace: dns, Name: d.Name}, dep); apierrors.IsNotFound(err) {
			return u, res, reconcile.ReasonDependencyNotReady, fmt.Errorf("unable to get '%s/%s' dependency: %w", dns, d.Name, err)
		}
	}
	if u.Retry.Backoff <= 0 {
		u.Retry = reconcile.Retry{Backoff: u.Interval, Factor: 1}
	}
	return u, res, "", nil
}

// finalize deletes what the Kustomization applied when its deletionPolicy
// says so, then takes Flux's finalizer off. A Kustomization whose spec
// cannot be loaded any more (its GitRepository gone) is released.
func (r *FluxKustomizationReconciler) finalize(ctx context.Context, ks *unstructured.Unstructured) error {
	ours := func(f string) bool { return f == fluxFinalizer }
	ref := reconcile.Ref{Name: ks.GetName(), Namespace: ks.GetNamespace()}
	if !hasFinalizer(ks, ours) {
		r.Engine.Forget(ref)
		return nil
	}
	u, res, _, err := r.unit(ctx, ks)
	switch {
	case err != nil && res == nil:
		recordEvent(r.Options.Recorder, ks, corev1.EventTypeWarning, "Released", "Delete", "the spec cannot be loaded, the applied objects are left: "+err.Error())
	default:
		if c, ok := res.Cascade(u.Ref()); ok {
			u.Sync.PropagationPolicy = c.Propagation
			ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			defer cancel()
			if _, err := r.Engine.Delete(ctx, u, false); err != nil {
				recordEvent(r.Options.Recorder, ks, corev1.EventTypeWarning, "DeleteFailed", "Delete", err.Error())
				return fmt.Errorf("delete the objects of Kustomization %s/%s: %w", ks.GetNamespace(), ks.GetName(), err)
			}
		}
	}
	r.Engine.Forget(ref)
	return removeFinalizers(ctx, r.Client, ks, ours)
}

// dependents returns the Kustomizations that depend on obj.
func (r *FluxKustomizationReconciler) dependents(ctx context.Context, obj client.Object) []crreconcile.Request {
	return r.listKustomizations(ctx, func(k *unstructured.Unstructured) bool {
		deps, _, _ := unstructured.NestedSlice(k.Object, "spec", "dependsOn")
		for _, d := range deps {
			m, _ := d.(map[string]any)
			name, _ := m["name"].(string)
			ns, _ := m["namespace"].(string)
			if name == obj.GetName() && cmpOr(ns, k.GetNamespace()) == obj.GetNamespace() {
				return true
			}
		}
		return false
	})
}

// sourceKustomizations returns the Kustomizations of the GitRepository obj.
func (r *FluxKustomizationReconciler) sourceKustomizations(ctx context.Context, obj client.Object) []crreconcile.Request {
	return r.listKustomizations(ctx, func(k *unstructured.Unstructured) bool { return usesSource(k, obj) })
}

func (r *FluxKustomizationReconciler) listKustomizations(ctx context.Context, match func(*unstructured.Unstructured) bool) []crreconcile.Request {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(FluxKustomizationGVK.GroupVersion().WithKind("KustomizationList"))
	if err := r.Client.List(ctx, list); err != nil {
		r.Options.Log.Error(err, "list kustomizations")
		return nil
	}
	var reqs []crreconcile.Request
	for i := range list.Items {
		if k := &list.Items[i]; match(k) {
			reqs = append(reqs, crreconcile.Request{NamespacedName: types.NamespacedName{Namespace: k.GetNamespace(), Name: k.GetName()}})
		}
	}
	return reqs
}

// usesSource reports whether the Kustomization k names the GitRepository
// repo as its source.
func usesSource(k *unstructured.Unstructured, repo client.Object) bool {
	kind, _, _ := unstructured.NestedString(k.Object, "spec", "sourceRef", "kind")
	name, _, _ := unstructured.NestedString(k.Object, "spec", "sourceRef", "name")
	ns, _, _ := unstructured.NestedString(k.Object, "spec", "sourceRef", "namespace")
	return kind == "GitRepository" && name == repo.GetName() && cmpOr(ns, k.GetNamespace()) == repo.GetNamespace()
}

// inventory writes the unit's objects as Flux's inventory entries.
func (r *FluxKustomizationReconciler) inventory(ids []object.ID) []any {
	out := make([]any, 0, len(ids))
	for _, id := range ids {
		v := ""
		if r.Mapper != nil {
			if m, err := r.Mapper.RESTMapping(id.GroupKind()); err == nil {
				v = m.GroupVersionKind.Version
			}
		}
		out = append(out, map[string]any{"id": fluxInventoryID(id), "v": v})
	}
	return out
}

// fluxInventoryID is Flux's (cli-utils') object metadata string:
// namespace, name, group and kind joined by "_".
func fluxInventoryID(id object.ID) string {
	return id.Namespace + "_" + id.Name + "_" + id.Group + "_" + id.Kind
}

// setFluxStatus writes a pass's outcome into a Kustomization's status (in
// place), as Flux's kustomize-controller shapes it. It does no I/O.
func setFluxStatus(st map[string]any, s reconcile.Status, inventory []any) {
	conds := conditionsOf(st)
	for _, t := range []string{reconcile.ConditionReady, reconcile.ConditionReconciling, reconcile.ConditionStalled, reconcile.ConditionHealthy} {
		c := s.Condition(t)
		switch {
		case c != nil && (t == reconcile.ConditionReconciling || t == reconcile.ConditionStalled) && c.Status == metav1.ConditionFalse:
			// Flux removes these once they no longer hold.
			meta.RemoveStatusCondition(&conds, t)
		case c != nil:
			setCondition(&conds, *c)
		case t == reconcile.ConditionStalled:
			meta.RemoveStatusCondition(&conds, t)
		}
	}
	_ = setConditions(st, conds)
	if errors.Is(s.Err, reconcile.ErrSuspended) {
		return
	}
	st["observedGeneration"] = s.ObservedGeneration
	if s.Revision != "" {
		st["lastAttemptedRevision"] = s.Revision
	}
	if s.LastAppliedRevision != "" {
		st["lastAppliedRevision"] = s.LastAppliedRevision
	}
	if s.Result != nil || len(s.Inventory) > 0 {
		st["inventory"] = map[string]any{"entries": inventory}
	}
}

// setFluxFailure reports a Kustomization that no pass could start for:
// Ready=False with reason and message, Stalled when retrying cannot help.
func setFluxFailure(st map[string]any, generation int64, reason, msg string, stalled bool) {
	conds := conditionsOf(st)
	msg = truncate(msg, 1024)
	setCondition(&conds, metav1.Condition{Type: reconcile.ConditionReady, Status: metav1.ConditionFalse, Reason: reason, Message: msg, ObservedGeneration: generation})
	if stalled {
		setCondition(&conds, metav1.Condition{Type: reconcile.ConditionStalled, Status: metav1.ConditionTrue, Reason: reason, Message: msg, ObservedGeneration: generation})
		meta.RemoveStatusCondition(&conds, reconcile.ConditionReconciling)
	} else {
		meta.RemoveStatusCondition(&conds, reconcile.ConditionStalled)
	}
	_ = setConditions(st, conds)
	st["observedGeneration"] = generation
}

// fluxDuration reads a duration field of a Flux spec, or def.
func fluxDuration(obj *unstructured.Unstructured, field string, def time.Duration) time.Duration {
	s, _, _ := unstructured.NestedString(obj.Object, "spec", field)
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d
	}
	return def
}

// unstructuredStatusChanged passes updates whose status changed, and
// creations and deletions.
type unstructuredStatusChanged struct{ predicate.Funcs }

func (unstructuredStatusChanged) Create(event.CreateEvent) bool   { return true }
func (unstructuredStatusChanged) Delete(event.DeleteEvent) bool   { return true }
func (unstructuredStatusChanged) Generic(event.GenericEvent) bool { return false }
func (unstructuredStatusChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*unstructured.Unstructured)
	n, ok2 := e.ObjectNew.(*unstructured.Unstructured)
	return ok1 && ok2 && !equality.Semantic.DeepEqual(o.Object["status"], n.Object["status"])
}

// FluxGitRepositoryReconciler writes the status of Flux GitRepositories
// in source-controller's shape (Ready with observedGeneration), from the
// passes of the Kustomizations that use them: converge fetches a source
// in each unit's pass and keeps no artifact of its own, so a
// GitRepository is Ready (reason Succeeded, "stored artifact for revision
// '…'") once a Kustomization's pass fetched it, and Ready=False (reason
// GitOperationFailed, or AuthenticationFailed for a missing secretRef)
// when the last fetch failed. One that no Kustomization uses is Ready
// Unknown. status.artifact is not written: there is no artifact to serve.
type FluxGitRepositoryReconciler struct {
	Client client.Client
	// APIReader checks the Secret of spec.secretRef.
	APIReader client.Reader
	Engine    *reconcile.Reconciler
	Options   CompatOptions
}

var _ crreconcile.Reconciler = (*FluxGitRepositoryReconciler)(nil)

// SetupWithManager registers the controller with mgr.
func (r *FluxGitRepositoryReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.Options.defaults()
	return ctrl.NewControllerManagedBy(mgr).
		Named("flux-gitrepository").
		For(newObject(FluxGitRepositoryGVK), builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(newObject(FluxKustomizationGVK), handler.EnqueueRequestsFromMapFunc(kustomizationSource), builder.WithPredicates(unstructuredStatusChanged{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Options.Concurrency}).
		Complete(r)
}

// kustomizationSource returns the GitRepository of the Kustomization obj.
func kustomizationSource(_ context.Context, obj client.Object) []crreconcile.Request {
	k, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil
	}
	kind, _, _ := unstructured.NestedString(k.Object, "spec", "sourceRef", "kind")
	name, _, _ := unstructured.NestedString(k.Object, "spec", "sourceRef", "name")
	ns, _, _ := unstructured.NestedString(k.Object, "spec", "sourceRef", "namespace")
	if kind != "GitRepository" || name == "" {
		return nil
	}
	return []crreconcile.Request{{NamespacedName: types.NamespacedName{Namespace: cmpOr(ns, k.GetNamespace()), Name: name}}}
}

// Reconcile writes the status of the GitRepository req names.
func (r *FluxGitRepositoryReconciler) Reconcile(ctx context.Context, req crreconcile.Request) (crreconcile.Result, error) {
	repo := newObject(FluxGitRepositoryGVK)
	if err := r.Client.Get(ctx, req.NamespacedName, repo); err != nil {
		return crreconcile.Result{}, client.IgnoreNotFound(err)
	}
	before, status := statusOf(repo), statusOf(repo)
	c := metav1.Condition{Type: reconcile.ConditionReady, Status: metav1.ConditionUnknown, Reason: "Progressing",
		Message: "no Kustomization has fetched it yet", ObservedGeneration: repo.GetGeneration()}
	if secret, _, _ := unstructured.NestedString(repo.Object, "spec", "secretRef", "name"); secret != "" {
		var sec corev1.Secret
		if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: repo.GetNamespace(), Name: secret}, &sec); err != nil {
			c.Status, c.Reason = metav1.ConditionFalse, "AuthenticationFailed"
			c.Message = fmt.Sprintf("failed to get secret '%s/%s': %v", repo.GetNamespace(), secret, err)
		}
	}
	if c.Reason != "AuthenticationFailed" {
		if s, ok := r.lastFetch(ctx, repo); ok {
			if rc := s.Condition(reconcile.ConditionReady); rc != nil && rc.Reason == reconcile.ReasonArtifactFailed {
				c.Status, c.Reason, c.Message = metav1.ConditionFalse, "GitOperationFailed", rc.Message
			} else if s.Revision != "" {
				c.Status, c.Reason = metav1.ConditionTrue, "Succeeded"
				c.Message = fmt.Sprintf("stored artifact for revision '%s'", s.Revision)
			}
		}
	}
	conds := conditionsOf(status)
	setCondition(&conds, c)
	_ = setConditions(status, conds)
	status["observedGeneration"] = repo.GetGeneration()
	return crreconcile.Result{}, patchStatus(ctx, r.Client, repo, before, status, true)
}

// lastFetch returns the latest pass of the Kustomizations of repo that
// fetched it or failed to.
func (r *FluxGitRepositoryReconciler) lastFetch(ctx context.Context, repo *unstructured.Unstructured) (reconcile.Status, bool) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(FluxKustomizationGVK.GroupVersion().WithKind("KustomizationList"))
	if err := r.Client.List(ctx, list); err != nil {
		r.Options.Log.Error(err, "list kustomizations")
		return reconcile.Status{}, false
	}
	var last reconcile.Status
	found := false
	for i := range list.Items {
		k := &list.Items[i]
		if !usesSource(k, repo) {
			continue
		}
		s, ok := r.Engine.Status(reconcile.Ref{Name: k.GetName(), Namespace: k.GetNamespace()})
		rc := s.Condition(reconcile.ConditionReady)
		fetched := s.Revision != "" || (rc != nil && rc.Reason == reconcile.ReasonArtifactFailed)
		if ok && fetched && (!found || s.Finished.After(last.Finished)) {
			last, found = s, true
		}
	}
	return last, found
}
