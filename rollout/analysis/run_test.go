package analysis

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The assessment rules of Argo Rollouts' analysis controller, one metric
// at a time.
func TestRunAssessment(t *testing.T) {
	cases := map[string]struct {
		reason      string
		fields      string
		replies     []reply
		want        Phase
		taken       int
		message     string
		wantCounter func(t *testing.T, m MetricStatus)
	}{
		"failure limit reached after failureLimit+1 failures": {
			fields:  "count: 5\n    interval: 10s\n    failureLimit: 2\n    successCondition: result[0] >= 0.95",
			replies: []reply{ok(0.5)},
			want:    PhaseFailed, taken: 3,
			message: `Metric "m" assessed Failed due to failed (3) > failureLimit (2)`,
		},
		"failures within the limit, count reached": {
			fields:  "count: 5\n    interval: 10s\n    failureLimit: 2\n    successCondition: result[0] >= 0.95",
			replies: []reply{ok(0.5), ok(0.5), ok(1), ok(1), ok(1)},
			want:    PhaseSuccessful, taken: 5,
		},
		"default failureLimit is 0": {
			fields:  "count: 3\n    interval: 10s\n    successCondition: result[0] >= 0.95",
			replies: []reply{ok(0.5)},
			want:    PhaseFailed, taken: 1,
		},
		"count reached Successful": {
			fields:  "count: 4\n    interval: 10s\n    successCondition: result[0] >= 0.95",
			replies: []reply{ok(0.99)},
			want:    PhaseSuccessful, taken: 4,
			wantCounter: func(t *testing.T, m MetricStatus) {
				assert.Equal(t, int32(4), m.Count)
				assert.Equal(t, int32(4), m.Successful)
				assert.Equal(t, int32(4), m.ConsecutiveSuccess)
			},
		},
		"no count and no interval is one measurement": {
			fields:  "successCondition: result[0] >= 0.95",
			replies: []reply{ok(0.99)},
			want:    PhaseSuccessful, taken: 1,
		},
		"consecutiveSuccessLimit reached early": {
			fields:  "count: 10\n    interval: 10s\n    failureLimit: 3\n    consecutiveSuccessLimit: 2\n    successCondition: result[0] >= 0.95",
			replies: []reply{ok(0.5), ok(1), ok(1)},
			want:    PhaseSuccessful, taken: 3,
		},
		"failureLimit -1: consecutiveSuccessLimit decides": {
			fields:  "count: 5\n    interval: 10s\n    failureLimit: -1\n    consecutiveSuccessLimit: 2\n    successCondition: result[0] >= 0.95",
			replies: []reply{ok(0.5), ok(1), ok(0.5), ok(1), ok(1)},
			want:    PhaseSuccessful, taken: 5,
		},
		"count reached without consecutive successes and a failureLimit: Inconclusive": {
			fields:  "count: 4\n    interval: 10s\n    failureLimit: 1\n    consecutiveSuccessLimit: 3\n    successCondition: result[0] >= 0.95",
			replies: []reply{ok(1), ok(0.5), ok(1), ok(1)},
			want:    PhaseInconclusive, taken: 4,
		},
		"count reached without consecutive successes, failureLimit -1: Failed": {
			fields:  "count: 3\n    interval: 10s\n    failureLimit: -1\n    consecutiveSuccessLimit: 2\n    successCondition: result[0] >= 0.95",
			replies: []reply{ok(1), ok(0.5), ok(1)},
			want:    PhaseFailed, taken: 3,
		},
		"inconclusive limit": {
			fields:  "count: 5\n    interval: 10s\n    inconclusiveLimit: 1\n    successCondition: result[0] > 0.9\n    failureCondition: result[0] < 0.1",
			replies: []reply{ok(0.5)},
			want:    PhaseInconclusive, taken: 2,
			message: `Metric "m" assessed Inconclusive due to inconclusive (2) > inconclusiveLimit (1)`,
		},
		"consecutive errors end the run as Error (default limit 4)": {
			fields:  "count: 5\n    interval: 1m\n    successCondition: result[0] >= 0.95",
			replies: []reply{fail("connection refused")},
			want:    PhaseError, taken: 5,
			message: `Metric "m" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4): "Error Message: connection refused"`,
			wantCounter: func(t *testing.T, m MetricStatus) {
				assert.Equal(t, int32(0), m.Count, "errors do not count")
				assert.Equal(t, int32(5), m.Error)
			},
		},
		"errors between successes reset the run of errors": {
			fields:  "count: 3\n    interval: 10s\n    consecutiveErrorLimit: 1\n    successCondition: result[0] >= 0.95",
			replies: []reply{fail("x"), ok(1), fail("x"), ok(1), ok(1)},
			want:    PhaseSuccessful, taken: 5,
			wantCounter: func(t *testing.T, m MetricStatus) {
				assert.Equal(t, int32(2), m.Error)
				assert.Equal(t, int32(3), m.Count)
			},
		},
		"consecutiveErrorLimit 0": {
			fields:  "count: 3\n    interval: 10s\n    consecutiveErrorLimit: 0",
			replies: []reply{fail("boom")},
			want:    PhaseError, taken: 1,
		},
		"condition error is an Error measurement": {
			fields:  "count: 2\n    interval: 10s\n    consecutiveErrorLimit: 0\n    successCondition: result[0] >= 0.95",
			replies: []reply{{v: []float64{}}},
			want:    PhaseError, taken: 1,
		},
		"string result is never Successful": {
			fields:  "successCondition: result[0] >= 0.95\n    consecutiveErrorLimit: 0",
			replies: []reply{{v: "<html>"}},
			want:    PhaseError, taken: 1,
		},
		"+Inf sample is Inconclusive, not Successful": {
			reason:  "Rollouts: Successful (+Inf >= 0.95); stricter here",
			fields:  "count: 3\n    interval: 10s\n    successCondition: result[0] >= 0.95",
			replies: []reply{ok(1), {v: []float64{math.Inf(1)}}},
			want:    PhaseInconclusive, taken: 2,
			message: `Metric "m" assessed Inconclusive due to inconclusive (1) > inconclusiveLimit (0): "Error Message: result[0] is +Inf, not a finite number: Inconclusive, not Successful, since the condition does not check isNaN or isInf"`,
			wantCounter: func(t *testing.T, m MetricStatus) {
				assert.Equal(t, int32(1), m.Inconclusive)
				assert.Contains(t, m.Measurements[1].Message, "result[0] is +Inf")
				assert.Equal(t, "[1]", m.Measurements[0].Value)
			},
		},
		"NaN error rate with a failureCondition is Inconclusive": {
			reason:  "no traffic: 0/0; Rollouts: Successful",
			fields:  "count: 3\n    interval: 10s\n    inconclusiveLimit: 1\n    failureCondition: result[0] > 0.05",
			replies: []reply{{v: []float64{math.NaN()}}},
			want:    PhaseInconclusive, taken: 2,
		},
		"NaN handled with isNaN keeps Rollouts' meaning": {
			fields:  "count: 2\n    interval: 10s\n    successCondition: isNaN(result[0]) || result[0] >= 0.95",
			replies: []reply{{v: []float64{math.NaN()}}},
			want:    PhaseSuccessful, taken: 2,
		},
		"no conditions: Successful": {
			fields:  "count: 2\n    interval: 10s",
			replies: []reply{ok(0)},
			want:    PhaseSuccessful, taken: 2,
		},
		"provider's own verdict": {
			fields:  "successCondition: result[0] >= 0.95",
			replies: []reply{{v: []float64{1}, phase: PhaseFailed}},
			want:    PhaseFailed, taken: 1,
		},
		"provider's bogus phase is an Error": {
			fields:  "consecutiveErrorLimit: 0",
			replies: []reply{{phase: PhaseRunning}},
			want:    PhaseError, taken: 1,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ts := load(t, "  metrics:\n  - name: m\n    "+tc.fields+"\n    provider: {prometheus: {query: q}}\n")
			p := &script{replies: tc.replies}
			r, err := NewRun(ts, nil, map[string]Provider{"prometheus": p})
			require.NoError(t, err)
			drive(t, r, t0, nil)
			assert.Equal(t, tc.want, r.Phase(), tc.reason)
			assert.Len(t, p.queries, tc.taken)
			st := r.Status()
			assert.Equal(t, tc.want, st.Metrics[0].Phase)
			if tc.message != "" {
				assert.Equal(t, tc.message, st.Message)
			}
			if tc.wantCounter != nil {
				tc.wantCounter(t, st.Metrics[0])
			}
			require.NotNil(t, st.CompletedAt)
		})
	}
}

func TestRunTiming(t *testing.T) {
	cases := map[string]struct {
		fields  string
		replies []reply
		want    []time.Duration // when measurements are taken, from the start
	}{
		"interval":                               {"count: 3\n    interval: 30s", []reply{ok(1)}, []time.Duration{0, 30 * time.Second, 60 * time.Second}},
		"initialDelay":                           {"count: 2\n    interval: 30s\n    initialDelay: 1m", []reply{ok(1)}, []time.Duration{time.Minute, 90 * time.Second}},
		"error retry after 10s":                  {"count: 2\n    interval: 5m", []reply{ok(1), fail("x"), ok(1)}, []time.Duration{0, 5 * time.Minute, 5*time.Minute + 10*time.Second}},
		"no interval retries an error after 10s": {"consecutiveErrorLimit: 2", []reply{fail("x"), ok(1)}, []time.Duration{0, 10 * time.Second}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ts := load(t, "  metrics:\n  - name: m\n    "+tc.fields+"\n    provider: {prometheus: {query: q}}\n")
			var clock time.Time
			p := &script{replies: tc.replies, clock: &clock}
			r, err := NewRun(ts, nil, map[string]Provider{"prometheus": p})
			require.NoError(t, err)
			drive(t, r, t0, &clock)
			var got []time.Duration
			for _, at := range p.times {
				got = append(got, at.Sub(t0))
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, PhaseSuccessful, r.Phase())
		})
	}
}

func TestRunNotDueTakesNothing(t *testing.T) {
	ts := load(t, "  metrics:\n  - name: m\n    count: 3\n    interval: 30s\n    initialDelay: 10s\n    provider: {prometheus: {}}\n")
	p := &script{replies: []reply{ok(1)}}
	r, err := NewRun(ts, nil, map[string]Provider{"prometheus": p})
	require.NoError(t, err)
	ctx := context.Background()
	next, err := r.Step(ctx, t0)
	require.NoError(t, err)
	assert.Equal(t, t0.Add(10*time.Second), next)
	assert.Equal(t, PhaseRunning, r.Phase())
	assert.Equal(t, PhasePending, r.Status().Metrics[0].Phase)
	next, err = r.Step(ctx, t0.Add(9*time.Second))
	require.NoError(t, err)
	assert.Equal(t, t0.Add(10*time.Second), next)
	assert.Empty(t, p.queries)
	next, err = r.Step(ctx, t0.Add(10*time.Second))
	require.NoError(t, err)
	assert.Len(t, p.queries, 1)
	assert.Equal(t, t0.Add(40*time.Second), next)
	next, err = r.Step(ctx, t0.Add(39*time.Second))
	require.NoError(t, err)
	assert.Len(t, p.queries, 1, "not due yet")
	assert.Equal(t, t0.Add(40*time.Second), next)
}

func TestRunSeveralMetrics(t *testing.T) {
	two := func(a, b string) string {
		return "  metrics:\n  - name: a\n    " + a + "\n    provider: {prometheus: {query: a}}\n  - name: b\n    " + b + "\n    provider: {web: {url: b}}\n"
	}
	byMetric := func(ra, rb []reply) (Provider, Provider, *script, *script) {
		pa, pb := &script{replies: ra}, &script{replies: rb}
		return pa, pb, pa, pb
	}
	cases := map[string]struct {
		spec       string
		ra, rb     []reply
		want       Phase
		wantA      Phase
		wantB      Phase
		takenB     int
		steps      int // when not 0, the steps the run takes
		dryRunOpts []Option
	}{
		"a failed dry-run metric does not fail the run": {
			spec: two("successCondition: result[0] > 0.5", "successCondition: result[0] > 0.5") + "  dryRun: [{metricName: a}]\n",
			ra:   []reply{ok(0)}, rb: []reply{ok(1)},
			want: PhaseSuccessful, wantA: PhaseFailed, wantB: PhaseSuccessful, takenB: 1,
		},
		"dry-run by option, as a Rollout step adds it": {
			spec: two("successCondition: result[0] > 0.5", "successCondition: result[0] > 0.5"),
			ra:   []reply{ok(0)}, rb: []reply{ok(1)}, dryRunOpts: []Option{WithDryRun(DryRun{MetricName: "^a$"})},
			want: PhaseSuccessful, wantA: PhaseFailed, wantB: PhaseSuccessful, takenB: 1,
		},
		"a failed metric stops the others, which end Successful": {
			spec: two("successCondition: result[0] > 0.5", "count: 5\n    interval: 1m\n    successCondition: result[0] > 0.5"),
			ra:   []reply{ok(0)}, rb: []reply{ok(1)},
			want: PhaseFailed, wantA: PhaseFailed, wantB: PhaseSuccessful, takenB: 1,
		},
		"Failed is worse than Error": {
			spec: two("consecutiveErrorLimit: 0", "successCondition: result[0] > 0.5"),
			ra:   []reply{fail("down")}, rb: []reply{ok(0)},
			want: PhaseFailed, wantA: PhaseError, wantB: PhaseFailed, takenB: 1,
		},
		"Error is worse than Inconclusive": {
			spec: two("consecutiveErrorLimit: 0", "successCondition: result[0] > 0.9\n    failureCondition: result[0] < 0.1"),
			ra:   []reply{fail("down")}, rb: []reply{ok(0.5)},
			want: PhaseError, wantA: PhaseError, wantB: PhaseInconclusive, takenB: 1,
		},
		"an initialDelay of 0s is measured in the first step": {
			spec: two("successCondition: result[0] > 0.5", "initialDelay: 0s\n    successCondition: result[0] > 0.5"),
			ra:   []reply{ok(1)}, rb: []reply{ok(1)},
			want: PhaseSuccessful, wantA: PhaseSuccessful, wantB: PhaseSuccessful, takenB: 1, steps: 1,
		},
		"an initialDelay of 0s waits for the others in the first step, as in Rollouts": {
			// Rollouts' first reconciliation sets startedAt after
			// measuring: a metric with an initialDelay is measured in the
			// next one, which never comes when a metric ended the run.
			spec: two("successCondition: result[0] > 0.9\n    failureCondition: result[0] < 0.1", "initialDelay: 0s\n    successCondition: result[0] > 0.5"),
			ra:   []reply{ok(0.5)}, rb: []reply{ok(0)},
			want: PhaseInconclusive, wantA: PhaseInconclusive, wantB: PhasePending, takenB: 0, steps: 1,
		},
		"a metric waiting for its initialDelay keeps the run Running": {
			spec: two("successCondition: result[0] > 0.5", "initialDelay: 5m\n    successCondition: result[0] > 0.5"),
			ra:   []reply{ok(1)}, rb: []reply{ok(1)},
			want: PhaseSuccessful, wantA: PhaseSuccessful, wantB: PhaseSuccessful, takenB: 1,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ts := load(t, tc.spec)
			pa, pb, _, sb := byMetric(tc.ra, tc.rb)
			r, err := NewRun(ts, nil, map[string]Provider{"prometheus": pa, "web": pb}, tc.dryRunOpts...)
			require.NoError(t, err)
			steps := drive(t, r, t0, nil)
			if tc.steps != 0 {
				assert.Len(t, steps, tc.steps)
			}
			st := r.Status()
			assert.Equal(t, tc.want, st.Phase)
			assert.Equal(t, tc.wantA, st.Metrics[0].Phase)
			assert.Equal(t, tc.wantB, st.Metrics[1].Phase)
			assert.Len(t, sb.queries, tc.takenB)
		})
	}
}

func TestRunStop(t *testing.T) {
	spec := "  metrics:\n  - name: m\n    interval: 1m\n    successCondition: result[0] > 0.5\n    provider: {prometheus: {}}\n"
	t.Run("an indefinite metric runs until stopped, then Successful", func(t *testing.T) {
		p := &script{replies: []reply{ok(1)}}
		r, err := NewRun(load(t, spec), nil, map[string]Provider{"prometheus": p})
		require.NoError(t, err)
		now := t0
		for range 3 {
			next, err := r.Step(context.Background(), now)
			require.NoError(t, err)
			require.Equal(t, now.Add(time.Minute), next)
			now = next
		}
		assert.Equal(t, PhaseRunning, r.Phase())
		r.Stop(now)
		assert.Equal(t, PhaseSuccessful, r.Phase())
		assert.Equal(t, "Run Terminated", r.Status().Message)
		next, err := r.Step(context.Background(), now.Add(time.Hour))
		require.NoError(t, err)
		assert.True(t, next.IsZero())
		assert.Len(t, p.queries, 3, "nothing measured after Stop")
	})
	t.Run("stopped before any measurement: Successful", func(t *testing.T) {
		r, err := NewRun(load(t, spec), nil, map[string]Provider{"prometheus": &script{replies: []reply{ok(1)}}})
		require.NoError(t, err)
		r.Stop(t0)
		assert.Equal(t, PhaseSuccessful, r.Phase())
	})
	t.Run("stopped after failures within the limit: Successful", func(t *testing.T) {
		r, err := NewRun(load(t, "  metrics:\n  - name: m\n    interval: 1m\n    failureLimit: 3\n    successCondition: result[0] > 0.5\n    provider: {prometheus: {}}\n"),
			nil, map[string]Provider{"prometheus": &script{replies: []reply{ok(0)}}})
		require.NoError(t, err)
		_, err = r.Step(context.Background(), t0)
		require.NoError(t, err)
		r.Stop(t0.Add(time.Second))
		assert.Equal(t, PhaseSuccessful, r.Phase())
	})
}

func TestRunMeasurementRetention(t *testing.T) {
	cases := map[string]struct {
		spec string
		keep int
	}{
		"default keeps 10": {"  metrics:\n  - name: m\n    count: 12\n    interval: 1s\n    provider: {prometheus: {}}\n", 10},
		"rule keeps 2":     {"  measurementRetention: [{metricName: m, limit: 2}]\n  metrics:\n  - name: m\n    count: 5\n    interval: 1s\n    provider: {prometheus: {}}\n", 2},
		"rule keeps 20":    {"  measurementRetention: [{metricName: \"m.*\", limit: 20}]\n  metrics:\n  - name: m\n    count: 12\n    interval: 1s\n    provider: {prometheus: {}}\n", 12},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := NewRun(load(t, tc.spec), nil, map[string]Provider{"prometheus": &script{replies: []reply{ok(1)}}})
			require.NoError(t, err)
			drive(t, r, t0, nil)
			m := r.Status().Metrics[0]
			assert.Len(t, m.Measurements, tc.keep)
			assert.Equal(t, PhaseSuccessful, m.Phase)
			assert.Equal(t, t0.Add(time.Duration(m.Count-1)*time.Second), m.Measurements[len(m.Measurements)-1].FinishedAt, "the newest are kept")
		})
	}
}

func TestRunContextCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := ProviderFunc(func(ctx context.Context, q Query) (Result, error) {
		cancel()
		return Result{}, ctx.Err()
	})
	r, err := NewRun(load(t, "  metrics:\n  - name: m\n    provider: {prometheus: {}}\n"), nil, map[string]Provider{"prometheus": p})
	require.NoError(t, err)
	_, err = r.Step(ctx, t0)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, r.Status().Metrics[0].Measurements, "an interrupted measurement is not recorded")
	next, err := r.Step(context.Background(), t0)
	require.NoError(t, err)
	assert.True(t, next.IsZero())
	assert.Equal(t, PhaseSuccessful, r.Phase())
}

func TestRunProviderErrorIsBounded(t *testing.T) {
	huge := strings.Repeat("x", 1<<20)
	r, err := NewRun(load(t, "  metrics:\n  - name: m\n    consecutiveErrorLimit: 0\n    provider: {prometheus: {}}\n"), nil,
		map[string]Provider{"prometheus": &script{replies: []reply{fail(huge)}}})
	require.NoError(t, err)
	drive(t, r, t0, nil)
	m := r.Status().Metrics[0]
	assert.Equal(t, PhaseError, m.Phase)
	assert.LessOrEqual(t, len(m.Measurements[0].Message), maxMessageBytes+3)
	assert.LessOrEqual(t, len(r.Status().Message), maxMessageBytes+3)
}

func TestConditionsStopWithContext(t *testing.T) {
	c, err := CompileConditions("all(result, all(result, all(result, # >= 0)))", "", DefaultEvalLimits())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	phase, err := c.Evaluate(ctx, make([]float64, 50000))
	assert.Equal(t, PhaseError, phase)
	assert.ErrorContains(t, err, "context canceled")
	assert.Less(t, time.Since(start), time.Second)
}

// BenchmarkStep is the per-measurement overhead of a run, the provider
// excluded: substitution, evaluation and assessment.
func BenchmarkStep(b *testing.B) {
	ts, err := LoadTemplates([]byte(header + "  args: [{name: svc, value: a}]\n  metrics:\n  - name: m\n    interval: 1s\n    successCondition: result[0] >= 0.95\n    provider: {prometheus: {query: \"rate{s=\\\"{{args.svc}}\\\"}\"}}\n"))
	require.NoError(b, err)
	p := ProviderFunc(func(ctx context.Context, q Query) (Result, error) { return Result{Value: []float64{0.99}}, nil })
	r, err := NewRun(ts, nil, map[string]Provider{"prometheus": p})
	require.NoError(b, err)
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		if now, err = r.Step(context.Background(), now); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRunDryRunMessage(t *testing.T) {
	ts := load(t, "  dryRun: [{metricName: a}]\n  metrics:\n  - name: a\n    successCondition: result[0] > 0.5\n    provider: {web: {}}\n")
	r, err := NewRun(ts, nil, map[string]Provider{"web": &script{replies: []reply{ok(0)}}})
	require.NoError(t, err)
	drive(t, r, t0, nil)
	st := r.Status()
	assert.Equal(t, PhaseSuccessful, st.Phase, "only a dry-run metric, and it failed")
	assert.True(t, st.Metrics[0].DryRun)
	assert.Equal(t, "Metric assessed Failed due to failed (1) > failureLimit (0)", st.Metrics[0].Message)
}
