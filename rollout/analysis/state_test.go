package analysis

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const resumeSpec = "  args: [{name: svc}]\n  metrics:\n" +
	"  - name: rate\n    count: 5\n    interval: 30s\n    failureLimit: 1\n    successCondition: result[0] > 0.5\n    provider: {prometheus: {query: \"{{args.svc}}\"}}\n" +
	"  - name: late\n    count: 2\n    interval: 1m\n    initialDelay: 2m\n    provider: {web: {}}\n"

// A host that restarts mid-run goes on from the state it saved, and takes
// no measurement twice.
func TestRunResume(t *testing.T) {
	var clock time.Time
	p := &script{replies: []reply{ok(1), ok(0), ok(1), ok(1), ok(1)}, clock: &clock}
	w := &script{replies: []reply{ok(1)}, clock: &clock}
	providers := map[string]Provider{"prometheus": p, "web": w}
	args := []Arg{{Name: "svc", Value: str("a")}}

	// Uninterrupted, for comparison.
	ref, err := NewRun(load(t, resumeSpec), args, map[string]Provider{"prometheus": &script{replies: p.replies}, "web": &script{replies: w.replies}})
	require.NoError(t, err)
	drive(t, ref, t0, nil)

	r, err := NewRun(load(t, resumeSpec), args, providers)
	require.NoError(t, err)
	now := t0
	for range 3 {
		clock = now
		now, err = r.Step(context.Background(), now)
		require.NoError(t, err)
	}
	require.Len(t, p.queries, 3)
	data, err := json.Marshal(r)
	require.NoError(t, err)

	// The host restarts: a new run from the same templates and args.
	r2, err := NewRun(load(t, resumeSpec), args, providers)
	require.NoError(t, err)
	require.NoError(t, r2.Resume(data))
	assert.Equal(t, r.Status(), r2.Status())

	// Stepping at the time of the last measurement takes nothing again.
	clock = p.times[len(p.times)-1]
	again, err := r2.Step(context.Background(), clock)
	require.NoError(t, err)
	assert.Len(t, p.queries, 3, "nothing repeated")
	assert.Equal(t, now, again)

	drive(t, r2, now, &clock)
	assert.Len(t, p.queries, 5, "each measurement once")
	assert.Len(t, w.queries, 2)
	for i := 1; i < len(p.times); i++ {
		assert.Equal(t, 30*time.Second, p.times[i].Sub(p.times[i-1]))
	}
	assert.Equal(t, ref.Phase(), r2.Phase())
	assert.Equal(t, ref.Status().Metrics[0].Count, r2.Status().Metrics[0].Count)
	assert.Equal(t, PhaseSuccessful, r2.Phase())
}

func TestRunResumeRefused(t *testing.T) {
	providers := map[string]Provider{"prometheus": &script{replies: []reply{ok(1)}}, "web": &script{replies: []reply{ok(1)}}}
	mk := func(svc string) *Run {
		r, err := NewRun(load(t, resumeSpec), []Arg{{Name: "svc", Value: str(svc)}}, providers)
		require.NoError(t, err)
		return r
	}
	src := mk("a")
	_, err := src.Step(context.Background(), t0)
	require.NoError(t, err)
	good, err := json.Marshal(src)
	require.NoError(t, err)

	cases := map[string]struct {
		run  func() *Run
		data string
	}{
		"other args":           {func() *Run { return mk("b") }, string(good)},
		"garbage":              {func() *Run { return mk("a") }, "{"},
		"unknown field":        {func() *Run { return mk("a") }, strings.Replace(string(good), `"version"`, `"extra":1,"version"`, 1)},
		"other version":        {func() *Run { return mk("a") }, strings.Replace(string(good), `"version":1`, `"version":9`, 1)},
		"bogus phase":          {func() *Run { return mk("a") }, strings.Replace(string(good), `"phase":"Running"`, `"phase":"Dancing"`, 1)},
		"negative counter":     {func() *Run { return mk("a") }, strings.Replace(string(good), `"count":1`, `"count":-1`, 1)},
		"after the first step": {func() *Run { r := mk("a"); _, _ = r.Step(context.Background(), t0); return r }, string(good)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := tc.run()
			before := r.Status()
			err := r.Resume([]byte(tc.data))
			require.ErrorIs(t, err, ErrState)
			assert.Equal(t, before, r.Status(), "left as it was")
		})
	}
}
