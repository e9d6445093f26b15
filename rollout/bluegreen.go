package rollout

import (
	"context"
	"fmt"
	"time"

	"github.com/converge-dev/converge/rollout/analysis"
)

// The blue-green stages, kept in State.Step.
const (
	blueGreenPreview   = 0 // the new revision runs behind the preview Service
	blueGreenPromoting = 1 // it scales to every replica before the switch
)

// blueGreen advances a blue-green rollout: the new revision comes up
// behind the preview Service, its pre-promotion analysis passes, it is
// promoted (by itself, or by `promote`), the active Service switches to
// it, its post-promotion analysis passes, and the old revision is scaled
// down after the delay. A failed analysis, or an abort, leaves (or puts
// back) the active Service on the old revision.
func (p *pass) blueGreen(ctx context.Context) error {
	b := p.r.Spec.Strategy.BlueGreen
	st := p.st
	R := p.r.Replicas()
	preview := b.PreviewService

	if st.Revision == st.Stable.Hash && st.Previous == nil {
		st.Analysis, st.Aborted, st.Message, st.Promote, st.PromoteFull, st.AvailableSince = nil, false, "", false, false, time.Time{}
		p.services[b.ActiveService] = st.Stable.Hash
		if preview != "" {
			p.services[preview] = st.Stable.Hash
		}
		p.workloads = append(p.workloads, workloadOut{rev: st.Stable, replicas: R, meta: b.ActiveMetadata})
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

	if st.Previous != nil && !st.Aborted {
		return p.postPromotion(ctx, b, R)
	}

	fresh := p.desired
	live, err := p.status(ctx, fresh)
	if err != nil {
		return err
	}
	previewCount := R
	if b.PreviewReplicaCount != nil {
		previewCount = min(*b.PreviewReplicaCount, R)
	}
	want := previewCount
	if st.Step >= blueGreenPromoting {
		want = R
	}
	p.services[b.ActiveService] = st.Stable.Hash
	if preview != "" {
		p.services[preview] = fresh.Hash
	}
	emit := func() {
		p.workloads = append(p.workloads,
			workloadOut{rev: st.Stable, replicas: R, meta: b.ActiveMetadata},
			workloadOut{rev: fresh, replicas: want, meta: b.PreviewMetadata})
	}

	if st.Aborted {
		d := p.abortDelay()
		want = live.Replicas
		if d > 0 && !p.now.Before(st.AbortedAt.Add(d)) {
			want = 0
		} else if d > 0 {
			p.wait(st.AbortedAt.Add(d))
		}
		emit()
		p.phase, p.message = PhaseDegraded, "RolloutAborted: "+st.Message
		return nil
	}
	defer emit()
	if st.Paused || p.r.Spec.Paused {
		p.phase, p.message = PhasePaused, cmpOr(st.PauseReason, "spec.paused is true")
		return nil
	}
	p.phase = PhaseProgressing
	if st.Step == blueGreenPreview {
		if !live.Runs(previewCount) {
			if !p.deadline() {
				p.message = fmt.Sprintf("waiting for %d preview pods to be available (%d are)", previewCount, live.Available)
				p.poll()
			} else {
				p.phase, p.message, want = PhaseDegraded, "RolloutAborted: "+st.Message, live.Replicas
			}
			return nil
		}
		if st.AvailableSince.IsZero() {
			st.AvailableSince = p.now
		}
		if b.PrePromotionAnalysis != nil && !st.PromoteFull {
			phase, status, err := p.runAnalysis(ctx, &st.Analysis, "prePromotion", b.PrePromotionAnalysis)
			if err != nil {
				return err
			}
			p.analysis = status
			if phase == "" {
				p.message = "pre-promotion analysis running"
				return nil
			}
			if !p.conclude(phase, status, "pre-promotion analysis", true) {
				if st.Aborted {
					p.phase, p.message, want = PhaseDegraded, "RolloutAborted: "+st.Message, live.Replicas
				} else {
					p.phase, p.message = PhasePaused, st.PauseReason
				}
				return nil
			}
		}
		auto := b.AutoPromotionEnabled == nil || *b.AutoPromotionEnabled
		if !st.Promote {
			if !auto {
				p.phase, p.message = PhasePaused, "BlueGreenPause: waiting for promote"
				return nil
			}
			if at := st.AvailableSince.Add(time.Duration(b.AutoPromotionSeconds) * time.Second); p.now.Before(at) {
				p.phase, p.message = PhasePaused, fmt.Sprintf("BlueGreenPause: promoting in %s", at.Sub(p.now).Round(time.Second))
				p.wait(at)
				return nil
			}
		}
		st.Step, st.StepSince, want = blueGreenPromoting, p.now, R
	}
	if !live.Runs(R) {
		if !p.deadline() {
			p.message = fmt.Sprintf("waiting for %d pods of revision %s to be available (%d are)", R, fresh.Hash, live.Available)
			p.poll()
		} else {
			p.phase, p.message, want = PhaseDegraded, "RolloutAborted: "+st.Message, live.Replicas
		}
		return nil
	}
	// The switch: the active Service selects the new revision; the old
	// one stays up until the post-promotion analysis passes and the
	// scale-down delay ends.
	old := st.Stable
	st.Stable, st.Previous = fresh, &old
	st.Analysis, st.Promote, st.PromoteFull, st.StepSince = nil, false, false, p.now
	p.services[b.ActiveService] = fresh.Hash
	p.message = "active Service switched to revision " + fresh.Hash
	if b.PostPromotionAnalysis == nil {
		p.finish(b, R)
	}
	p.poll()
	return nil
}

// postPromotion runs the post-promotion analysis; its failure switches
// the active Service back.
func (p *pass) postPromotion(ctx context.Context, b *BlueGreen, R int32) error {
	st := p.st
	p.services[b.ActiveService] = st.Stable.Hash
	if b.PreviewService != "" {
		p.services[b.PreviewService] = st.Stable.Hash
	}
	old := *st.Previous
	p.workloads = append(p.workloads,
		workloadOut{rev: st.Stable, replicas: R, meta: b.ActiveMetadata},
		workloadOut{rev: old, replicas: R, meta: b.ActiveMetadata})
	p.phase = PhaseProgressing
	if st.Paused || p.r.Spec.Paused {
		p.phase, p.message = PhasePaused, cmpOr(st.PauseReason, "spec.paused is true")
		return nil
	}
	a := b.PostPromotionAnalysis
	if a == nil || st.PromoteFull {
		p.finish(b, R)
		return nil
	}
	phase, status, err := p.runAnalysis(ctx, &st.Analysis, "postPromotion", a)
	if err != nil {
		return err
	}
	p.analysis = status
	switch {
	case phase == "":
		p.message = "post-promotion analysis running"
	case phase == analysis.PhaseSuccessful:
		p.finish(b, R)
	case !p.conclude(phase, status, "post-promotion analysis", true) && st.Aborted:
		// abort put Stable back on the old revision.
		p.services[b.ActiveService] = st.Stable.Hash
		if b.PreviewService != "" {
			p.services[b.PreviewService] = st.Revision
		}
		p.phase, p.message = PhaseDegraded, "RolloutAborted: "+st.Message
	default:
		p.phase, p.message = PhasePaused, st.PauseReason
	}
	return nil
}

// finish ends a blue-green rollout: the old revision goes after the
// scale-down delay.
func (p *pass) finish(b *BlueGreen, R int32) {
	if p.st.Previous != nil {
		p.retire(*p.st.Previous, R, delay(b.ScaleDownDelaySeconds, 30*time.Second))
		p.st.Previous = nil
	}
	p.st.Analysis, p.st.AvailableSince = nil, time.Time{}
	p.phase = PhaseProgressing
}
