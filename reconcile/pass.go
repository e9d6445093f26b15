package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/rollout"
	"github.com/converge-dev/converge/source"
)

// Stage names the part of a pass that failed.
type Stage string

const (
	StageCluster Stage = "cluster"
	StageFetch   Stage = "fetch"
	StageRender  Stage = "render"
	StageApply   Stage = "apply"
	StageHealth  Stage = "health"
)

// StageError is a failed pass: the stage and why. Its message names the
// unit first.
type StageError struct {
	Unit  Ref
	Stage Stage
	Err   error
}

func (e *StageError) Error() string { return fmt.Sprintf("%s: %s: %v", e.Unit, e.Stage, e.Err) }

// Unwrap returns the stage's error.
func (e *StageError) Unwrap() error { return e.Err }

// Sentinel errors of a pass, for errors.Is.
var (
	// ErrSuspended: the unit is suspended; nothing was done.
	ErrSuspended = errors.New("suspended")
	// ErrDependencyNotReady: a unit of DependsOn is not Ready and healthy.
	ErrDependencyNotReady = errors.New("dependency not ready")
	// ErrGateRefused: the Gate held a change back.
	ErrGateRefused = errors.New("held back by the gate")
	// ErrEmptyRender: the render is empty, the unit prunes, and AllowEmpty
	// is off: applying it would delete everything the unit applied.
	ErrEmptyRender = errors.New("the render holds no objects; AllowEmpty lets an empty render prune everything this unit applied")
)

// failure reports whether err counts as a failed pass (retried with
// backoff, notified): not a suspension, a dependency or a gate.
func failure(err error) bool {
	return err != nil && !errors.Is(err, ErrSuspended) && !errors.Is(err, ErrDependencyNotReady) && !errors.Is(err, ErrGateRefused)
}

func (r *Reconciler) pass(ctx context.Context, u *Unit, st *unitState, s *Status, mode passMode) error {
	ref := u.Ref()
	fail := func(stage Stage, err error) error { return &StageError{Unit: ref, Stage: stage, Err: err} }
	if u.Suspend && mode == passAuto {
		return fmt.Errorf("%s: %w", ref, ErrSuspended)
	}
	if mode != passPlan {
		if err := r.dependenciesReady(ctx, u); err != nil {
			return err
		}
	}
	timeout := r.timeoutOf(u)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	deadline := time.Now().Add(timeout)

	if err := checkSource(u); err != nil {
		return fail(StageFetch, err)
	}
	if err := checkDestination(u); err != nil {
		return fail(StageApply, err)
	}
	if err := r.checkDecryption(u); err != nil {
		return fail(StageRender, err)
	}
	if u.Render.ResolveReferences && r.references == nil {
		return fail(StageRender, errNoReferenceStores)
	}
	entry, err := r.clusterFor(ctx, u)
	if err != nil {
		return fail(StageCluster, err)
	}
	snap, err := r.fetcher.Fetch(ctx, u)
	if err != nil {
		return fail(StageFetch, err)
	}
	s.Revision = snap.Revision

	set, err := r.rendered(ctx, entry, u, st, s, snap)
	if err != nil {
		return fail(StageRender, err)
	}
	if set, err = r.stepRollouts(ctx, entry, u, set, s, mode == passPlan); err != nil {
		return fail(StageRender, err)
	}
	applier, err := r.applierFor(entry, st, u)
	if err != nil {
		return fail(StageApply, err)
	}
	opts := applyOptions(u, time.Until(deadline))
	opts.ForceHooks = mode == passForce // a sync asked for runs its hooks, changes or not
	r.progressOf(u.Ref(), &opts)
	manual := mode == passPlan || (u.Sync.Manual && mode != passForce)
	if manual || (r.gate != nil && mode != passForce) {
		plan, err := applier.Plan(ctx, set, opts)
		s.Result = plan
		if err != nil {
			return fail(StageApply, err)
		}
		s.Sync = syncOf(plan)
		if manual {
			s.Health = r.rollup(ctx, entry, plannedIDs(plan, set))
			return nil
		}
		if s.Sync == OutOfSync {
			if err := r.gate.Admit(ctx, u, plan); err != nil {
				return fmt.Errorf("%s: %w: %v", ref, ErrGateRefused, err)
			}
		}
	}
	res, err := applier.Apply(ctx, set, opts)
	s.Result = res
	if res != nil {
		s.Inventory = appliedIDs(res)
	}
	if err != nil {
		if res != nil && len(res.Failed()) == 0 && res.WaitErr != nil {
			if res.Health != nil {
				s.Health = res.Health.Status // what the wait found, not the last pass's
			}
			return fail(StageHealth, err)
		}
		return fail(StageApply, err)
	}
	s.Sync, s.LastAppliedRevision = Synced, snap.Revision
	if len(u.Health.Checks) > 0 {
		wo := health.DefaultWaitOptions()
		wo.Timeout = max(time.Until(deadline), time.Second)
		wo.Skip = u.Health.Skip
		if f := r.progress.Health; f != nil {
			wo.Progress = func(p health.Progress) { f(ref, p) }
		}
		if _, err := health.Wait(ctx, entry.cache.View(), r.checker, r.checkIDs(u), wo); err != nil {
			s.Health = r.rollup(ctx, entry, append(s.Inventory, r.checkIDs(u)...))
			return fail(StageHealth, err)
		}
	}
	if res.Health != nil && len(u.Health.Checks) == 0 {
		s.Health = res.Health.Status // apply just waited for exactly these
		return nil
	}
	s.Health = r.rollup(ctx, entry, append(s.Inventory, r.checkIDs(u)...))
	return nil
}

// stepRollouts runs the set's Rollouts through the rollout engine, every
// pass: unlike the steps, its output depends on the cluster and the clock,
// so it is never reused with the render. A plan takes no measurement.
func (r *Reconciler) stepRollouts(ctx context.Context, entry *clusterEntry, u *Unit, set *object.Set, s *Status, plan bool) (*object.Set, error) {
	if r.rollouts == nil {
		return set, nil
	}
	has := false
	for id := range set.All() {
		if id.GroupKind() == rollout.GroupKind {
			has = true
			break
		}
	}
	if !has {
		return set, nil
	}
	now := time.Now
	if r.clock != nil {
		now = r.clock
	}
	out, statuses, err := r.rollouts.Process(ctx, rollout.Input{Set: set, Live: entry.cache, Now: now(), Namespace: cmpOr(u.Destination.TargetNamespace, u.Destination.Namespace), DryRun: plan})
	s.Rollouts = statuses
	return out, err
}

// rendered returns the unit's objects at snap, reusing the last render
// when the revision and every input are the same.
func (r *Reconciler) rendered(ctx context.Context, entry *clusterEntry, u *Unit, st *unitState, s *Status, snap *source.Snapshot) (*object.Set, error) {
	vars, varsKey, err := entry.substitutionVars(ctx, u)
	if err != nil {
		return nil, err
	}
	decryptor, keysKey, err := r.decryptorFor(ctx, entry, u, st)
	if err != nil {
		return nil, err
	}
	key, err := renderKey(snap.Revision, u, varsKey+"/"+keysKey)
	if err != nil {
		return nil, err
	}
	if st.render != nil && st.render.key == key {
		if every := r.reuseFor(u); every == 0 || time.Since(st.render.at) < every {
			return st.render.set, nil
		}
	}
	snap = decrypting(ctx, decryptor, snap)
	set, err := r.renderer.Render(ctx, u, snap)
	if err != nil {
		return nil, err
	}
	if decryptor != nil {
		if set, err = decrypted(ctx, decryptor, snap, set); err != nil {
			return nil, err
		}
	}
	if set, err = r.resolveReferences(ctx, u, set); err != nil {
		return nil, err
	}
	if set, err = substitute(ctx, u, vars, set); err != nil {
		return nil, err
	}
	for _, step := range r.steps {
		if set, err = step.Process(ctx, u, set); err != nil {
			return nil, err
		}
	}
	if err := refuseCiphertext(set); err != nil {
		return nil, err
	}
	if set.Len() == 0 && u.Sync.Prune && !u.Sync.AllowEmpty {
		return nil, ErrEmptyRender
	}
	st.render = &lastRender{key: key, set: set, at: time.Now()}
	s.Rendered = true
	return set, nil
}

// renderKey identifies a render's inputs: the revision, what of the unit
// shapes the objects, and a hash of the substitution variables' values.
func renderKey(revision string, u *Unit, varsKey string) (string, error) {
	inputs, err := json.Marshal(struct {
		Revision   string
		Path       string
		Render     Render
		Substitute Substitute
		Vars       string
		Target     string
	}{revision, u.Path, u.Render, u.Substitute, varsKey, u.Destination.TargetNamespace})
	if err != nil {
		return "", fmt.Errorf("render inputs: %w", err)
	}
	sum := sha256.Sum256(inputs)
	return hex.EncodeToString(sum[:]), nil
}

func syncOf(plan *apply.Result) SyncStatus {
	for _, o := range plan.Objects {
		switch o.Action {
		case apply.Created, apply.Configured, apply.Recreated, apply.Pruned, apply.Failed:
			return OutOfSync
		}
	}
	return Synced
}

// appliedIDs are the ordinary objects of an apply, in order.
func appliedIDs(res *apply.Result) []object.ID {
	var ids []object.ID
	for _, o := range res.Objects {
		if o.Phase == apply.PhaseSync && o.Action != apply.Skipped && o.Action != apply.Failed {
			ids = append(ids, o.ID)
		}
	}
	return ids
}

// checkIDs are the unit's health checks, defaulted to its namespace.
func (r *Reconciler) checkIDs(u *Unit) []object.ID {
	ids := make([]object.ID, len(u.Health.Checks))
	for i, id := range u.Health.Checks {
		if id.Namespace == "" && object.ClassOf(id.GroupKind()) == object.ClassOther {
			id.Namespace = cmpOr(u.Destination.TargetNamespace, u.Destination.Namespace)
		}
		ids[i] = id
	}
	return ids
}

func cmpOr(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// rollup is the worst health of ids, read from the watch cache: no
// request once the kinds are watched. An object not found is Unknown.
func (r *Reconciler) rollup(ctx context.Context, entry *clusterEntry, ids []object.ID) health.Status {
	if len(ids) == 0 {
		return health.Healthy
	}
	return health.Worst(r.objectHealth(ctx, entry, ids))
}

// objectHealth is the health of each of ids, once each, from the watch
// cache.
func (r *Reconciler) objectHealth(ctx context.Context, entry *clusterEntry, ids []object.ID) []health.ObjectResult {
	view := entry.cache.View()
	results := make([]health.ObjectResult, 0, len(ids))
	seen := map[object.ID]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		obj, found, err := view.Get(ctx, id)
		res := health.Result{Status: health.Unknown}
		if err == nil && found {
			res = r.checker.Check(obj)
		}
		results = append(results, health.ObjectResult{ID: id, Result: res})
	}
	return results
}

// plannedIDs are the objects a plan keeps, with the namespaces the
// applier gave them (the rendered set's IDs may have none yet), for the
// health roll-up of a plan.
func plannedIDs(plan *apply.Result, set *object.Set) []object.ID {
	if plan == nil {
		return set.IDs()
	}
	ids := make([]object.ID, 0, len(plan.Objects))
	for _, o := range plan.Objects {
		if o.Action != apply.Pruned {
			ids = append(ids, o.ID)
		}
	}
	return ids
}

// dependenciesReady reports whether every unit u depends on is Ready and,
// by the watch cache now, healthy.
func (r *Reconciler) dependenciesReady(ctx context.Context, u *Unit) error {
	for _, d := range u.DependsOn {
		if d.Namespace == "" {
			d.Namespace = u.Namespace
		}
		ds, ok := r.Status(d)
		switch {
		case !ok:
			return fmt.Errorf("%s: %w: %s has not been reconciled", u.Ref(), ErrDependencyNotReady, d)
		case !ds.Ready():
			return fmt.Errorf("%s: %w: %s is not ready", u.Ref(), ErrDependencyNotReady, d)
		}
		r.mu.Lock()
		dst := r.units[d]
		r.mu.Unlock()
		entry := r.home
		if dst != nil {
			if e := dst.cluster(); e != nil {
				entry = e
			}
		}
		if h := r.rollup(ctx, entry, ds.Inventory); h != health.Healthy {
			return fmt.Errorf("%s: %w: %s is %s", u.Ref(), ErrDependencyNotReady, d, h)
		}
	}
	return nil
}

// applyOptions are the apply settings of a unit.
func applyOptions(u *Unit, remaining time.Duration) apply.Options {
	o := apply.DefaultOptions()
	o.Namespace = cmpOr(u.Destination.TargetNamespace, u.Destination.Namespace)
	o.CreateNamespace = u.Sync.CreateNamespace
	o.Prune = u.Sync.Prune
	o.AllowEmptyPrune = u.Sync.AllowEmpty
	if u.Sync.PropagationPolicy != "" {
		o.PropagationPolicy = u.Sync.PropagationPolicy
	}
	o.Recreate = u.Sync.Recreate
	o.Conflicts = u.Sync.Conflicts
	o.Sharing = u.Sync.Sharing
	o.Wait = u.Health.Wait
	o.WaitSkip = u.Health.Skip
	if remaining > 0 {
		// The wait ends a little before the pass, so that its error (what
		// is not healthy) is what the pass reports, not the deadline.
		o.WaitTimeout = remaining - max(remaining/10, 100*time.Millisecond)
	}
	return o
}

// progressOf hands an apply's progress to the host's Progress.
func (r *Reconciler) progressOf(ref Ref, o *apply.Options) {
	if f := r.progress.Object; f != nil {
		o.Progress = func(e apply.Event) { f(ref, e) }
	}
	if f := r.progress.Health; f != nil {
		o.WaitProgress = func(p health.Progress) { f(ref, p) }
	}
}

// applierFor returns the unit's Applier, building it again when what it
// is built from (owner, cluster, service account, ignore rules) changed.
func (r *Reconciler) applierFor(entry *clusterEntry, st *unitState, u *Unit) (*apply.Applier, error) {
	key, err := json.Marshal(struct {
		Owner        apply.Owner
		Entry        string
		Gen          uint64
		SA           string
		Ignore       []diff.IgnoreRule
		Restrictions *Restrictions
	}{u.Owner(), entry.name, entry.gen, u.Destination.ServiceAccount, u.Ignore, u.Restrictions})
	if err != nil {
		return nil, err
	}
	if st.applier != nil && st.applierKey == string(key) {
		return st.applier, nil
	}
	client := entry.client
	if sa := u.Destination.ServiceAccount; sa != "" {
		if client, err = entry.impersonating(u.Namespace, sa); err != nil {
			return nil, err
		}
	}
	d, err := diff.New(client, diff.WithFieldManager(object.FieldManager), diff.WithDryRun(client),
		diff.WithIgnoreRules(u.Ignore...), diff.WithScheme(r.scheme))
	if err != nil {
		return nil, err
	}
	opts := []apply.Option{apply.WithCache(entry.cache), apply.WithDiffer(d),
		apply.WithHealthChecker(r.checker), apply.WithLogger(r.log.WithValues("unit", u.Ref().String()))}
	if rs := u.Restrictions; rs != nil {
		opts = append(opts, apply.WithPolicy(restrictionPolicy(rs, u.Destination.Cluster)))
	}
	a, err := apply.New(client, u.Owner(), opts...)
	if err != nil {
		return nil, err
	}
	if st.applier != nil {
		st.applier.Close()
	}
	st.applier, st.applierKey = a, string(key)
	st.seen.Lock()
	st.seen.entry = entry
	st.seen.Unlock()
	return a, nil
}

// conclude sets the status's conditions from the pass's outcome.
func (r *Reconciler) conclude(u *Unit, s *Status, prev *Status, err error, mode passMode) {
	set := func(t string, status metav1.ConditionStatus, reason, msg string) {
		s.setCondition(prev, t, status, reason, msg)
	}
	if failure(err) {
		s.Failures++
	} else if err == nil {
		s.Failures = 0
	}
	switch {
	case errors.Is(err, ErrSuspended):
		set(ConditionReconciling, metav1.ConditionFalse, ReasonSuspended, "the unit is suspended")
		return
	case errors.Is(err, ErrDependencyNotReady):
		set(ConditionReady, metav1.ConditionFalse, ReasonDependencyNotReady, oneLine(err))
		set(ConditionReconciling, metav1.ConditionTrue, ReasonDependencyNotReady, oneLine(err))
		s.removeCondition(ConditionStalled)
		return
	case errors.Is(err, ErrGateRefused):
		set(ConditionReady, metav1.ConditionFalse, ReasonGateRefused, oneLine(err))
		set(ConditionReconciling, metav1.ConditionFalse, ReasonGateRefused, oneLine(err))
		return
	case err != nil:
		reason := ReasonFailed
		var se *StageError
		if errors.As(err, &se) {
			switch se.Stage {
			case StageFetch:
				reason = ReasonArtifactFailed
			case StageRender:
				reason = ReasonBuildFailed
			case StageHealth:
				reason = ReasonHealthCheckFailed
			}
		}
		set(ConditionReady, metav1.ConditionFalse, reason, oneLine(err))
		if u.Retry.Limit > 0 && s.Failures > u.Retry.Limit {
			msg := fmt.Sprintf("%d passes failed in a row; retrying stopped until the unit or its source changes", s.Failures)
			set(ConditionStalled, metav1.ConditionTrue, ReasonRetriesExhausted, msg)
			set(ConditionReconciling, metav1.ConditionFalse, ReasonRetriesExhausted, msg)
		} else {
			set(ConditionReconciling, metav1.ConditionTrue, ReasonProgressingRetry, "the pass failed and will be retried")
			s.removeCondition(ConditionStalled)
		}
	case s.Sync == OutOfSync && mode != passForce:
		n := 0
		if s.Result != nil {
			n = s.Result.Count(apply.Created) + s.Result.Count(apply.Configured) + s.Result.Count(apply.Recreated) + s.Result.Count(apply.Pruned)
		}
		set(ConditionReady, metav1.ConditionFalse, ReasonOutOfSync, fmt.Sprintf("%d objects differ from revision %s; a sync applies them", n, s.Revision))
		set(ConditionReconciling, metav1.ConditionFalse, ReasonOutOfSync, "waiting for a sync")
		s.removeCondition(ConditionStalled)
	default:
		msg := "Applied revision: " + s.Revision
		if s.Sync == Synced && s.Result != nil && s.Result.DryRun {
			msg = "In sync with revision: " + s.Revision
		}
		set(ConditionReady, metav1.ConditionTrue, ReasonSucceeded, msg)
		set(ConditionReconciling, metav1.ConditionFalse, ReasonSucceeded, msg)
		s.removeCondition(ConditionStalled)
	}
	if err == nil || errors.As(err, new(*StageError)) {
		switch s.Health {
		case health.Healthy:
			set(ConditionHealthy, metav1.ConditionTrue, ReasonHealthy, "every object is healthy")
		case health.Unknown:
			set(ConditionHealthy, metav1.ConditionUnknown, ReasonProgressing, "health is not known yet")
		default:
			set(ConditionHealthy, metav1.ConditionFalse, ReasonUnhealthy, "the objects are "+string(s.Health))
		}
	}
}

// notify queues the event a transition calls for: one per failure, per
// degradation and per recovery, not one per pass.
func (r *Reconciler) notify(st *unitState, s *Status, err error) {
	if r.notifications == nil {
		return
	}
	var e *Event
	degraded := s.Health == health.Degraded
	switch {
	case failure(err) && !st.notified.failed:
		st.notified.failed = true
		e = &Event{Reason: EventSyncFailed, Message: oneLine(err)}
	case err == nil && degraded && !st.notified.degraded:
		st.notified.degraded = true
		e = &Event{Reason: EventHealthDegraded, Message: "the applied objects are Degraded"}
	case err == nil && !degraded && s.Health != health.Progressing && (st.notified.failed || st.notified.degraded):
		st.notified.failed, st.notified.degraded = false, false
		e = &Event{Reason: EventRecovered, Message: "applied revision " + s.Revision + ", " + string(s.Health)}
	}
	if e == nil {
		return
	}
	e.Unit, e.Revision, e.Time = s.Unit, s.Revision, s.Finished
	select {
	case r.notifications <- *e:
	default:
		r.log.Info("notification dropped: the queue is full", "unit", s.Unit.String(), "reason", string(e.Reason))
	}
}

// deliver sends queued notifications one at a time, each with a deadline,
// so that a hanging endpoint delays notifications but never a pass.
func (r *Reconciler) deliver() {
	defer close(r.notifyDone)
	for e := range r.notifications {
		if r.notifyCtx.Err() != nil {
			continue // closing: drop what is left
		}
		ctx, cancel := context.WithTimeout(r.notifyCtx, r.notifyTimeout)
		if err := r.notifier.Notify(ctx, e); err != nil {
			r.log.Info("notification failed", "unit", e.Unit.String(), "reason", string(e.Reason), "error", err.Error())
		}
		cancel()
	}
}
