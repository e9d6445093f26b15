// Package analysis decides whether a rollout is healthy from metrics, as
// Argo Rollouts' AnalysisRun does, without its CRDs or controller: load
// AnalysisTemplate YAML, pass a [Provider] per provider kind, and step the
// run with a clock the host controls.
//
//	templates, err := analysis.LoadTemplates(yamlBytes)
//	run, err := analysis.NewRun(templates, []analysis.Arg{{Name: "service-name", Value: &svc}},
//		map[string]analysis.Provider{"prometheus": prom})
//	for next := time.Now(); !run.Phase().Completed(); {
//		time.Sleep(time.Until(next))
//		if next, err = run.Step(ctx, time.Now()); err != nil {
//			return err
//		}
//	}
//	fmt.Println(run.Phase()) // Successful, Failed, Error or Inconclusive
//
// # Compatibility with Argo Rollouts v1.9
//
// Templates load unchanged: metrics with interval, initialDelay, count,
// successCondition, failureCondition, failureLimit, inconclusiveLimit,
// consecutiveErrorLimit (default 4), consecutiveSuccessLimit and one
// provider block; args with defaults and valueFrom.secretKeyRef; dryRun
// and measurementRetention rules. Several templates merge as Rollouts'
// FlattenTemplates merges them. {{args.name}} (and {{ args.name }}) is
// substituted in every string of a metric, as Rollouts' templateutil does.
//
// Conditions are expr-lang expressions with `result` bound as Rollouts
// binds it (a []float64 for a Prometheus vector, a float64 for a scalar,
// the decoded JSON a web provider selects) and Rollouts' helpers asInt,
// asFloat, isNaN, isInf, isNil and default. They are compiled against the
// type of each result, as Rollouts compiles them, so a condition that does
// not type-check for a result (result[0] on a string) is an Error
// measurement there as well; each is also checked once, with a result of
// any type, before the first measurement.
//
// The assessment follows Rollouts' analysis controller: a measurement's
// phase from its conditions, a metric Failed after failureLimit+1 Failed
// measurements, Inconclusive after inconclusiveLimit+1, Error after
// consecutiveErrorLimit+1 Errors in a row, Successful when its count is
// reached (or its consecutiveSuccessLimit), the run the worst of its
// metrics in Rollouts' order, a dry-run metric never deciding it, a run
// that one metric ends stopping the others (Successful, as a terminated
// run's running metrics are). As Rollouts' first reconciliation sets the
// run's start only after measuring, a metric with an initialDelay of 0s
// is measured in the first Step after the others have been assessed, and
// not at all when they ended the run.
//
// # Where this package is stricter than Rollouts
//
//   - A zero, negative or absurd interval, initialDelay or count, and a
//     count or limit that is not an integer, are errors (Rollouts measures
//     in a loop, once, or reads 0).
//   - An arg from a Secret may be used only in the provider block, and its
//     value is masked as "*****" in every message and value recorded.
//   - valueFrom.fieldRef and spec.templates are refused by name.
//   - A measurement is due at, not just after, its time.
//   - A result holding a NaN or ±Inf (a float64 result, or an element of
//     a vector, slice or map) is never Successful: where the conditions
//     would pass it (`result[0] >= 0.95` on +Inf, a failureCondition
//     `result[0] > 0.05` on the NaN of 0/0, no conditions at all), the
//     measurement is Inconclusive, its message naming the value
//     ("result[0] is +Inf, ..."). A condition that decides success (the
//     successCondition, or without one the failureCondition) and mentions
//     isNaN or isInf handles such values on purpose, and keeps Rollouts'
//     meaning. Failed stays Failed.
//
// # Cost of a condition
//
// The expression's size (MaxNodes), the expr VM's memory budget (which
// also charges every loop a builtin makes) and the number of values in a
// result bound each evaluation; see [EvalLimits]. There is no timeout,
// because nothing can run long.
package analysis
