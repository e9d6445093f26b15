package promtest_test

import (
	"fmt"
	"strings"

	"github.com/converge-dev/converge/internal/promtest"
)

// A Target serves the metrics a test controls, in the text format.
func ExampleTarget() {
	target := promtest.NewTarget()
	defer target.Close()
	target.Set("checkout", promtest.Traffic{RPS: 10, ErrorRatio: 0.1, LatencyMs: 80})
	for _, line := range strings.Split(target.Exposition(), "\n") {
		if strings.HasPrefix(line, "# TYPE") {
			fmt.Println(line)
		}
	}
	// Output:
	// # TYPE http_requests_total counter
	// # TYPE http_request_duration_ms histogram
}
