package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/converge-dev/converge/rollout/analysis"
	"github.com/converge-dev/converge/rollout/analysis/web"
)

// Measure a web metric: the jsonPath's value is what conditions see.
func ExampleProvider_Measure() {
	// A stand-in for a metrics API.
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"data":{"successRate":0.98}}`)
	}))
	defer api.Close()

	res, err := web.New().Measure(context.Background(), analysis.Query{
		Metric: "success-rate",
		Kind:   web.Kind,
		Spec:   map[string]any{"url": api.URL, "jsonPath": "{$.data.successRate}", "timeoutSeconds": 5},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%v %s\n", res.Value, res.Text)
	// Output: 0.98 0.98
}
