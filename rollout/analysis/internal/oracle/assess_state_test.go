package oracle

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	analysisutil "github.com/argoproj/argo-rollouts/utils/analysis"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/converge-dev/converge/rollout/analysis"
)

// counters are a metric's counters after a sequence of measurement
// phases, counted as Rollouts' runMeasurements counts them.
func counters(phases []analysis.Phase) v1alpha1.MetricResult {
	var r v1alpha1.MetricResult
	for _, p := range phases {
		switch p {
		case analysis.PhaseSuccessful:
			r.Successful++
			r.Count++
			r.ConsecutiveError = 0
			r.ConsecutiveSuccess++
		case analysis.PhaseFailed:
			r.Failed++
			r.Count++
			r.ConsecutiveError = 0
			r.ConsecutiveSuccess = 0
		case analysis.PhaseInconclusive:
			r.Inconclusive++
			r.Count++
			r.ConsecutiveError = 0
			r.ConsecutiveSuccess = 0
		case analysis.PhaseError:
			r.Error++
			r.ConsecutiveError++
			r.ConsecutiveSuccess = 0
		}
	}
	return r
}

// TestAssessmentStatesMatchRollouts: a run resumed with any metric
// counters (those of any sequence of phases, including ones a run would
// have ended before) is assessed, stepped or stopped, as Rollouts'
// assessMetricStatus and assessRunStatus assess it, called directly.
func TestAssessmentStatesMatchRollouts(t *testing.T) {
	ctrl, _ := newRolloutsController(t)
	rng := rand.New(rand.NewPCG(15, 3))
	pick := func(c choices[*int32]) *int32 { return c.decode(byte(rng.Uint32())) }
	now := start.Add(time.Hour)
	n, compared := 3000, 0
	if testing.Short() {
		n = 300
	}
	for range n {
		sc := scenario{StopAt: -1}
		for range 1 + rng.IntN(2) {
			m := metricCase{Count: pick(countChoices), FailureLimit: pick(failureChoices), InconclusiveLimit: pick(inconclusiveChoices),
				ConsecutiveErrorLimit: pick(errorChoices), ConsecutiveSuccessLimit: pick(successChoices),
				Interval: []string{"1m", "30s"}[rng.IntN(2)], DryRun: rng.IntN(4) == 0}
			for range 1 + rng.IntN(12) {
				m.Phases = append(m.Phases, phaseChoices.decode(byte(rng.Uint32())))
			}
			sc.Metrics = append(sc.Metrics, m)
		}
		terminating := rng.IntN(3) == 0
		tpl, ar := build(sc, "http://127.0.0.1:1") // nothing is measured
		run, err := analysis.NewRun([]*analysis.Template{tpl}, nil, map[string]analysis.Provider{"web": &scriptProvider{sc: sc, taken: map[string]int{}}})
		if err != nil {
			if analysisutil.ValidateMetrics(ar.Spec.Metrics) == nil && len(sc.stricter()) == 0 {
				t.Fatalf("converge refuses what Rollouts accepts: %v\n%s", err, sc)
			}
			continue
		}

		// The same state on both sides.
		started := metav1.NewTime(start)
		ar.Status = v1alpha1.AnalysisRunStatus{Phase: v1alpha1.AnalysisPhaseRunning, StartedAt: &started}
		ar.Spec.Terminate = terminating
		st := run.Status()
		st.Phase, st.StartedAt = analysis.PhaseRunning, &start
		dryRun := map[string]bool{}
		for i, m := range sc.Metrics {
			res := counters(m.Phases)
			res.Name, res.Phase, res.DryRun = st.Metrics[i].Name, v1alpha1.AnalysisPhaseRunning, m.DryRun
			dryRun[res.Name] = m.DryRun
			ms := st.Metrics[i]
			ms.Phase = analysis.PhaseRunning
			ms.Count, ms.Successful, ms.Failed, ms.Inconclusive, ms.Error = res.Count, res.Successful, res.Failed, res.Inconclusive, res.Error
			ms.ConsecutiveError, ms.ConsecutiveSuccess = res.ConsecutiveError, res.ConsecutiveSuccess
			kept := m.Phases[max(0, len(m.Phases)-analysis.DefaultMeasurementHistoryLimit):]
			for k, p := range kept {
				at := now.Add(-time.Duration(len(kept)-1-k) * time.Second) // the last one now: nothing is due
				msg := ""
				if p == analysis.PhaseError {
					msg = errMessage
				}
				ms.Measurements = append(ms.Measurements, analysis.Measurement{Phase: p, Message: msg, StartedAt: at, FinishedAt: at})
				finished := metav1.NewTime(at)
				res.Measurements = append(res.Measurements, v1alpha1.Measurement{Phase: v1alpha1.AnalysisPhase(p), Message: msg, StartedAt: &finished, FinishedAt: &finished})
			}
			st.Metrics[i] = ms
			ar.Status.MetricResults = append(ar.Status.MetricResults, res)
		}
		require.NoError(t, run.Resume(resumeState(t, run, st)), "%s", sc)

		// Rollouts, directly: each metric, then the run, then the
		// assessment again when a metric ends it.
		wantMetric := map[string]v1alpha1.AnalysisPhase{}
		for i, res := range ar.Status.MetricResults {
			wantMetric[res.Name] = assessMetricStatus(ar.Spec.Metrics[i], res, terminating)
		}
		for range 2 {
			phase, msg := assessRunStatus(ctrl, ar, ar.Spec.Metrics, dryRun)
			if phase != ar.Status.Phase {
				ar.Status.Phase, ar.Status.Message = phase, msg
				if phase.Completed() {
					completed := metav1.NewTime(now)
					ar.Status.CompletedAt = &completed
				}
			}
			if ar.Status.Phase.Completed() || !analysisutil.IsTerminating(ar) {
				break
			}
		}

		if terminating {
			run.Stop(now)
		} else {
			_, err := run.Step(context.Background(), now)
			require.NoError(t, err)
		}
		got := run.Status()
		for i, m := range got.Metrics {
			if string(m.Phase) != string(ar.Status.MetricResults[i].Phase) || (!ar.Status.MetricResults[i].Phase.Completed() && m.Phase != analysis.Phase(wantMetric[m.Name])) {
				t.Fatalf("%s: converge %s, Rollouts %s (assessMetricStatus %s), terminating %v\n%s", m.Name, m.Phase, ar.Status.MetricResults[i].Phase, wantMetric[m.Name], terminating, sc)
			}
			if m.Message != ar.Status.MetricResults[i].Message {
				t.Fatalf("%s message: converge %q, Rollouts %q\n%s", m.Name, m.Message, ar.Status.MetricResults[i].Message, sc)
			}
		}
		if string(got.Phase) != string(ar.Status.Phase) || got.Message != ar.Status.Message {
			t.Fatalf("run: converge %s %q, Rollouts %s %q, terminating %v\n%s", got.Phase, got.Message, ar.Status.Phase, ar.Status.Message, terminating, sc)
		}
		for i, m := range got.Metrics {
			if len(m.Measurements) != len(ar.Status.MetricResults[i].Measurements) {
				t.Fatalf("%s: converge took a measurement that was not due\n%s", m.Name, sc)
			}
		}
		compared++
	}
	t.Logf("%d states compared", compared)
	require.Greater(t, compared, n/10)
}

// resumeState is run's own state with st as its status.
func resumeState(t *testing.T, run *analysis.Run, st analysis.Status) []byte {
	t.Helper()
	data, err := json.Marshal(run)
	require.NoError(t, err)
	var state map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(data, &state))
	status, err := json.Marshal(st)
	require.NoError(t, err)
	state["status"] = status
	out, err := json.Marshal(state)
	require.NoError(t, err)
	return out
}
