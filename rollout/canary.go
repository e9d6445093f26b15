package rollout

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/converge-dev/converge/rollout/analysis"
)

// canary advances a canary rollout. Each step either finishes within the
// pass (the next one then starts) or holds: it waits for the cluster (pods
// to become available, routes to carry a weight) or for the clock.
func (p *pass) canary(ctx context.Context) error {
	c := p.r.Spec.Strategy.Canary
	st := p.st
	R := p.r.Replicas()
	canary := p.desired
	defer func() {
		if c.StableService != "" {
			p.services[c.StableService] = st.Stable.Hash
		}
	}()

	if st.Revision == st.Stable.Hash {
		st.Weight, st.WeightVerified, st.HeaderRoutes, st.CanaryScale = 0, false, nil, nil
		st.Background, st.Analysis, st.Aborted, st.Message = nil, nil, false, ""
		if c.CanaryService != "" {
			p.services[c.CanaryService] = st.Stable.Hash
		}
		p.workloads = append(p.workloads, workloadOut{rev: st.Stable, replicas: R, meta: c.StableMetadata})
		p.route()
		ok, err := p.availableAt(ctx, st.Stable, R)
		if err != nil {
			return err
		}
		if ok {
			p.phase = PhaseHealthy
		} else {
			p.phase, p.message = PhaseProgressing, fmt.Sprintf("waiting for revision %s to be available", st.Stable.Hash)
			p.poll()
		}
		return nil
	}
	if c.CanaryService != "" {
		p.services[c.CanaryService] = canary.Hash
	}

	canaryStatus, err := p.status(ctx, canary)
	if err != nil {
		return err
	}
	cp := &canaryPass{pass: p, c: c, R: R, canary: canary, canaryLive: canaryStatus}
	cp.canaryReplicas = cp.scaleFor(st.Weight)
	cp.stableReplicas = R
	if p.router == nil {
		// The replica ratio holds between steps too: stable keeps giving
		// up what the canary made available.
		cp.stableReplicas = R - min(cp.canaryReplicas, canaryStatus.Available)
	}

	if !st.Aborted {
		if err := cp.background(ctx); err != nil {
			return err
		}
	}
	switch {
	case st.Aborted:
		cp.aborted()
	case st.Paused || p.r.Spec.Paused:
		p.phase, p.message = PhasePaused, cmpOr(st.PauseReason, "spec.paused is true")
	default:
		// Each step runs at most once per pass: len(steps)+1 bounds it.
		for range len(c.Steps) + 1 {
			done, err := cp.stepOnce(ctx)
			if err != nil {
				return err
			}
			if !done || st.Revision == st.Stable.Hash || st.Aborted {
				break
			}
		}
		if st.Aborted {
			cp.aborted()
		}
	}
	if st.Revision == st.Stable.Hash { // promoted in this pass
		if c.CanaryService != "" {
			p.services[c.CanaryService] = st.Stable.Hash
		}
		p.workloads = append(p.workloads, workloadOut{rev: st.Stable, replicas: R, meta: c.StableMetadata})
		p.route()
		p.phase, p.message = PhaseProgressing, "promoted: waiting for the new stable revision"
		p.poll()
		return nil
	}
	p.workloads = append(p.workloads,
		workloadOut{rev: st.Stable, replicas: cp.stableReplicas, meta: c.StableMetadata},
		workloadOut{rev: canary, replicas: cp.canaryReplicas, meta: c.CanaryMetadata})
	p.route()
	if p.phase == "" {
		p.phase = PhaseProgressing
	}
	return nil
}

// route sets the pass's traffic from the state.
func (p *pass) route() {
	if p.router == nil {
		return
	}
	p.traffic = &Traffic{Weight: p.st.Weight, HeaderRoutes: slices.Clone(p.st.HeaderRoutes), Canary: p.st.Revision, Stable: p.st.Stable.Hash}
	if p.st.Revision == p.st.Stable.Hash || p.st.Aborted {
		p.traffic.Weight, p.traffic.HeaderRoutes = 0, nil
	}
}

type canaryPass struct {
	*pass
	c      *Canary
	R      int32
	canary Revision
	// canaryLive is what the canary's workload reported.
	canaryLive WorkloadStatus

	canaryReplicas, stableReplicas int32
}

// scaleFor is the canary's replicas at weight w: a setCanaryScale's
// override, else w percent of the replicas, rounded up.
func (cp *canaryPass) scaleFor(w int32) int32 {
	if sc := cp.st.CanaryScale; sc != nil && cp.router != nil {
		switch {
		case sc.Replicas != nil:
			return min(*sc.Replicas, cp.R)
		case sc.Weight != nil:
			w = *sc.Weight
		}
	}
	return int32((int64(w)*int64(cp.R) + 99) / 100)
}

func (cp *canaryPass) available(n int32) bool { return cp.canaryLive.Runs(n) }

// aborted keeps traffic on stable and the canary up for the abort's
// scale-down delay (until the next revision when the delay is 0).
func (cp *canaryPass) aborted() {
	st := cp.st
	st.Weight, st.HeaderRoutes = 0, nil
	cp.stableReplicas = cp.R
	d := cp.abortDelay()
	switch {
	case d == 0:
		cp.canaryReplicas = cp.canaryLive.Replicas
	case cp.now.Before(st.AbortedAt.Add(d)):
		cp.canaryReplicas = cp.canaryLive.Replicas
		cp.wait(st.AbortedAt.Add(d))
	default:
		cp.canaryReplicas = 0
	}
	cp.phase, cp.message = PhaseDegraded, "RolloutAborted: "+st.Message
}

// background runs the canary's background analysis from its starting
// step; a failed one aborts the rollout, an inconclusive one pauses it.
func (cp *canaryPass) background(ctx context.Context) error {
	a := cp.c.Analysis
	if a == nil {
		return nil
	}
	start := 0
	if a.StartingStep != nil {
		start = int(*a.StartingStep)
	}
	if cp.st.Step < start {
		return nil
	}
	phase, status, err := cp.runAnalysis(ctx, &cp.st.Background, "background", &a.StepAnalysis)
	if err != nil {
		return err
	}
	cp.bg = status
	cp.conclude(phase, status, "background analysis", false)
	return nil
}

// conclude acts on a completed analysis; it reports whether the rollout
// may go on.
func (cp *pass) conclude(phase analysis.Phase, status *analysis.Status, what string, pauseOnInconclusive bool) bool {
	switch phase {
	case analysis.PhaseSuccessful:
		return true
	case analysis.PhaseFailed, analysis.PhaseError:
		cp.abort(fmt.Sprintf("%s %s: %s", what, phase, status.Message))
	case analysis.PhaseInconclusive:
		cp.st.Paused, cp.st.PauseReason = true, fmt.Sprintf("%s Inconclusive: %s", what, status.Message)
	}
	return false
}

// stepOnce works on the current step; done reports that it finished and
// the next one may start in this pass.
func (cp *canaryPass) stepOnce(ctx context.Context) (done bool, err error) {
	st := cp.st
	if st.Step >= len(cp.c.Steps) {
		return cp.promote(), nil
	}
	step := cp.c.Steps[st.Step]
	switch {
	case step.SetWeight != nil:
		return cp.setWeight(ctx, *step.SetWeight)
	case step.Pause != nil:
		d, _ := step.Pause.duration()
		if d == 0 {
			cp.phase, cp.message = PhasePaused, fmt.Sprintf("CanaryPauseStep: step %d waits for promote", st.Step)
			return false, nil
		}
		if end := st.StepSince.Add(d); cp.now.Before(end) {
			cp.phase, cp.message = PhasePaused, fmt.Sprintf("CanaryPauseStep: step %d, %s left", st.Step, end.Sub(cp.now).Round(time.Second))
			cp.wait(end)
			return false, nil
		}
		cp.advance()
		return true, nil
	case step.Analysis != nil:
		phase, status, err := cp.runAnalysis(ctx, &st.Analysis, fmt.Sprintf("step %d", st.Step), step.Analysis)
		if err != nil {
			return false, err
		}
		cp.analysis = status
		if phase == "" {
			cp.message = fmt.Sprintf("step %d: analysis running", st.Step)
			return false, nil
		}
		if cp.conclude(phase, status, fmt.Sprintf("step %d analysis", st.Step), true) {
			cp.advance()
			return true, nil
		}
		return false, nil
	case step.SetCanaryScale != nil:
		sc := *step.SetCanaryScale
		if sc.MatchTrafficWeight {
			st.CanaryScale = nil
		} else {
			st.CanaryScale = &sc
		}
		need := cp.scaleFor(st.Weight)
		cp.canaryReplicas = need
		if !cp.available(need) {
			return cp.waitForCanary(need)
		}
		cp.advance()
		return true, nil
	case step.SetHeaderRoute != nil:
		return cp.setHeaderRoute(ctx, *step.SetHeaderRoute)
	}
	return false, fmt.Errorf("step %d does nothing", st.Step)
}

// waitForCanary holds until the canary runs need available pods, or
// aborts once the progress deadline passed.
func (cp *canaryPass) waitForCanary(need int32) (bool, error) {
	if !cp.deadline() {
		cp.message = fmt.Sprintf("step %d: waiting for %d canary pods to be available (%d are)", cp.st.Step, need, cp.canaryLive.Available)
		cp.poll()
	}
	return false, nil
}

func (cp *canaryPass) setWeight(ctx context.Context, w int32) (bool, error) {
	st := cp.st
	need := cp.scaleFor(w)
	if cp.router == nil {
		// The split is the ratio of replicas: the canary scales up first
		// and the stable revision gives up only what became available,
		// so the available pods never drop below the replicas.
		need = int32((int64(w)*int64(cp.R) + 99) / 100)
		cp.canaryReplicas = need
		cp.stableReplicas = cp.R - min(need, cp.canaryLive.Available)
		if !cp.available(need) {
			return cp.waitForCanary(need)
		}
		stable, err := cp.status(ctx, st.Stable)
		if err != nil {
			return false, err
		}
		if stable.Found && stable.Replicas > cp.R-need {
			cp.poll()
			return false, nil // the stable scale-down is applied with this pass
		}
		st.Weight = w
		cp.advance()
		return true, nil
	}
	cp.canaryReplicas = max(need, cp.scaleFor(st.Weight))
	if st.Weight != w {
		if !cp.available(need) {
			return cp.waitForCanary(need)
		}
		st.Weight, st.WeightVerified = w, false
		cp.message = fmt.Sprintf("step %d: weight %d set", st.Step, w)
		cp.poll()
		return false, nil // the routes carry it once this pass is applied
	}
	if !st.WeightVerified {
		ok, err := cp.verify(ctx)
		if err != nil || !ok {
			return false, err
		}
	}
	cp.canaryReplicas = need
	cp.advance()
	return true, nil
}

// verify asks the router whether the live routes carry the state's
// traffic; a route not verified within the progress deadline aborts.
func (cp *canaryPass) verify(ctx context.Context) (bool, error) {
	t := Traffic{Weight: cp.st.Weight, HeaderRoutes: cp.st.HeaderRoutes, Canary: cp.st.Revision, Stable: cp.st.Stable.Hash}
	ok, err := cp.router.Verify(ctx, cp.pass.live, cp.r, t)
	if err != nil {
		return false, err
	}
	if !ok {
		if !cp.deadline() {
			cp.message = fmt.Sprintf("step %d: waiting for the routes to carry weight %d", cp.st.Step, cp.st.Weight)
			cp.poll()
		}
		return false, nil
	}
	cp.st.WeightVerified = true
	return true, nil
}

func (cp *canaryPass) setHeaderRoute(ctx context.Context, hr SetHeaderRoute) (bool, error) {
	st := cp.st
	want := slices.DeleteFunc(slices.Clone(st.HeaderRoutes), func(h HeaderRoute) bool { return h.Name == hr.Name })
	if len(hr.Match) > 0 {
		want = append(want, HeaderRoute{Name: hr.Name, Match: hr.Match})
	}
	if !slices.EqualFunc(want, st.HeaderRoutes, func(a, b HeaderRoute) bool {
		return a.Name == b.Name && slices.Equal(a.Match, b.Match)
	}) {
		st.HeaderRoutes, st.WeightVerified = want, false
		cp.poll()
		return false, nil
	}
	if !st.WeightVerified {
		ok, err := cp.verify(ctx)
		if err != nil || !ok {
			return false, err
		}
	}
	cp.advance()
	return true, nil
}

// promote makes the canary the stable revision once it runs every
// replica: the stable Service then selects it and the canary's weight
// goes back to 0, and the old stable revision is scaled down after the
// scale-down delay.
func (cp *canaryPass) promote() bool {
	st := cp.st
	cp.canaryReplicas = cp.R
	if cp.router == nil {
		cp.stableReplicas = cp.R - min(cp.R, cp.canaryLive.Available)
	}
	if !cp.available(cp.R) {
		_, _ = cp.waitForCanary(cp.R)
		return false
	}
	old := st.Stable
	st.Stable = cp.canary
	st.Weight, st.WeightVerified, st.HeaderRoutes, st.CanaryScale = 0, false, nil, nil
	st.Analysis, st.Background = nil, nil
	if cp.router != nil {
		cp.retire(old, cp.R, delay(cp.c.ScaleDownDelaySeconds, 30*time.Second))
	}
	return true
}

func cmpOr(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
