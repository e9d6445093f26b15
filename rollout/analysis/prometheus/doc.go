// Package prometheus is the "prometheus" provider of package analysis:
// Argo Rollouts' prometheus metric provider (v1.9), without its CRD
// types, on github.com/prometheus/client_golang's API client. A block's
// address, query, timeout, insecure, headers (a bearer token goes in an
// Authorization header), OAuth2 client credentials and rangeQuery work
// as in Rollouts; sigv4 is refused by name.
//
//	p := prometheus.New(prometheus.WithTimeout(10 * time.Second))
//	res, err := p.Measure(ctx, analysis.Query{Metric: "success-rate", Kind: prometheus.Kind,
//		Spec: map[string]any{"address": "http://prometheus:9090", "query": `sum(rate(...))`}})
//	// res.Value: []float64{0.97} for a vector, res.Text: "[0.97]"
//
// # Results
//
// Values are shaped as Rollouts shapes them, so conditions written for
// Rollouts (result[0] >= 0.95, len(result) == 0, isNaN(result[0])) mean
// the same: a vector is a []float64, a scalar a float64, a matrix every
// sample flattened into a []float64, an empty vector an empty slice; NaN
// and ±Inf pass through. A Result never carries a Phase: the conditions
// decide.
//
// # Faults
//
// A server that is down or slower than the timeout, an answer that is not
// Prometheus JSON (HTML, truncated, no "status"), a string result, or an
// answer over the size limit ([WithMaxResponseBytes], read no further)
// is an *[Error] naming the metric and the address. No error shows a
// header value or an OAuth2 client secret, even when the server echoes
// them.
package prometheus
