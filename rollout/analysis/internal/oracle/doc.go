// Package oracle holds differential tests of converge's rollout/analysis
// against Argo Rollouts v1.9.2's own code, and has no other code:
//
//   - conditions: every condition of a corpus, and a fuzzer's, decides
//     what evaluate.EvaluateResult decides (oracle_test.go);
//   - assessment: scripted measurement phases with any limits, count,
//     interval, initialDelay, dry-run and retention, stepped through
//     converge's Run and through Rollouts' unexported
//     (*Controller).reconcileAnalysisRun, reached with go:linkname, give
//     the same statuses and next reconciliation times step by step
//     (assess_test.go, FuzzAssessment); resumed states assess as
//     assessMetricStatus and assessRunStatus do (assess_state_test.go);
//   - templates: args and validation as templateutil and ValidateMetric.
//
// Where converge is stricter on purpose (non-finite values are never
// Successful; zero, negative and absurd counts and intervals are
// refused), the tests assert the stricter outcome.
//
// cmd/conditionbench times converge's condition evaluation against
// Rollouts' for make bench.
package oracle
