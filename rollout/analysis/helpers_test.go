package analysis

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// reply is one scripted answer of a provider.
type reply struct {
	v     any
	err   error
	phase Phase
}

func ok(v float64) reply    { return reply{v: []float64{v}} }
func fail(msg string) reply { return reply{err: errors.New(msg)} }

// script answers with its replies in turn, repeating the last.
type script struct {
	replies []reply
	queries []Query
	times   []time.Time
	clock   *time.Time
}

func (s *script) Measure(ctx context.Context, q Query) (Result, error) {
	s.queries = append(s.queries, q)
	if s.clock != nil {
		s.times = append(s.times, *s.clock)
	}
	r := s.replies[min(len(s.queries)-1, len(s.replies)-1)]
	if r.err != nil {
		return Result{}, r.err
	}
	return Result{Value: r.v, Phase: r.phase}, nil
}

const header = "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: t}\nspec:\n"

func load(t *testing.T, spec string) []*Template {
	t.Helper()
	ts, err := LoadTemplates([]byte(header + spec))
	require.NoError(t, err)
	return ts
}

// drive steps r from start to its end, each time at the time Step asked
// for, and returns the times it stepped at.
func drive(t *testing.T, r *Run, start time.Time, clock *time.Time) []time.Time {
	t.Helper()
	now := start
	var steps []time.Time
	for i := 0; !r.Phase().Completed(); i++ {
		require.Less(t, i, 1000, "run does not end")
		if clock != nil {
			*clock = now
		}
		steps = append(steps, now)
		next, err := r.Step(context.Background(), now)
		require.NoError(t, err)
		if r.Phase().Completed() {
			require.True(t, next.IsZero())
			break
		}
		require.False(t, next.IsZero(), "a running run must say when to step")
		require.False(t, next.Before(now), "next %s before now %s", next, now)
		now = next
	}
	return steps
}

func str(s string) *string { return &s }
