package job_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/internal/testenv"
	"github.com/converge-dev/converge/rollout/analysis"
	"github.com/converge-dev/converge/rollout/analysis/job"
)

// The job controller and kwok's fake nodes run the Jobs: pods complete
// as on a real cluster.
var plane = testenv.NewLazy(testenv.Options{Mode: testenv.Living})

func TestMain(m *testing.M) { plane.Main(m) }

func jobTemplate(nodeSelector string) string {
	return `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: smoke}
spec:
  metrics:
  - name: smoke-test
    provider:
      job:
        metadata:
          labels: {suite: smoke}
        spec:
          backoffLimit: 0
          activeDeadlineSeconds: 20
          template:
            spec:
              restartPolicy: Never
              ` + nodeSelector + `
              containers:
              - name: test
                image: registry.example/smoke:1
                command: [run-smoke-tests]
`
}

// A Job that succeeds makes the run Successful, one that fails Failed,
// and no Job is left behind.
func TestJobMetrics(t *testing.T) {
	env := plane.Env(t)
	dyn, err := dynamic.NewForConfig(env.Config)
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		nodeSelector string
		want         analysis.Phase
	}{
		"succeeds": {"", analysis.PhaseSuccessful},
		// No node matches: the pod never runs and the deadline fails it.
		"fails": {"nodeSelector: {nowhere: \"true\"}", analysis.PhaseFailed},
	} {
		t.Run(name, func(t *testing.T) {
			ns := env.Namespace(t)
			templates, err := analysis.LoadTemplates([]byte(jobTemplate(tc.nodeSelector)))
			require.NoError(t, err)
			run, err := analysis.NewRun(templates, nil, map[string]analysis.Provider{job.Kind: job.New(dyn, ns, job.WithPollInterval(200*time.Millisecond))})
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			_, err = run.Step(ctx, time.Now())
			require.NoError(t, err)
			assert.Equal(t, tc.want, run.Phase(), "%+v", run.Status())
			m := run.Status().Metrics[0].Measurements[0]
			assert.Equal(t, ns, m.Metadata["job-namespace"])

			require.Eventually(t, func() bool {
				var list batchv1.JobList
				return env.Client.List(ctx, &list, client.InNamespace(ns)) == nil && len(list.Items) == 0
			}, 30*time.Second, 200*time.Millisecond, "the Job is deleted")
		})
	}
}

func TestJobBlockRefusals(t *testing.T) {
	p := job.New(nil, "ns")
	for name, spec := range map[string]map[string]any{
		"no spec":       {"metadata": map[string]any{}},
		"unknown field": {"spec": map[string]any{}, "kind": "Job"},
		"name given":    {"spec": map[string]any{}, "metadata": map[string]any{"name": "x"}},
		"bad labels":    {"spec": map[string]any{}, "metadata": map[string]any{"labels": map[string]any{"a": 1}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := p.Measure(context.Background(), analysis.Query{Metric: "m", Kind: job.Kind, Spec: spec})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "metric m: job:")
		})
	}
}
