// Package web is the "web" provider of package analysis: Argo Rollouts'
// web metric provider, without its CRD types. One HTTP request (method,
// url, headers, body or jsonBody, timeoutSeconds, insecure, OAuth2
// client credentials); the value the jsonPath (k8s.io/client-go's
// jsonpath, as Rollouts uses) selects in the JSON answer is what the
// metric's conditions see as result.
//
//	p := web.New()
//	res, err := p.Measure(ctx, analysis.Query{Metric: "error-rate", Kind: web.Kind,
//		Spec: map[string]any{"url": "http://metrics.example/api", "jsonPath": "{$.data.ok}"}})
//	// res.Value: the selected value (float64 for a JSON number)
//
// # Differences from Rollouts
//
// An answer that is not JSON is its text, for the conditions to judge;
// Rollouts marks it Successful without evaluating them, which lets an
// HTML error page pass. An answer's size is bounded
// ([WithMaxResponseBytes]). No error shows a header value or the body.
package web
