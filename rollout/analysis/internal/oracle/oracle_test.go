package oracle

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	analysisutil "github.com/argoproj/argo-rollouts/utils/analysis"
	"github.com/argoproj/argo-rollouts/utils/evaluate"
	templateutil "github.com/argoproj/argo-rollouts/utils/template"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/converge-dev/converge/rollout/analysis"
)

type evalCase struct {
	success, failure string
	result           any
}

func corpus() map[string]evalCase {
	nan, inf := math.NaN(), math.Inf(1)
	results := map[string]any{
		"vector":       []float64{0.97},
		"low vector":   []float64{0.2},
		"two samples":  []float64{0.97, 0.5},
		"empty vector": []float64{},
		"NaN vector":   []float64{nan},
		"Inf vector":   []float64{inf},
		"-Inf vector":  []float64{math.Inf(-1)},
		"Inf second":   []float64{0.97, inf},
		"-Inf scalar":  math.Inf(-1),
		"Inf in list":  []any{1.0, inf},
		"scalar":       0.97,
		"NaN scalar":   nan,
		"Inf scalar":   inf,
		"string":       "abc",
		"number text":  "3",
		"nil":          nil,
		"matrix":       [][]float64{{1, 2}},
		"json object":  map[string]any{"ok": true, "rate": 0.99, "items": []any{1.0, 2.0}},
		"json list":    []any{1.0, "x", nil},
		"bool":         true,
	}
	conds := [][2]string{
		{"", ""},
		{"result[0] >= 0.95", ""},
		{"", "result[0] < 0.5"},
		{"result[0] >= 0.95", "result[0] < 0.5"},
		{"len(result) > 0", ""},
		{"isNaN(result)", ""},
		{"isNaN(result[0])", ""},
		{"isInf(result)", ""},
		{"!isInf(result[0]) && result[0] >= 0.95", ""},
		{"default(result, 0) >= 0", ""},
		{"default(result, 0) == 0", ""},
		{"isNil(result)", ""},
		{"asInt(result) == 3", ""},
		{"asFloat(result) > 0.5", ""},
		{"asInt(result[0]) == 0", ""},
		{"result > 0.5", ""},
		{"result == \"abc\"", ""},
		{"result.ok == true", ""},
		{"result.rate > 0.95", ""},
		{"len(result.items) == 2", ""},
		{"all(result, # > 0.5)", ""},
		{"any(result, # > 0.5)", ""},
		{"result", ""},
		{"result[1] > 0", ""},
		{"result[0] > 0.9", "result[0] < 0.1"},
		{"result != nil", ""},
		{"result == nil", ""},
		{"1 / result > 0", ""},
		{"result[0] in [0.97, 1]", ""},
		{"result matches \"a.c\"", ""},
		{"", "result[0] > 0.05"},
		{"", "result > 0.05"},
		{"", "!isNaN(result) && result > 0.05"},
		{"isNaN(result[0]) || result[0] >= 0.95", ""},
		{"result <= 500", ""},
		{"result >= 0.95", "isNaN(result)"},
	}
	out := map[string]evalCase{}
	for rn, r := range results {
		for _, c := range conds {
			out[rn+" | "+c[0]+" | "+c[1]] = evalCase{c[0], c[1], r}
		}
	}
	return out
}

func rollouts(c evalCase) (v1alpha1.AnalysisPhase, error) {
	logger := logrus.New()
	logger.SetLevel(logrus.PanicLevel)
	metric := v1alpha1.Metric{Name: "m", SuccessCondition: c.success, FailureCondition: c.failure}
	return evaluate.EvaluateResult(c.result, metric, *logrus.NewEntry(logger))
}

func ours(c evalCase) (analysis.Phase, error) {
	conds, err := analysis.CompileConditions(c.success, c.failure, analysis.DefaultEvalLimits())
	if err != nil {
		return analysis.PhaseError, err
	}
	return conds.Evaluate(context.Background(), c.result)
}

// stricter is the phase converge decides where it is deliberately
// stricter than Rollouts, which decided want: a result holding a NaN or
// ±Inf that Rollouts passes is Inconclusive, unless the condition that
// decides success (the successCondition, or without one the
// failureCondition) mentions isNaN or isInf. ok is false where converge
// must agree with Rollouts.
func stricter(c evalCase, want v1alpha1.AnalysisPhase) (analysis.Phase, bool) {
	decides := c.success
	if decides == "" {
		decides = c.failure
	}
	if want == v1alpha1.AnalysisPhaseSuccessful && holdsNonFinite(c.result, 0) && !mentionsNonFiniteCheck(decides) {
		return analysis.PhaseInconclusive, true
	}
	return "", false
}

// mentionsNonFiniteCheck reports whether a condition names isNaN or
// isInf (an identifier, not text in a string).
func mentionsNonFiniteCheck(condition string) bool {
	tree, err := parser.Parse(condition)
	if err != nil {
		return false
	}
	return ast.Find(tree.Node, func(n ast.Node) bool {
		id, ok := n.(*ast.IdentifierNode)
		return ok && (id.Value == "isNaN" || id.Value == "isInf")
	}) != nil
}

// holdsNonFinite finds a NaN or ±Inf in the shapes the corpus and the
// fuzzer make.
func holdsNonFinite(v any, depth int) bool {
	if depth > 100 {
		return false
	}
	switch v := v.(type) {
	case float64:
		return math.IsNaN(v) || math.IsInf(v, 0)
	case []float64:
		for _, f := range v {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return true
			}
		}
	case [][]float64:
		for _, e := range v {
			if holdsNonFinite(e, depth+1) {
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

// TestEvaluateMatchesRollouts: every condition of the corpus on every
// result decides the same phase as Argo Rollouts' evaluate.EvaluateResult,
// but where converge is stricter on purpose; there it decides the
// stricter phase and says which value was not finite.
func TestEvaluateMatchesRollouts(t *testing.T) {
	strict := 0
	for name, c := range corpus() {
		t.Run(name, func(t *testing.T) {
			want, wantErr := rollouts(c)
			conds, err := analysis.CompileConditions(c.success, c.failure, analysis.DefaultEvalLimits())
			require.NoError(t, err)
			got, gotErr := conds.Decide(context.Background(), c.result)
			assert.Equal(t, wantErr != nil, gotErr != nil, "rollouts err: %v; ours: %v", wantErr, gotErr)
			if phase, ok := stricter(c, want); ok {
				strict++
				assert.Equal(t, phase, got.Phase, "stricter than Rollouts (%s) on a value that is not finite", want)
				assert.Contains(t, got.Message, "not a finite number")
				return
			}
			assert.Equal(t, string(want), string(got.Phase), "rollouts err: %v; ours: %v", wantErr, gotErr)
			assert.Empty(t, got.Message)
		})
	}
	assert.Greater(t, strict, 20, "the corpus has cases where converge is stricter")
}

// FuzzEvaluateOracle: converge decides what Rollouts decides on any
// condition and JSON result, but where it is stricter on purpose. shape
// makes the JSON a Prometheus result (bit 0x4: a list of numbers becomes
// a []float64 vector) and puts a non-finite value in it (low two bits:
// none, NaN, +Inf, -Inf; as the scalar, appended to a list or vector, or
// under key "x" of an object).
func FuzzEvaluateOracle(f *testing.F) {
	for _, c := range corpus() {
		b, err := json.Marshal(c.result)
		if err != nil {
			continue
		}
		f.Add(c.success, c.failure, string(b), byte(0))
	}
	for _, s := range []struct {
		success, failure, result string
		shape                    byte
	}{
		{"result[0] >= 0.95", "", "[0.97]", 0x4 | 2},
		{"result[0] <= 500", "", "[1, 2]", 0x4 | 3},
		{"", "result[0] > 0.05", "[]", 0x4 | 1},
		{"result >= 0.95", "", "1", 2},
		{"", "", "1", 1},
		{"isNaN(result)", "", "1", 1},
		{"len(result) > 1", "", "[1]", 3},
		{"result.ok", "", `{"ok": true}`, 2},
	} {
		f.Add(s.success, s.failure, s.result, s.shape)
	}
	f.Fuzz(func(t *testing.T, success, failure, resultJSON string, shape byte) {
		var result any
		if err := json.Unmarshal([]byte(resultJSON), &result); err != nil {
			return
		}
		result = reshape(result, shape)
		if len(success)+len(failure) > 200 || strings.Contains(success+failure, "now()") || strings.Contains(success+failure, "date(") {
			return // keep the oracle's unbounded evaluation short; time is not deterministic
		}
		c := evalCase{success, failure, result}
		want, wantErr := rollouts(c)
		if _, err := analysis.CompileConditions(success, failure, analysis.DefaultEvalLimits()); err != nil {
			// Refused before the first measurement: only right if Rollouts
			// cannot evaluate it either.
			if want != v1alpha1.AnalysisPhaseError && !strings.Contains(err.Error(), "exceeds maximum allowed nodes") {
				t.Fatalf("%q / %q refused (%v), but Rollouts says %s on %s", success, failure, err, want, resultJSON)
			}
			return
		}
		got, gotErr := ours(c)
		if phase, ok := stricter(c, want); ok {
			if got != phase {
				t.Fatalf("%q / %q on %#v: rollouts %s, ours %s (%v), want the stricter %s", success, failure, result, want, got, gotErr, phase)
			}
			return
		}
		if string(want) != string(got) {
			t.Fatalf("%q / %q on %#v: rollouts %s (%v), ours %s (%v)", success, failure, result, want, wantErr, got, gotErr)
		}
	})
}

// reshape makes a decoded JSON result a Prometheus vector and puts a
// non-finite value in it, as FuzzEvaluateOracle's shape says.
func reshape(result any, shape byte) any {
	if l, ok := result.([]any); ok && shape&0x4 != 0 {
		v := []float64{}
		for _, e := range l {
			if x, ok := e.(float64); ok {
				v = append(v, x)
			}
		}
		result = v
	}
	var bad float64
	switch shape & 0x3 {
	case 0:
		return result
	case 1:
		bad = math.NaN()
	case 2:
		bad = math.Inf(1)
	case 3:
		bad = math.Inf(-1)
	}
	switch r := result.(type) {
	case float64:
		return bad
	case []float64:
		return append(r, bad)
	case []any:
		return append(r, bad)
	case map[string]any:
		r["x"] = bad
		return r
	}
	return result
}

// TestSubstituteMatchesRollouts: {{args.x}} resolves as Rollouts'
// templateutil.ResolveArgs resolves it, errors included.
func TestSubstituteMatchesRollouts(t *testing.T) {
	for name, s := range map[string]string{
		"plain":       "rate{service=\"{{args.svc}}\"}",
		"spaces":      "{{ args.svc }}/{{args.num}}",
		"unknown":     "{{args.nope}}",
		"not args":    "{{svc}}",
		"unclosed":    "{{args.svc",
		"nested":      "{{args.{{args.svc}}}}",
		"none":        "no tags",
		"empty tag":   "{{}}",
		"quote value": "{{args.q}}",
	} {
		t.Run(name, func(t *testing.T) {
			args := []v1alpha1.Argument{{Name: "svc", Value: ptr("checkout")}, {Name: "num", Value: ptr("3")}, {Name: "q", Value: ptr("a\"b")}}
			want, wantErr := templateutil.ResolveArgs(s, args)
			spec := "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: t}\nspec:\n  args: [{name: svc}, {name: num}, {name: q}]\n" +
				"  metrics:\n  - name: m\n    provider:\n      web:\n        url: " + mustJSON(s) + "\n"
			ts, err := analysis.LoadTemplates([]byte(spec))
			require.NoError(t, err)
			var got string
			p := analysis.ProviderFunc(func(ctx context.Context, q analysis.Query) (analysis.Result, error) {
				got = q.Spec["url"].(string)
				return analysis.Result{}, nil
			})
			r, gotErr := analysis.NewRun(ts, []analysis.Arg{{Name: "svc", Value: ptr("checkout")}, {Name: "num", Value: ptr("3")}, {Name: "q", Value: ptr("a\"b")}},
				map[string]analysis.Provider{"web": p})
			if gotErr == nil {
				_, gotErr = r.Step(context.Background(), time.Unix(0, 0))
			}
			assert.Equal(t, wantErr != nil, gotErr != nil, "rollouts %v, ours %v", wantErr, gotErr)
			if wantErr == nil {
				assert.Equal(t, want, got)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func mustJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestValidateMatchesRollouts: a metric Rollouts' ValidateMetric refuses
// is refused here too; one it accepts is accepted unless it has a count
// or interval this package refuses on purpose (zero, negative, absurd).
func TestValidateMatchesRollouts(t *testing.T) {
	ints := []string{"", "-2", "-1", "0", "1", "2", "3", "5"}
	intervals := []string{"", "0s", "1s", "30s", "-1s", "x"}
	n := 0
	for _, count := range ints {
		for _, failure := range ints {
			for _, success := range ints {
				for _, inconclusive := range []string{"", "-1", "0", "2"} {
					for _, interval := range intervals {
						n++
						field := func(k, v string) string {
							if v == "" {
								return ""
							}
							return "    " + k + ": " + v + "\n"
						}
						yaml := "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: t}\nspec:\n  metrics:\n  - name: m\n" +
							field("count", count) + field("failureLimit", failure) + field("consecutiveSuccessLimit", success) +
							field("inconclusiveLimit", inconclusive) + field("interval", interval) + "    provider: {web: {url: u}}\n"
						m := v1alpha1.Metric{Name: "m", Interval: v1alpha1.DurationString(interval), Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: "u"}}}
						m.Count = intOrNil(count)
						m.FailureLimit = intOrNil(failure)
						m.ConsecutiveSuccessLimit = intOrNil(success)
						m.InconclusiveLimit = intOrNil(inconclusive)
						wantErr := analysisutil.ValidateMetric(m)
						_, gotErr := analysis.LoadTemplates([]byte(yaml))
						deliberate := count == "0" || strings.HasPrefix(count, "-") || interval == "0s" || interval == "-1s"
						switch {
						case wantErr != nil && gotErr == nil:
							t.Errorf("%s: Rollouts refuses (%v), we accept", yaml, wantErr)
						case wantErr == nil && gotErr != nil && !deliberate:
							t.Errorf("%s: Rollouts accepts, we refuse: %v", yaml, gotErr)
						}
					}
				}
			}
		}
	}
	t.Logf("%d metrics compared", n)
}

func intOrNil(s string) *intstr.IntOrString {
	if s == "" {
		return nil
	}
	v := intstr.Parse(s)
	return &v
}
