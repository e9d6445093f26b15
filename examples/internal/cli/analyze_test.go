package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// analyze runs a template through the web provider to its verdict and
// exits by it: 0 Successful, 1 Failed, 4 Inconclusive, 2 bad usage.
func TestAnalyzeExitsByTheVerdict(t *testing.T) {
	var value atomic.Value
	value.Store("0.99")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":{"rate":` + value.Load().(string) + `}}`))
	}))
	t.Cleanup(srv.Close)
	template := func(count, success, failure string) string {
		p := filepath.Join(t.TempDir(), "template.yaml")
		body := `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: rate}
spec:
  args:
  - name: path
  metrics:
  - name: rate
    interval: 1s
    count: ` + count + `
    successCondition: ` + success + `
    failureCondition: ` + failure + `
    provider:
      web:
        url: ` + srv.URL + `/{{args.path}}
        jsonPath: "{$.data.rate}"
`
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	ok := template("2", "result >= 0.95", "result < 0.5")
	r := converge(t, "analyze", "--template", ok, "--arg", "path=metrics")
	assert.Equal(t, ExitOK, r.code, r.stderr)
	assert.Equal(t, 2, strings.Count(r.stdout, " Successful "), r.stdout)
	assert.Contains(t, r.stdout, "Analysis Successful")

	value.Store("0.2")
	r = converge(t, "analyze", "--template", ok, "--arg", "path=metrics", "--once")
	assert.Equal(t, ExitFailed, r.code)
	assert.Contains(t, r.stdout, "Analysis Failed")

	value.Store("0.7")
	r = converge(t, "analyze", "--template", ok, "--arg", "path=metrics", "--once")
	assert.Equal(t, ExitInconclusive, r.code)
	assert.Contains(t, r.stdout, "Analysis Inconclusive")

	for name, args := range map[string][]string{
		"no template":   {"analyze"},
		"missing arg":   {"analyze", "--template", ok},
		"bad arg":       {"analyze", "--template", ok, "--arg", "path"},
		"bad condition": {"analyze", "--template", template("1", "result >=", "false")},
		"bad count":     {"analyze", "--template", template("-1", "true", "false"), "--arg", "path=x"},
	} {
		t.Run(name, func(t *testing.T) {
			r := converge(t, args...)
			assert.Equal(t, ExitUsage, r.code, r.stderr)
			assert.NotEmpty(t, r.stderr)
		})
	}
}
