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
		"+Inf sample":                  {"result[0] >= 0.95", "", []float64{inf}, PhaseInconclusive, "Rollouts: Successful, as +Inf >= 0.95; stricter here"},
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
		"runtime division":             {"1 / result > 0", "", 0.0, PhaseSuccessful, "+Inf computed, but the result is finite"},
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

// A result holding a NaN or ±Inf is never Successful unless the
// condition that decides success mentions isNaN or isInf; Failed stays
// Failed.
func TestConditionsNonFinite(t *testing.T) {
	nan, inf, ninf := math.NaN(), math.Inf(1), math.Inf(-1)
	cases := map[string]struct {
		success, failure string
		result           any
		want             Phase
		message          string // a part of the verdict's message; "" for none
		reason           string
	}{
		"+Inf scalar":               {"result >= 0.95", "", inf, PhaseInconclusive, "result is +Inf, not a finite number", "Rollouts: Successful"},
		"-Inf scalar":               {"result <= 500", "", ninf, PhaseInconclusive, "result is -Inf", "a latency below the bound, in Rollouts"},
		"NaN scalar, failure only":  {"", "result > 0.05", nan, PhaseInconclusive, "result is NaN", "NaN > 0.05 is false: Rollouts says Successful"},
		"NaN scalar, no conditions": {"", "", nan, PhaseInconclusive, "result is NaN", "Rollouts: Successful whatever the result"},
		"+Inf vector":               {"result[0] >= 0.95", "", []float64{inf}, PhaseInconclusive, "result[0] is +Inf", ""},
		"-Inf second sample":        {"result[0] <= 500", "", []float64{1, ninf}, PhaseInconclusive, "result[1] is -Inf", "any element, not only the one the condition reads"},
		"NaN vector, failure only":  {"", "result[0] > 0.05", []float64{nan}, PhaseInconclusive, "result[0] is NaN", ""},
		"NaN vector, len":           {"len(result) > 0", "", []float64{0.5, nan}, PhaseInconclusive, "result[1] is NaN", ""},
		"+Inf in JSON list":         {"len(result) == 2", "", []any{1.0, inf}, PhaseInconclusive, "result[1] is +Inf", ""},
		"NaN in a map":              {"result.ok", "", map[string]any{"ok": true, "rate": nan}, PhaseInconclusive, `result["rate"] is NaN`, ""},
		"float32 +Inf":              {"len(result) > 0", "", []float32{float32(inf)}, PhaseInconclusive, "result[0] is +Inf", ""},
		"pointer to +Inf":           {"result > 0", "", &inf, PhaseInconclusive, "result is +Inf", "pointers are dereferenced"},
		"both conditions":           {"result[0] > 0.9", "result[0] < 0.1", []float64{inf}, PhaseInconclusive, "result[0] is +Inf", ""},

		"NaN Failed stays Failed":          {"result[0] >= 0.95", "", []float64{nan}, PhaseFailed, "", "NaN compares false"},
		"-Inf Failed stays Failed":         {"result[0] >= 0.95", "", []float64{ninf}, PhaseFailed, "", ""},
		"+Inf failure true":                {"", "result[0] > 0.05", []float64{inf}, PhaseFailed, "", ""},
		"NaN neither: Inconclusive anyway": {"result[0] > 0.9", "result[0] < 0.1", []float64{nan}, PhaseInconclusive, "", "Rollouts' own Inconclusive, no message"},
		"error stays Error":                {"result[1] > 0", "", []float64{inf}, PhaseError, "", ""},

		"isNaN in the successCondition":          {"isNaN(result)", "", nan, PhaseSuccessful, "", "the author handles NaN"},
		"isNaN guard keeps Rollouts' meaning":    {"isNaN(result[0]) || result[0] >= 0.95", "", []float64{nan}, PhaseSuccessful, "", ""},
		"isInf in the successCondition":          {"isInf(result[0]) || result[0] >= 0.95", "", []float64{ninf}, PhaseSuccessful, "", ""},
		"isInf guard on +Inf":                    {"!isInf(result[0]) && result[0] >= 0.95", "", []float64{inf}, PhaseFailed, "", ""},
		"isNaN, other sample +Inf":               {"!isNaN(result[0]) && result[0] >= 0.95", "", []float64{0.97, inf}, PhaseSuccessful, "", "the author chose to check; Rollouts' meaning"},
		"isNaN in the failureCondition only":     {"", "!isNaN(result) && result > 0.05", nan, PhaseSuccessful, "", "without a successCondition the failureCondition decides success"},
		"isNaN in failure, success decides":      {"result >= 0.95", "isNaN(result)", inf, PhaseInconclusive, "result is +Inf", "with a successCondition, it decides"},
		"isNaN in a string is not a mention":     {`result[0] >= 0.95 && "isNaN" != ""`, "", []float64{inf}, PhaseInconclusive, "result[0] is +Inf", ""},
		"finite results are untouched":           {"result[0] >= 0.95", "", []float64{0.97, 1e308}, PhaseSuccessful, "", ""},
		"a computed +Inf is not the result's":    {"1 / result[0] > 0", "", []float64{0}, PhaseSuccessful, "", ""},
		"a string result is not a number":        {`result == "NaN"`, "", "NaN", PhaseSuccessful, "", ""},
		"default on nil is finite":               {"default(result, 0) == 0", "", nil, PhaseSuccessful, "", ""},
		"isNaN of a vector is an error, as ever": {"isNaN(result)", "", []float64{nan}, PhaseError, "", ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := CompileConditions(tc.success, tc.failure, DefaultEvalLimits())
			require.NoError(t, err)
			v, err := c.Decide(context.Background(), tc.result)
			assert.Equal(t, tc.want, v.Phase, tc.reason)
			assert.Equal(t, v.Phase == PhaseError, err != nil, "an error exactly when Error: %v", err)
			if tc.message == "" {
				assert.Empty(t, v.Message)
			} else {
				assert.Contains(t, v.Message, tc.message)
			}
			phase, _ := c.Evaluate(context.Background(), tc.result)
			assert.Equal(t, v.Phase, phase, "Evaluate and Decide agree")
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
