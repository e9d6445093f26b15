package apply

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/csaupgrade"

	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/object"
)

// applyItem brings one object to its desired state, or in a dry run says
// what that would take.
func (r *run) applyItem(ctx context.Context, it *item, phase Phase) (or ObjectResult) {
	start := time.Now()
	or = ObjectResult{ID: it.id, Phase: phase, Wave: it.s.wave}
	defer func() { or.Duration = time.Since(start) }()
	fail := func(err error) ObjectResult {
		or.Action, or.Err = Failed, err
		return or
	}

	if it.s.mode == modeIgnore {
		or.Action, or.Reason = Skipped, "annotated to be ignored"
		return or
	}
	mustKnow := r.dry || it.s.mode == modeIfNotPresent || r.opts.TakeOverKubectl
	live, known, err := r.a.live(ctx, it.obj, mustKnow)
	if err != nil {
		return fail(err)
	}
	if it.s.onRequest && live != nil {
		or.Action, or.Reason = Unchanged, "exists; created only when absent"
		return or
	}
	if it.s.mode == modeIfNotPresent && live != nil {
		or.Action, or.Reason = Skipped, "exists, and is annotated to be created only if absent"
		return or
	}
	obj := it.obj
	if live != nil {
		if obj, err = r.ownedVersion(it.obj, live); err != nil {
			return fail(err)
		}
	}
	if live != nil && r.opts.TakeOverKubectl && !r.dry {
		if live, err = r.takeOver(ctx, live); err != nil {
			return fail(fmt.Errorf("take over from kubectl: %w", err))
		}
	}
	if known {
		d, err := r.a.differ.Diff(ctx, obj, live)
		switch {
		case err != nil && r.dry && live == nil && meta.IsNoMatchError(err):
			// The CRD is in the set and not installed yet: no diff.
		case err != nil:
			return fail(fmt.Errorf("diff: %w", err))
		default:
			or.Diff = d
			if d.Action == diff.Unchanged {
				or.Action = Unchanged
				return or
			}
		}
	}
	if r.dry {
		or.Action = Configured
		if live == nil {
			or.Action = Created
		}
		return or
	}

	send := obj
	if live != nil && r.a.differ.MayStrip(obj) {
		if send, err = r.respectIgnored(ctx, obj); err != nil {
			return fail(err)
		}
	}
	applied, err := r.write(ctx, send)
	if object.ClassOf(it.id.GroupKind()) == object.ClassCustomResourceDefinition {
		r.crdsWritten.Store(true)
	}
	switch {
	case err == nil:
		or.Action = Configured
		if live == nil && createdBy(applied, r.a.manager) {
			or.Action = Created
		}
	case isImmutable(err) && (it.s.recreate || r.opts.Recreate):
		if applied, err = r.recreate(ctx, obj); err != nil {
			return fail(err)
		}
		or.Action, or.Reason = Recreated, "a field that cannot change changed"
	case isImmutable(err):
		return fail(fmt.Errorf("%w (annotate %s: enabled to allow delete and recreate): %v", ErrImmutable, object.AnnotationRecreate, apiMessage(err)))
	case apierrors.IsConflict(err) && r.opts.Conflicts == ReportConflicts:
		return fail(conflictError(err))
	default:
		return fail(err)
	}
	if err := r.a.differ.Record(ctx, obj, applied); err != nil {
		r.a.log.V(1).Info("no receipt", "object", it.id.String(), "reason", err.Error())
	}
	return or
}

// respectIgnored returns obj without the fields its ignore rules cover
// that another manager owns (Argo CD's RespectIgnoreDifferences), so the
// apply does not take them back: an HPA keeps its replicas. It reads the
// live object from the API server, since the cache keeps only this
// manager's managedFields; it is called only for a write of an object
// whose rules cover a field it sets.
func (r *run) respectIgnored(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	full, err := r.a.client.Get(ctx, obj.GroupVersionKind(), obj.GetNamespace(), obj.GetName())
	if apierrors.IsNotFound(err) {
		return obj, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the fields other managers own: %w", err)
	}
	return r.a.differ.StripIgnored(ctx, obj, full)
}

// ownedVersion returns the version of a prepared object to apply over
// live, given who holds live: the object itself when live is this
// owner's alone or nobody's (adopted); a copy that keeps the other owners'
// marks when live is shared, or when another owner holds it and
// Options.Sharing allows joining; an *OwnerError otherwise.
func (r *run) ownedVersion(obj, live *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	me := r.a.owner.identity()
	own := ownershipOf(live)
	others := own.others(me)
	switch {
	case len(others) == 0:
		return obj, nil
	case !own.holds(me) && r.opts.Sharing != AllowShared:
		return nil, &OwnerError{Owners: others}
	}
	if !own.holds(me) {
		own.co = append(own.co, me)
		slices.SortFunc(own.co, func(a, b Owner) int { return strings.Compare(a.key(), b.key()) })
	}
	if own.primary == me {
		own.source = r.a.owner.Source
	}
	return withOwnership(obj, own), nil
}

// live returns the live object. known is false when the cache cannot tell
// (it holds only objects with the owner's labels, and this one has none
// or does not exist) and mustKnow did not ask for a GET: the object must
// be written either way then.
func (a *Applier) live(ctx context.Context, obj *unstructured.Unstructured, mustKnow bool) (live *unstructured.Unstructured, known bool, err error) {
	gvk := obj.GroupVersionKind()
	got, found, err := a.cache.Lookup(ctx, gvk, obj.GetNamespace(), obj.GetName())
	switch {
	case err == nil && found:
		return got, true, nil
	case err == nil && !a.cache.Selective():
		return nil, true, nil
	case meta.IsNoMatchError(err):
		// A kind whose CRD is not installed yet has no objects.
		return nil, true, nil
	case err == nil && !mustKnow:
		return nil, false, nil
	}
	got, err = a.client.Get(ctx, gvk, obj.GetNamespace(), obj.GetName())
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	return got, true, nil
}

// write sends one server-side apply.
func (r *run) write(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ri, _, err := r.a.client.ResourceFor(ctx, obj)
	if err != nil {
		return nil, err
	}
	body, err := obj.MarshalJSON()
	if err != nil {
		return nil, err
	}
	force := r.opts.Conflicts == ForceConflicts
	applied, err := ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{
		FieldManager: r.a.manager,
		Force:        &force,
		// The API server's default (Warn) parses every apply a second
		// time, strictly, only to find duplicate keys, which JSON encoded
		// from a map cannot have. Unknown fields are still refused: server-
		// side apply checks every field against the kind's schema.
		FieldValidation: metav1.FieldValidationIgnore,
	})
	if err != nil {
		return nil, err
	}
	r.wrote(object.IDOf(obj), applied.GetResourceVersion())
	return applied, nil
}

// recreate deletes the live object, waits until it is gone (finalizers
// included) and applies obj again.
func (r *run) recreate(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	id := object.IDOf(obj)
	if err := r.deleteAndWait(ctx, id, obj, "", r.opts.PropagationPolicy, r.opts.PruneTimeout); err != nil {
		return nil, fmt.Errorf("recreate: %w", err)
	}
	r.a.differ.Forget(id)
	applied, err := r.write(ctx, obj)
	if err != nil {
		return nil, fmt.Errorf("recreate: %w", err)
	}
	return applied, nil
}

// deleteAndWait deletes an object (only the one with uid, when given) and
// waits until the API server no longer has it.
func (r *run) deleteAndWait(ctx context.Context, id object.ID, obj *unstructured.Unstructured, uid types.UID, policy metav1.DeletionPropagation, timeout time.Duration) error {
	ri, _, err := r.a.client.ResourceFor(ctx, obj)
	if err != nil {
		return err
	}
	opts := metav1.DeleteOptions{PropagationPolicy: &policy}
	if uid != "" {
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	err = ri.Delete(ctx, obj.GetName(), opts)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return err
	}
	r.wrote(id, "")
	return r.waitGone(ctx, obj, timeout)
}

// waitGone polls until the object is gone. Deletion is rare and short, so
// a GET every half second is cheaper than a watch per object.
func (r *run) waitGone(ctx context.Context, obj *unstructured.Unstructured, timeout time.Duration) error {
	gvk := obj.GroupVersionKind()
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		_, err := r.a.client.Get(ctx, gvk, obj.GetNamespace(), obj.GetName())
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("still present after %s (finalizers?)", timeout)
	}
	return nil
}

// kubectlManagers are the field managers client-side kubectl writes as.
var kubectlManagers = sets.New("kubectl-client-side-apply", "before-first-apply", "kubectl-create",
	"kubectl-edit", "kubectl-replace", "kubectl-label", "kubectl-annotate", "kubectl")

// takeOver moves the fields kubectl's client-side managers own to the
// Applier's manager, so the next apply can remove what Git removed,
// kubectl's last-applied annotation included. It reads the object from
// the API server: the cache may have trimmed other managers' entries.
func (r *run) takeOver(ctx context.Context, cached *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	uid := cached.GetUID()
	if r.a.tookOver(uid) {
		return cached, nil
	}
	live, err := r.a.client.Get(ctx, cached.GroupVersionKind(), cached.GetNamespace(), cached.GetName())
	if err != nil {
		return nil, err
	}
	patch, err := csaupgrade.UpgradeManagedFieldsPatch(live, kubectlManagers, r.a.manager)
	if err != nil {
		return nil, err
	}
	if patch == nil {
		r.a.markTookOver(uid)
		return live, nil
	}
	ri, _, err := r.a.client.ResourceFor(ctx, live)
	if err != nil {
		return nil, err
	}
	patched, err := ri.Patch(ctx, live.GetName(), types.JSONPatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return nil, err
	}
	r.wrote(object.IDOf(live), patched.GetResourceVersion())
	r.a.markTookOver(uid)
	return patched, nil
}

// createdBy reports whether the applied object was just created by
// manager: its only managedFields entry is manager's apply.
func createdBy(applied *unstructured.Unstructured, manager string) bool {
	mf := applied.GetManagedFields()
	return len(mf) == 1 && mf[0].Manager == manager && mf[0].Operation == metav1.ManagedFieldsOperationApply &&
		applied.GetGeneration() <= 1
}

// immutableMessages are the API server's ways of saying a field cannot
// change, as fluxcd/pkg/ssa and Argo CD match them. Only an Invalid (422)
// rejection with one of them counts: a conflict between field managers is
// never a reason to recreate.
var immutableMessages = regexp.MustCompile(`(?i)field is immutable|cannot change roleRef|updates to [a-z]+ spec for fields other than|may not change once set`)

func isImmutable(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || !apierrors.IsInvalid(err) {
		return false
	}
	if immutableMessages.MatchString(status.Status().Message) {
		return true
	}
	if d := status.Status().Details; d != nil {
		for _, c := range d.Causes {
			if immutableMessages.MatchString(c.Message) {
				return true
			}
		}
	}
	return false
}

// conflictError turns a 409 from a non-forced apply into the managers and
// fields it names.
func conflictError(err error) error {
	var status apierrors.APIStatus
	ce := &ConflictError{}
	if errors.As(err, &status) && status.Status().Details != nil {
		for _, c := range status.Status().Details.Causes {
			ce.Conflicts = append(ce.Conflicts, fmt.Sprintf("%s (%s)", c.Field, c.Message))
		}
	}
	if len(ce.Conflicts) == 0 {
		ce.Conflicts = []string{apiMessage(err)}
	}
	return ce
}

func apiMessage(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return status.Status().Message
	}
	return err.Error()
}
