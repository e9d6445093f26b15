package oracle

import (
	_ "unsafe" // for go:linkname

	rolloutsanalysis "github.com/argoproj/argo-rollouts/analysis"
	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
)

// Argo Rollouts' assessment is unexported: assessMetricStatus and
// (*Controller).assessRunStatus, called from (*Controller).
// reconcileAnalysisRun between runMeasurements and
// garbageCollectMeasurements. These pull declarations reach them in this
// test-only module; Go 1.26's linker refuses such pulls only of the
// standard library's symbols. They break, at link time, when Rollouts
// renames or changes them: then update them from Rollouts' source.

// reconcileAnalysisRun is one reconciliation of an AnalysisRun by Rollouts'
// analysis controller: its measurements (through the controller's
// provider factory), its assessment and its garbage collection. It returns
// the updated copy; origRun is left as it was.
//
//go:linkname reconcileAnalysisRun github.com/argoproj/argo-rollouts/analysis.(*Controller).reconcileAnalysisRun
func reconcileAnalysisRun(c *rolloutsanalysis.Controller, origRun *v1alpha1.AnalysisRun) *v1alpha1.AnalysisRun

// assessMetricStatus is Rollouts' phase of one metric from its counters.
//
//go:linkname assessMetricStatus github.com/argoproj/argo-rollouts/analysis.assessMetricStatus
func assessMetricStatus(metric v1alpha1.Metric, result v1alpha1.MetricResult, terminating bool) v1alpha1.AnalysisPhase

// assessRunStatus is Rollouts' phase and message of a run from its
// metrics' results; it updates each result's phase and message in run.
//
//go:linkname assessRunStatus github.com/argoproj/argo-rollouts/analysis.(*Controller).assessRunStatus
func assessRunStatus(c *rolloutsanalysis.Controller, run *v1alpha1.AnalysisRun, metrics []v1alpha1.Metric, dryRunMetricsMap map[string]bool) (v1alpha1.AnalysisPhase, string)
