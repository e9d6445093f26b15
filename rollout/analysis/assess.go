package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// phaseOrder is Argo Rollouts' analysisStatusOrder, best to worst.
var phaseOrder = []Phase{PhaseSuccessful, PhaseRunning, PhasePending, PhaseInconclusive, PhaseError, PhaseFailed}

// isWorse reports whether next is worse than current, as Rollouts' IsWorse.
func isWorse(current, next Phase) bool {
	ci, ni := 0, 0
	for i, p := range phaseOrder {
		if current == p {
			ci = i
		}
		if next == p {
			ni = i
		}
	}
	return ni > ci
}

// isTerminating is Rollouts' IsTerminating: stopped, or a metric that is
// not a dry-run ended Failed, Error or Inconclusive.
func (r *Run) isTerminating() bool {
	if r.terminated {
		return true
	}
	for i, m := range r.metrics {
		if m.dryRun {
			continue
		}
		switch r.status.Metrics[i].Phase {
		case PhaseFailed, PhaseError, PhaseInconclusive:
			return true
		}
	}
	return false
}

// due is Rollouts' generateMetricTasks for one metric, with "at or
// after" for the due time, since the host's clock is exact.
func (r *Run) due(i int, now time.Time) bool {
	m, res := r.metrics[i], &r.status.Metrics[i]
	if res.Phase.Completed() {
		return false
	}
	if len(res.Measurements) == 0 {
		return !m.hasInitialDelay || !now.Before(r.status.StartedAt.Add(m.initialDelay))
	}
	if m.count > 0 && res.Count >= m.count {
		return false
	}
	last := res.Measurements[len(res.Measurements)-1]
	interval := ErrorRetryInterval
	if last.Phase != PhaseError && m.hasInterval {
		interval = m.interval
	}
	return !now.Before(last.FinishedAt.Add(interval))
}

// next is Rollouts' calculateNextReconcileTime.
func (r *Run) next(now time.Time) time.Time {
	var at time.Time
	earliest := func(t time.Time) {
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	for i, m := range r.metrics {
		res := &r.status.Metrics[i]
		if res.Phase.Completed() {
			continue
		}
		if len(res.Measurements) == 0 {
			if m.hasInitialDelay {
				earliest(r.status.StartedAt.Add(m.initialDelay))
			} else {
				earliest(now) // interrupted before its first measurement
			}
			continue
		}
		if m.count > 0 && res.Count >= m.count {
			continue
		}
		last := res.Measurements[len(res.Measurements)-1]
		switch {
		case last.Phase == PhaseError:
			earliest(last.FinishedAt.Add(ErrorRetryInterval))
		case m.hasInterval:
			earliest(last.FinishedAt.Add(m.interval))
		}
	}
	return at
}

// measure takes one measurement. It returns an error only when ctx ended.
func (r *Run) measure(ctx context.Context, m *metricDef, now time.Time) (Measurement, error) {
	ms := Measurement{StartedAt: now, FinishedAt: now}
	spec, err := substituteValue(m.rawSpec, r.values, "provider."+m.Provider.Kind)
	if err != nil {
		ms.Phase, ms.Message = PhaseError, r.bound(err.Error())
		return ms, nil
	}
	specMap, _ := spec.(map[string]any)
	res, err := m.provider.Measure(ctx, Query{Metric: m.Name, Kind: m.Provider.Kind, Spec: specMap})
	if err != nil {
		if ctx.Err() != nil {
			return ms, ctx.Err()
		}
		ms.Phase, ms.Message = PhaseError, r.bound(err.Error())
		return ms, nil
	}
	ms.Value = r.bound(res.Text)
	if res.Text == "" {
		ms.Value = r.bound(formatValue(res.Value))
	}
	for k, v := range res.Metadata {
		if len(ms.Metadata) >= 32 {
			break
		}
		if ms.Metadata == nil {
			ms.Metadata = map[string]string{}
		}
		ms.Metadata[r.bound(k)] = r.bound(v)
	}
	switch res.Phase {
	case "":
		v, err := m.cond.Decide(ctx, res.Value)
		ms.Phase, ms.Message = v.Phase, r.bound(v.Message)
		if err != nil {
			ms.Phase, ms.Message = PhaseError, r.bound(err.Error())
		}
	case PhaseSuccessful, PhaseFailed, PhaseInconclusive, PhaseError:
		ms.Phase = res.Phase
	default:
		ms.Phase, ms.Message = PhaseError, r.bound(fmt.Sprintf("provider returned phase %q, not a completed phase", truncate(string(res.Phase), 64)))
	}
	return ms, nil
}

// bound masks secrets, then truncates.
func (r *Run) bound(s string) string { return truncate(mask(s, r.secrets), maxMessageBytes) }

func formatValue(v any) string {
	v = valueFromPointer(v)
	if v == nil {
		return ""
	}
	if n := countElements(v, 1000); n > 1000 {
		return fmt.Sprintf("(%T with more than 1000 values)", v)
	}
	if b, err := json.Marshal(v); err == nil {
		return string(b)
	}
	return fmt.Sprint(v)
}

// record adds a finished measurement to its metric, counting it as
// Rollouts' runMeasurements does.
func (r *Run) record(i int, ms Measurement) {
	res := &r.status.Metrics[i]
	if len(res.Measurements) == 0 && !res.Phase.Completed() {
		res.Phase = PhaseRunning
	}
	switch ms.Phase {
	case PhaseSuccessful:
		res.Successful++
		res.Count++
		res.ConsecutiveError = 0
		res.ConsecutiveSuccess++
	case PhaseFailed:
		res.Failed++
		res.Count++
		res.ConsecutiveError = 0
		res.ConsecutiveSuccess = 0
	case PhaseInconclusive:
		res.Inconclusive++
		res.Count++
		res.ConsecutiveError = 0
		res.ConsecutiveSuccess = 0
	case PhaseError:
		res.Error++
		res.ConsecutiveError++
		res.ConsecutiveSuccess = 0
	}
	res.Measurements = append(res.Measurements, ms)
}

// gc trims each metric's measurements to its retention, as Rollouts'
// garbageCollectMeasurements. The counters keep counting.
func (r *Run) gc() {
	for i, m := range r.metrics {
		res := &r.status.Metrics[i]
		if n := len(res.Measurements); n > m.retention {
			res.Measurements = append([]Measurement(nil), res.Measurements[n-m.retention:]...)
		}
	}
}

// failureInconclusiveOrError is Rollouts' assessMetricFailureInconclusiveOrError:
// the error limit outranks the inconclusive limit, which outranks the
// failure limit.
func failureInconclusiveOrError(m *metricDef, res *MetricStatus) (Phase, string) {
	var phase Phase
	var msg string
	if m.failure >= 0 && res.Failed > m.failure {
		phase, msg = PhaseFailed, fmt.Sprintf("failed (%d) > failureLimit (%d)", res.Failed, m.failure)
	}
	if res.Inconclusive > m.inconclusive {
		phase, msg = PhaseInconclusive, fmt.Sprintf("inconclusive (%d) > inconclusiveLimit (%d)", res.Inconclusive, m.inconclusive)
	}
	if res.ConsecutiveError > m.consecutiveError {
		phase, msg = PhaseError, fmt.Sprintf("consecutiveErrors (%d) > consecutiveErrorLimit (%d)", res.ConsecutiveError, m.consecutiveError)
	}
	return phase, msg
}

// assessMetric is Rollouts' assessMetricStatus.
func assessMetric(m *metricDef, res *MetricStatus, terminating bool) Phase {
	if res.Phase.Completed() {
		return res.Phase
	}
	if len(res.Measurements) == 0 {
		if terminating {
			return PhaseSuccessful
		}
		return PhasePending
	}
	if phase, _ := failureInconclusiveOrError(m, res); phase != "" {
		return phase
	}
	if m.consecutiveSuccess > 0 && res.ConsecutiveSuccess >= m.consecutiveSuccess {
		return PhaseSuccessful
	}
	if m.count > 0 && res.Count >= m.count {
		failureApplicable := m.failure >= 0
		successApplicable := m.consecutiveSuccess > 0
		switch {
		case failureApplicable && successApplicable:
			return PhaseInconclusive
		case successApplicable:
			return PhaseFailed
		}
		return PhaseSuccessful
	}
	if terminating {
		return PhaseSuccessful
	}
	return PhaseRunning
}

// assess is Rollouts' assessRunStatus and the phase update after it.
func (r *Run) assess(now time.Time, terminating bool) {
	var worst Phase
	var worstMsg string
	if r.terminated {
		worstMsg = "Run Terminated"
	}
	everythingCompleted := true
	for i, m := range r.metrics {
		res := &r.status.Metrics[i]
		if len(res.Measurements) == 0 {
			// No result yet: a metric waiting for its initialDelay.
			everythingCompleted = false
			continue
		}
		status := assessMetric(m, res, terminating)
		if res.Phase != status {
			res.Message = res.Measurements[len(res.Measurements)-1].Message
			res.Phase = status
		}
		if !status.Completed() {
			everythingCompleted = false
			continue
		}
		_, msg := failureInconclusiveOrError(m, res)
		if m.dryRun {
			if worst == "" {
				worst = PhaseSuccessful
			}
			if msg != "" {
				res.Message = fmt.Sprintf("Metric assessed %s due to %s", status, msg)
			}
			continue
		}
		if worst == "" || isWorse(worst, status) {
			worst = status
			if msg != "" {
				worstMsg = fmt.Sprintf("Metric \"%s\" assessed %s due to %s", m.Name, status, msg)
				if res.Message != "" {
					worstMsg += fmt.Sprintf(": \"Error Message: %s\"", res.Message)
				}
			}
		}
	}
	worstMsg = strings.TrimSpace(worstMsg)
	var phase Phase
	switch {
	case terminating && worst == "":
		phase = PhaseSuccessful
	case terminating:
		phase = worst
	case !everythingCompleted || worst == "":
		phase, worstMsg = PhaseRunning, ""
	default:
		phase = worst
	}
	if phase != r.status.Phase {
		r.status.Phase, r.status.Message = phase, r.bound(worstMsg)
		if phase.Completed() && r.status.CompletedAt == nil {
			t := now
			r.status.CompletedAt = &t
		}
	}
}
