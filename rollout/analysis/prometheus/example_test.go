package prometheus_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/converge-dev/converge/rollout/analysis"
	"github.com/converge-dev/converge/rollout/analysis/prometheus"
)

// Measure the success-rate metric of an AnalysisTemplate; the vector is
// shaped as Rollouts shapes it. (The tests run the same against a real
// Prometheus; the example uses a stand-in.)
func ExampleProvider_Measure() {
	stand := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"0.97"]}]}}`)
	}))
	defer stand.Close()

	p := prometheus.New(prometheus.WithAddress(stand.URL))
	res, err := p.Measure(context.Background(), analysis.Query{
		Metric: "success-rate",
		Kind:   prometheus.Kind,
		Spec: map[string]any{
			"query":   `sum(rate(http_requests_total{service="checkout",status=~"2.."}[2m])) / sum(rate(http_requests_total{service="checkout"}[2m]))`,
			"timeout": 5,
			"headers": []any{map[string]any{"key": "Authorization", "value": "Bearer s3cret"}},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Value, res.Text)
	// Output: [0.97] [0.97]
}

// A failure names the metric and the address; never a header's value.
func ExampleError() {
	p := prometheus.New()
	_, err := p.Measure(context.Background(), analysis.Query{
		Metric: "success-rate",
		Spec:   map[string]any{"address": "http://127.0.0.1:1", "query": "up", "headers": []any{map[string]any{"key": "Authorization", "value": "Bearer s3cret"}}},
	})
	fmt.Println(err)
	// Output: prometheus metric "success-rate" at http://127.0.0.1:1: query: Post: dial tcp 127.0.0.1:1: connect: connection refused
}
