package analysis

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConditionsEvaluate(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	five := 5.0
	cases := map[string]struct {
		success, failure string
		result           any
		want             Phase
		reason           string
	}{
		"no conditions":                {"", "", []float64{0.1}, PhaseSuccessful, "Rollouts: always Successful without conditions"},
		"no conditions string":         {"", "", "html", PhaseSuccessful, "as Rollouts, whatever the result"},
		"vector ok":                    {"result[0] >= 0.95", "", []float64{0.97}, PhaseSuccessful, ""},
		"vector low":                   {"result[0] >= 0.95", "", []float64{0.5}, PhaseFailed, "success false without failureCondition is Failed"},
		"empty vector":                 {"result[0] >= 0.95", "", []float64{}, PhaseError, "index out of range"},
		"NaN sample":                   {"result[0] >= 0.95", "", []float64{nan}, PhaseFailed, "NaN compares false"},
		"+Inf sample":                  {"result[0] >= 0.95", "", []float64{inf}, PhaseSuccessful, "+Inf >= 0.95, as in Rollouts"},
		"+Inf guarded":                 {"!isInf(result[0]) && result[0] >= 0.95", "", []float64{inf}, PhaseFailed, ""},
		"string result":                {"result[0] >= 0.95", "", "abc", PhaseError, "Rollouts compiles against a string: mismatched types"},
		"matrix result":                {"result[0] >= 0.95", "", [][]float64{{1}}, PhaseError, "mismatched types"},
		"nil result":                   {"result[0] >= 0.95", "", nil, PhaseError, ""},
		"len vector":                   {"len(result) > 0", "", []float64{1}, PhaseSuccessful, ""},
		"len empty":                    {"len(result) > 0", "", []float64{}, PhaseFailed, ""},
		"isNaN scalar":                 {"isNaN(result)", "", nan, PhaseSuccessful, ""},
		"isNaN number":                 {"isNaN(result)", "", 1.0, PhaseFailed, ""},
		"isNaN vector":                 {"isNaN(result)", "", []float64{nan}, PhaseError, "a vector is not a float64"},
		"isInf scalar":                 {"isInf(result)", "", inf, PhaseSuccessful, ""},
		"default nil":                  {"default(result, 0) == 0", "", nil, PhaseSuccessful, ""},
		"default set":                  {"default(result, 0) == 5", "", 5.0, PhaseSuccessful, ""},
		"default pointer":              {"default(result, 0) == 5", "", &five, PhaseSuccessful, "pointers are dereferenced"},
		"isNil":                        {"isNil(result)", "", nil, PhaseSuccessful, ""},
		"asInt string":                 {"asInt(result) == 3", "", "3", PhaseSuccessful, ""},
		"asInt bad string":             {"asInt(result) == 3", "", "x", PhaseError, "Rollouts panics, expr reports"},
		"asInt float":                  {"asInt(result) == 3", "", 3.7, PhaseSuccessful, ""},
		"asFloat string":               {"asFloat(result) > 0.5", "", "0.75", PhaseSuccessful, ""},
		"asFloat map":                  {"asFloat(result) > 0.5", "", map[string]any{}, PhaseError, ""},
		"failure only true":            {"", "result > 1", 2.0, PhaseFailed, ""},
		"failure only false":           {"", "result > 1", 0.0, PhaseSuccessful, "failure false without successCondition is Successful"},
		"both false":                   {"result > 10", "result < 0", 5.0, PhaseInconclusive, ""},
		"both true":                    {"result > 0", "result < 10", 5.0, PhaseFailed, "failure wins"},
		"not bool":                     {"result", "", 1.0, PhaseError, "expected bool"},
		"json object":                  {"result.ok == true", "", map[string]any{"ok": true}, PhaseSuccessful, "web provider's JSON"},
		"json missing key":             {"result.ok == true", "", map[string]any{}, PhaseFailed, ""},
		"json string compared to num":  {"result > 1", "", "2", PhaseError, ""},
		"string equality":              {`result == "ok"`, "", "ok", PhaseSuccessful, ""},
		"html page":                    {"result[0] >= 0.95", "", "<html>", PhaseError, ""},
		"int from Go":                  {"result >= 1", "", 3, PhaseSuccessful, ""},
		"all builtin":                  {"all(result, # > 0.5)", "", []float64{0.6, 0.9}, PhaseSuccessful, ""},
		"failure on error":             {"result[0] > 0", "result[1] > 0", []float64{1}, PhaseError, "a failing failureCondition is an Error"},
		"runtime division":             {"1 / result > 0", "", 0.0, PhaseSuccessful, "+Inf"},
		"condition with isNaN guarded": {"!isNaN(result[0]) && result[0] <= 500", "", []float64{nan}, PhaseFailed, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := CompileConditions(tc.success, tc.failure, DefaultEvalLimits())
			require.NoError(t, err)
			got, err := c.Evaluate(context.Background(), tc.result)
			assert.Equal(t, tc.want, got, tc.reason)
			assert.Equal(t, got == PhaseError, err != nil, "an error exactly when Error: %v", err)
		})
	}
}

func TestConditionsCompile(t *testing.T) {
	cases := map[string]struct{ success, failure string }{
		"syntax":          {"result[0] >=", ""},
		"failure syntax":  {"", "result >"},
		"unknown name":    {"foo > 1", ""},
		"unknown func":    {"sqrt(result) > 1", ""},
		"too many nodes":  {"1" + repeat(" + 1", 1500) + " > 0", ""},
		"wrong arg count": {"isNaN(result, 1)", ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := CompileConditions(tc.success, tc.failure, DefaultEvalLimits())
			assert.ErrorIs(t, err, ErrCondition)
		})
	}
}

func repeat(s string, n int) string {
	out := make([]byte, 0, len(s)*n)
	for range n {
		out = append(out, s...)
	}
	return string(out)
}

// The cost of one evaluation is bounded: nested loops over a large result
// run out of the VM's budget instead of running for hours.
func TestConditionsBoundedCost(t *testing.T) {
	big := make([]float64, 50000)
	cases := map[string]struct {
		condition string
		result    any
	}{
		"nested loops":    {"all(result, all(result, all(result, # >= 0)))", big},
		"range":           {"len(1..100000000) > 0", 1.0},
		"nested ranges":   {"all(1..100000, all(1..100000, # > 0))", 1.0},
		"repeat":          {`len(repeat("x", 100000000)) > 0`, 1.0},
		"map of map":      {"len(map(result, map(result, #))) > 0", big},
		"million samples": {"len(result) > 0", make([]float64, 1000000)},
		"deep json":       {"result != nil", deepJSON(200)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := CompileConditions(tc.condition, "", DefaultEvalLimits())
			require.NoError(t, err)
			start := time.Now()
			got, err := c.Evaluate(context.Background(), tc.result)
			assert.Equal(t, PhaseError, got)
			assert.Error(t, err)
			assert.Less(t, time.Since(start), 5*time.Second)
		})
	}
}

func deepJSON(n int) any {
	var v any = 1.0
	for range n {
		v = []any{v}
	}
	return v
}
