package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/converge-dev/converge/internal/promtest"
	"github.com/converge-dev/converge/rollout/analysis"
	"github.com/converge-dev/converge/rollout/analysis/prometheus"
)

// analysisMeasurements is how many measurements analysis-10000 assesses.
const analysisMeasurements = 10_000

// analysisComparison runs 10,000 measurements of the success-rate metric
// of shared/gitops-patterns.md against a local Prometheus, and separates
// converge's per-measurement work (args, conditions, assessment, state)
// from the query: converge's time is the run's total minus the time spent
// inside the provider's Measure. The peer is the same 10,000 queries made
// directly through the provider, so the ratio says how many times the
// query costs more than everything converge adds to it.
var analysisComparison = comparison{name: "analysis", run: runAnalysis}

func runAnalysis(ctx context.Context, _ *harness) ([]result, error) {
	target := promtest.NewTarget()
	defer target.Close()
	server, err := promtest.StartServer(target.HostPort())
	if err != nil {
		return nil, err
	}
	defer server.Stop()
	target.Set("bench", promtest.Traffic{RPS: 100, ErrorRatio: 0.01, LatencyMs: 80})
	query := `sum(rate(http_requests_total{service="{{args.service-name}}",status=~"2.."}[2m])) / sum(rate(http_requests_total{service="{{args.service-name}}"}[2m]))`
	resolved := `sum(rate(http_requests_total{service="bench",status=~"2.."}[2m])) / sum(rate(http_requests_total{service="bench"}[2m]))`
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := server.WaitForData(wctx, resolved); err != nil {
		return nil, err
	}
	templates, err := analysis.LoadTemplates([]byte(`apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: success-rate}
spec:
  args:
  - name: service-name
  metrics:
  - name: success-rate
    interval: 1s
    count: ` + strconv.Itoa(analysisMeasurements) + `
    successCondition: result[0] >= 0.95
    failureLimit: 3
    provider:
      prometheus:
        address: ` + server.Addr + `
        query: '` + query + `'
`))
	if err != nil {
		return nil, err
	}
	provider := prometheus.New()
	counting := &countingProvider{p: provider}
	svc := "bench"
	run, err := analysis.NewRun(templates, []analysis.Arg{{Name: "service-name", Value: &svc}},
		map[string]analysis.Provider{prometheus.Kind: counting})
	if err != nil {
		return nil, err
	}
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	start := time.Now()
	for !run.Phase().Completed() {
		next, err := run.Step(ctx, now)
		if err != nil {
			return nil, err
		}
		if next.IsZero() {
			break
		}
		now = next
	}
	total := time.Since(start)
	if run.Phase() != analysis.PhaseSuccessful || counting.n != analysisMeasurements {
		return nil, fmt.Errorf("analysis-10000: run ended %s after %d measurements", run.Phase(), counting.n)
	}

	// The same queries, straight through the provider.
	q := analysis.Query{Metric: "success-rate", Kind: prometheus.Kind, Spec: map[string]any{"address": server.Addr, "query": resolved}}
	start = time.Now()
	for range analysisMeasurements {
		if _, err := provider.Measure(ctx, q); err != nil {
			return nil, err
		}
	}
	queries := time.Since(start)
	overhead := max(total-counting.in, time.Microsecond)
	return []result{{
		Name: "analysis-10000", Converge: overhead, PeerName: "prometheus-query", Peer: queries,
		Requests: int64(counting.n), Writes: -1,
		Extra: []string{
			fmt.Sprintf("run=%s", seconds(total)),
			fmt.Sprintf("overhead_us_per_measurement=%.1f", float64(overhead.Microseconds())/analysisMeasurements),
			fmt.Sprintf("query_us_per_measurement=%.1f", float64(queries.Microseconds())/analysisMeasurements),
		},
	}}, nil
}

// countingProvider counts measurements and the time spent in them.
type countingProvider struct {
	p  analysis.Provider
	n  int
	in time.Duration
}

func (c *countingProvider) Measure(ctx context.Context, q analysis.Query) (analysis.Result, error) {
	c.n++
	start := time.Now()
	defer func() { c.in += time.Since(start) }()
	return c.p.Measure(ctx, q)
}
