package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

func FuzzLoadTemplates(f *testing.F) {
	if data, err := os.ReadFile("testdata/success-rate.yaml"); err == nil {
		f.Add(data)
	}
	for _, s := range []string{
		header + "  metrics:\n  - name: m\n    interval: 0s\n    provider: {web: {}}\n",
		header + "  metrics:\n  - name: m\n    count: -1\n    provider: {web: {}}\n",
		header + "  metrics:\n  - name: m\n    count: \"{{args.x}}\"\n    provider: {web: {url: \"{{\"}}\n",
		header + "  args: [{name: x, valueFrom: {secretKeyRef: {name: a, key: b}}}]\n  metrics: [{name: m, provider: {job: {}}}]\n",
		header + "  metrics:\n  - name: m\n    successCondition: all(result, all(result, # > 0))\n    provider: {web: {}}\n",
		"a: &a [*a, *a, *a]\nb: [*a, *a, *a]\n",
		"---\n---\n{}\n",
		"[1, 2]",
		"apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: 5\n",
	} {
		f.Add([]byte(s))
	}
	providers := map[string]Provider{}
	for _, k := range providerKinds {
		providers[k] = ProviderFunc(func(ctx context.Context, q Query) (Result, error) {
			return Result{Value: []float64{1}}, nil
		})
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := LoadTemplates(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			var fe *FieldError
			if errors.As(err, &fe) && fe.Err == nil {
				t.Fatalf("field error without a sentinel: %v", err)
			}
			return
		}
		var args []Arg
		for _, tpl := range ts {
			for _, a := range tpl.Args {
				args = append(args, Arg{Name: a.Name, Value: str("1")})
			}
		}
		r, err := NewRun(ts, args, providers)
		if err != nil {
			return
		}
		now := time.Unix(0, 0)
		for i := 0; i < 5 && !r.Phase().Completed(); i++ {
			next, err := r.Step(context.Background(), now)
			if err != nil {
				t.Fatal(err)
			}
			if !r.Phase().Completed() && next.Before(now) {
				t.Fatalf("next %v before now %v", next, now)
			}
			now = next
		}
	})
}

// FuzzEvaluate: an arbitrary condition on an arbitrary result is an error
// at compile time or a completed phase, never a panic, in bounded time;
// and never Successful on a result holding a NaN or ±Inf unless the
// condition mentions isNaN or isInf. Bits 0x10, 0x20 and 0x40 of shape
// put a NaN, +Inf or -Inf into the result (as the scalar, or appended to
// a vector or JSON list, or under key "x" of a JSON object); 0x80 puts it
// first.
func FuzzEvaluate(f *testing.F) {
	seeds := []struct {
		cond, result string
		shape        byte
	}{
		{"result[0] >= 0.95", "[0.97]", 0},
		{"len(result) > 0", "[]", 0},
		{"isNaN(result)", "1", 1},
		{"default(result, 0) > 1", "null", 2},
		{"asInt(result) == 1", `"1"`, 2},
		{"asFloat(result[0]) > 0", `["x"]`, 2},
		{"all(result, all(result, all(result, # > 0)))", "[1,2,3,4,5,6,7,8,9,10]", 0},
		{"result.a.b == 1", `{"a": {"b": 1}}`, 2},
		{"map(1..1000000, #)", "1", 1},
		{`repeat("x", 1000000000)`, "1", 1},
		{"reduce(result, #acc + #, 0) > 1", "[1,2]", 0},
		{"let x = result; x[0] > 0", "[1]", 0},
		{"result ?? 1", "null", 2},
		{"isInf(result)", "1e308", 1},
		{"1 / 0 > result", "0", 1},
		{"result[0] >= 0.95", "[0.97]", 0x20 | 0x80},
		{"result[0] <= 500", "[1]", 0x40},
		{"result >= 0.95", "1", 0x21},
		{"result <= 500", "1", 0x41},
		{"result[0] >= 0.95", "[0.97]", 0x10},
		{"len(result) > 0", "[]", 0x10},
		{"all(result, # >= 0)", "[1, 2]", 0x20},
		{"!isNaN(result) && result > 0.5", "1", 0x31},
		{"isInf(result[0]) || result[0] > 0", "[1]", 0xc0},
		{"result.ok", `{"ok": true}`, 0x22},
		{"len(result) == 2", `[1]`, 0x13},
		{"true", "1", 0x11},
	}
	for _, s := range seeds {
		f.Add(s.cond, s.result, s.shape)
	}
	f.Fuzz(func(t *testing.T, cond, resultJSON string, shape byte) {
		var decoded any
		if err := json.Unmarshal([]byte(resultJSON), &decoded); err != nil {
			decoded = resultJSON // a string result, as a web provider's text
		}
		bad, inject := 0.0, true
		switch {
		case shape&0x10 != 0:
			bad = math.NaN()
		case shape&0x20 != 0:
			bad = math.Inf(1)
		case shape&0x40 != 0:
			bad = math.Inf(-1)
		default:
			inject = false
		}
		first := shape&0x80 != 0
		var result any
		switch shape % 4 {
		case 0: // a Prometheus vector
			var v []float64
			if l, ok := decoded.([]any); ok {
				for _, e := range l {
					if x, ok := e.(float64); ok {
						v = append(v, x)
					}
				}
			}
			if inject {
				if first {
					v = append([]float64{bad}, v...)
				} else {
					v = append(v, bad)
				}
			}
			result = v
		case 1: // a Prometheus scalar
			x, _ := decoded.(float64)
			if inject {
				x = bad
			}
			result = x
		default: // decoded JSON, as the web provider binds it
			switch d := decoded.(type) {
			case []any:
				if inject && first {
					d = append([]any{bad}, d...)
				} else if inject {
					d = append(d, bad)
				}
				decoded = d
			case map[string]any:
				if inject {
					d["x"] = bad
				}
			}
			result = decoded
		}
		c, err := CompileConditions(cond, "", DefaultEvalLimits())
		if err != nil {
			if !errors.Is(err, ErrCondition) {
				t.Fatalf("compile error not ErrCondition: %v", err)
			}
			return
		}
		start := time.Now()
		phase, err := c.Evaluate(context.Background(), result)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("evaluation took %s", d)
		}
		if !phase.Completed() {
			t.Fatalf("phase %q", phase)
		}
		if (phase == PhaseError) != (err != nil) {
			t.Fatalf("phase %s with error %v", phase, err)
		}
		if phase == PhaseSuccessful && holdsNonFinite(result, 0) && !strings.Contains(cond, "isNaN") && !strings.Contains(cond, "isInf") {
			t.Fatalf("%q on %#v is Successful, with a value that is not finite", cond, result)
		}
	})
}

// holdsNonFinite is the test's own search for a NaN or ±Inf in the
// shapes FuzzEvaluate makes.
func holdsNonFinite(v any, depth int) bool {
	if depth > 100 {
		return false
	}
	switch v := v.(type) {
	case float64:
		return math.IsNaN(v) || math.IsInf(v, 0)
	case []float64:
		for _, f := range v {
			if holdsNonFinite(f, depth+1) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if holdsNonFinite(e, depth+1) {
				return true
			}
		}
	case map[string]any:
		for _, e := range v {
			if holdsNonFinite(e, depth+1) {
				return true
			}
		}
	}
	return false
}

// FuzzResume: arbitrary state is restored or refused with ErrState; a
// restored run steps without panicking.
func FuzzResume(f *testing.F) {
	providers := map[string]Provider{"prometheus": &script{replies: []reply{ok(1)}}, "web": &script{replies: []reply{ok(1)}}}
	newRun := func() *Run {
		ts, err := LoadTemplates([]byte(header + resumeSpec))
		if err != nil {
			f.Fatal(err)
		}
		r, err := NewRun(ts, []Arg{{Name: "svc", Value: str("a")}}, providers)
		if err != nil {
			f.Fatal(err)
		}
		return r
	}
	src := newRun()
	for i := range 3 {
		data, _ := json.Marshal(src)
		f.Add(data)
		_, _ = src.Step(context.Background(), t0.Add(time.Duration(i)*time.Minute))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newRun()
		if err := r.Resume(data); err != nil {
			if !errors.Is(err, ErrState) {
				t.Fatalf("not ErrState: %v", err)
			}
			return
		}
		now := t0
		for i := 0; i < 3 && !r.Phase().Completed(); i++ {
			next, err := r.Step(context.Background(), now)
			if err != nil {
				t.Fatal(err)
			}
			now = next
		}
	})
}
