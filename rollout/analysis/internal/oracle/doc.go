// Package oracle holds a differential test of converge's rollout/analysis
// against Argo Rollouts' own code; it has no non-test code.
package oracle
