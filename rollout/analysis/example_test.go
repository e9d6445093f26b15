package analysis_test

import (
	"context"
	"fmt"
	"time"

	"github.com/converge-dev/converge/rollout/analysis"
)

const exampleTemplate = `
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success-rate
spec:
  args:
    - name: service-name
  metrics:
    - name: success-rate
      interval: 30s
      count: 3
      successCondition: result[0] >= 0.95
      failureLimit: 1
      provider:
        prometheus:
          address: http://prometheus.monitoring:9090
          query: sum(rate(ok{service="{{args.service-name}}"}[2m])) / sum(rate(all{service="{{args.service-name}}"}[2m]))
`

// A run stepped with a clock the example controls: three measurements 30s
// apart, one of them failing, within failureLimit.
func ExampleRun_Step() {
	templates, err := analysis.LoadTemplates([]byte(exampleTemplate))
	if err != nil {
		panic(err)
	}
	rates := []float64{0.99, 0.90, 0.97}
	prom := analysis.ProviderFunc(func(ctx context.Context, q analysis.Query) (analysis.Result, error) {
		v := rates[0]
		rates = rates[1:]
		return analysis.Result{Value: []float64{v}, Text: fmt.Sprintf("[%g]", v)}, nil
	})
	svc := "checkout"
	run, err := analysis.NewRun(templates, []analysis.Arg{{Name: "service-name", Value: &svc}},
		map[string]analysis.Provider{"prometheus": prom})
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for !run.Phase().Completed() {
		next, err := run.Step(context.Background(), now)
		if err != nil {
			panic(err)
		}
		m := run.Status().Metrics[0]
		last := m.Measurements[len(m.Measurements)-1]
		fmt.Println(now.Format("15:04:05"), last.Value, last.Phase, "->", run.Phase())
		now = next
	}
	// Output:
	// 00:00:00 [0.99] Successful -> Running
	// 00:00:30 [0.9] Failed -> Running
	// 00:01:00 [0.97] Successful -> Successful
}

// Conditions evaluated as Argo Rollouts evaluates them.
func ExampleConditions_Evaluate() {
	c, err := analysis.CompileConditions("result[0] >= 0.95", "result[0] < 0.5", analysis.DefaultEvalLimits())
	if err != nil {
		panic(err)
	}
	for _, v := range []any{[]float64{0.97}, []float64{0.7}, []float64{0.2}, []float64{}} {
		phase, err := c.Evaluate(context.Background(), v)
		fmt.Println(v, phase, err != nil)
	}
	// Output:
	// [0.97] Successful false
	// [0.7] Inconclusive false
	// [0.2] Failed false
	// [] Error true
}
