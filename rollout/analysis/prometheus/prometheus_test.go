package prometheus_test

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/promtest"
	"github.com/converge-dev/converge/rollout/analysis"
	"github.com/converge-dev/converge/rollout/analysis/prometheus"
)

// The queries of the AnalysisTemplate in shared/gitops-patterns.md, with
// {{args.service-name}} substituted here (substitution is the core's).
const (
	successRateQuery = `sum(rate(http_requests_total{service="{{args.service-name}}",status=~"2.."}[2m]))
/
sum(rate(http_requests_total{service="{{args.service-name}}"}[2m]))`
	p99Query = `histogram_quantile(0.99,
  sum(rate(http_request_duration_ms_bucket{service="{{args.service-name}}"}[2m])) by (le)
)`
)

func substitute(q, service string) string {
	return strings.ReplaceAll(q, "{{args.service-name}}", service)
}

func service(t *testing.T) string {
	return strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + "-" + strconv.Itoa(rand.IntN(1e6))
}

func TestPrometheusTemplateQueries(t *testing.T) {
	server, target := prom.Start(t)
	cases := map[string]struct {
		traffic     promtest.Traffic
		successRate float64
		p99         float64
	}{
		"good": {promtest.Traffic{RPS: 100, ErrorRatio: 0.01, LatencyMs: 80}, 0.99, 50 + 50*0.99},    // p99 inside (50,100]
		"bad":  {promtest.Traffic{RPS: 100, ErrorRatio: 0.25, LatencyMs: 800}, 0.75, 500 + 500*0.99}, // inside (500,1000]
	}
	services := map[string]string{}
	for name, tc := range cases {
		services[name] = service(t) + "-" + name
		target.Set(services[name], tc.traffic)
	}
	for name := range cases {
		server.Wait(t, substitute(successRateQuery, services[name]))
	}
	p := prometheus.New()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := p.Measure(context.Background(), analysis.Query{Metric: "success-rate", Kind: prometheus.Kind,
				Spec: map[string]any{"address": server.Addr, "query": substitute(successRateQuery, services[name])}})
			require.NoError(t, err)
			v := res.Value.([]float64)
			require.Len(t, v, 1)
			assert.InDelta(t, tc.successRate, v[0], 1e-9)
			assert.Equal(t, "["+strconv.FormatFloat(v[0], 'f', -1, 64)+"]", res.Text)

			res, err = p.Measure(context.Background(), analysis.Query{Metric: "p99-latency", Kind: prometheus.Kind,
				Spec: map[string]any{"address": server.Addr, "query": substitute(p99Query, services[name])}})
			require.NoError(t, err)
			v = res.Value.([]float64)
			require.Len(t, v, 1)
			assert.InDelta(t, tc.p99, v[0], 1e-6)
		})
	}
}

func TestPrometheusScalarEmptyMatrixString(t *testing.T) {
	server, target := prom.Start(t)
	svc := service(t)
	target.Set(svc, promtest.Traffic{RPS: 10, LatencyMs: 20})
	server.Wait(t, `rate(http_requests_total{service="`+svc+`"}[1m])`)
	p := prometheus.New(prometheus.WithAddress(server.Addr))
	measure := func(q string, extra map[string]any) (analysis.Result, error) {
		spec := map[string]any{"query": q}
		for k, v := range extra {
			spec[k] = v
		}
		return p.Measure(context.Background(), analysis.Query{Metric: "m", Spec: spec})
	}

	res, err := measure(`scalar(vector(0.97))`, nil)
	require.NoError(t, err)
	assert.Equal(t, 0.97, res.Value, "a scalar is a float64")
	assert.Equal(t, "0.97", res.Text)
	res, err = measure(`scalar(sum(http_requests_total{service="`+svc+`"}))`, nil)
	require.NoError(t, err)
	assert.Greater(t, res.Value.(float64), 0.0)

	res, err = measure(`http_requests_total{service="no-such-service"}`, nil)
	require.NoError(t, err)
	assert.Equal(t, []float64{}, res.Value, "an empty vector is an empty slice")
	assert.Equal(t, "[]", res.Text)

	res, err = measure(`http_requests_total{service="`+svc+`",status="200"}[5s]`, nil)
	require.NoError(t, err)
	v := res.Value.([]float64)
	require.NotEmpty(t, v, "a matrix is flattened")
	for i := 1; i < len(v); i++ {
		assert.GreaterOrEqual(t, v[i], v[i-1], "a counter's samples, in order")
	}

	res, err = measure(`vector(1)`, map[string]any{
		"rangeQuery": map[string]any{"start": `now() - duration("10s")`, "end": "now()", "step": "1s"}})
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, res.Value, "a range query's matrix, one sample a step")
	assert.Equal(t, "[1,1,1,1,1,1,1,1,1,1,1]", res.Text)

	_, err = measure(`"hello"`, nil)
	require.Error(t, err, "a string result is an error")
	assert.Contains(t, err.Error(), `unexpected value type "string"`)

	_, err = measure(`sum(rate(`, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bad_data")
}

func TestPrometheusDown(t *testing.T) {
	server := promtest.Start(t)
	p := prometheus.New()
	q := analysis.Query{Metric: "success-rate", Spec: map[string]any{"address": server.Addr, "query": "vector(1)"}}
	res, err := p.Measure(context.Background(), q)
	require.NoError(t, err)
	assert.Equal(t, []float64{1}, res.Value)

	require.NoError(t, server.Stop())
	res, err = p.Measure(context.Background(), q)
	require.Error(t, err)
	assert.Equal(t, analysis.Result{}, res)
	assert.Contains(t, err.Error(), `prometheus metric "success-rate" at `+server.Addr)
	assert.Contains(t, err.Error(), "connection refused")
}

func TestPrometheusSlow(t *testing.T) {
	server, _ := prom.Start(t)
	u, err := url.Parse(server.Addr)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(u)
	slow := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		select {
		case <-time.After(3 * time.Second):
			proxy.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
	})}
	addr := listen(t, slow)
	p := prometheus.New()
	start := time.Now()
	_, err = p.Measure(context.Background(), analysis.Query{Metric: "m", Spec: map[string]any{"address": addr, "query": "vector(1)", "timeout": 1}})
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2500*time.Millisecond)

	res, err := p.Measure(context.Background(), analysis.Query{Metric: "m", Spec: map[string]any{"address": addr, "query": "vector(1)", "timeout": 10}})
	require.NoError(t, err, "the same proxy within the timeout")
	assert.Equal(t, []float64{1}, res.Value)
}
