package prometheus_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/promtest"
	"github.com/converge-dev/converge/rollout/analysis"
	"github.com/converge-dev/converge/rollout/analysis/prometheus"
)

// The AnalysisTemplate of shared/gitops-patterns.md, run against a real
// Prometheus scraping a target whose traffic the test sets: a good
// service is Successful after count measurements, a bad one Failed
// within failureLimit+1, on the host's clock.
func TestGitOpsPatternsTemplateRuns(t *testing.T) {
	server, target := prom.Start(t)
	yaml, err := os.ReadFile("../testdata/success-rate.yaml")
	require.NoError(t, err)
	// Only the address differs from the file: this Prometheus is local.
	local := strings.ReplaceAll(string(yaml), "http://prometheus.monitoring:9090", server.Addr)
	templates, err := analysis.LoadTemplates([]byte(local))
	require.NoError(t, err)

	for name, tc := range map[string]struct {
		traffic   promtest.Traffic
		want      analysis.Phase
		maxMeasts int
	}{
		"good": {promtest.Traffic{RPS: 100, ErrorRatio: 0.01, LatencyMs: 80}, analysis.PhaseSuccessful, 5},
		"bad":  {promtest.Traffic{RPS: 100, ErrorRatio: 0.25, LatencyMs: 800}, analysis.PhaseFailed, 3 + 1},
	} {
		t.Run(name, func(t *testing.T) {
			svc := service(t)
			target.Set(svc, tc.traffic)
			server.Wait(t, substitute(successRateQuery, svc))
			value := svc
			run, err := analysis.NewRun(templates, []analysis.Arg{{Name: "service-name", Value: &value}},
				map[string]analysis.Provider{prometheus.Kind: prometheus.New()})
			require.NoError(t, err)

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
			for steps := 0; !run.Phase().Completed(); steps++ {
				require.Less(t, steps, 20, "the run ends")
				next, err := run.Step(ctx, now)
				require.NoError(t, err)
				if next.IsZero() {
					break
				}
				now = next
			}
			assert.Equal(t, tc.want, run.Phase())
			for _, m := range run.Status().Metrics {
				assert.LessOrEqual(t, len(m.Measurements), tc.maxMeasts, m.Name)
			}
		})
	}
}
