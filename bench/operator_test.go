package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
)

func TestParseMetricsSumsByLabel(t *testing.T) {
	m, err := parseMetrics(strings.NewReader(`# HELP rest_client_requests_total Number of HTTP requests
# TYPE rest_client_requests_total counter
rest_client_requests_total{code="200",host="127.0.0.1:6443",method="GET"} 120
rest_client_requests_total{code="201",host="127.0.0.1:6443",method="POST"} 7
rest_client_requests_total{code="200",host="127.0.0.1:6443",method="PATCH"} 3
controller_runtime_reconcile_total{controller="application",result="success"} 40
controller_runtime_reconcile_total{controller="application",result="error"} 2
controller_runtime_reconcile_total{controller="applicationset",result="success"} 9
go_gc_duration_seconds{quantile="0.5"} NaN
`))
	require.NoError(t, err)
	assert.Equal(t, apiRequests{all: 130, writes: 10}, m.apiRequests())
	assert.Equal(t, 42.0, m.sum("controller_runtime_reconcile_total", `controller="application"`))
	assert.Equal(t, 0.0, m.sum("controller_runtime_reconcile_total", `controller="kustomization"`))
}

// Both kinds' statuses read the same: Ready for the generation at the
// commit.
func TestReadyAt(t *testing.T) {
	obj := func(gen, observed int64, ready, rev string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"metadata": map[string]any{"name": "app-000", "generation": gen},
			"status": map[string]any{"observedGeneration": observed, "lastAppliedRevision": rev,
				"conditions": []any{map[string]any{"type": "Ready", "status": ready, "reason": "R", "message": "m"}}},
		}}
	}
	ok, _ := readyAt(obj(2, 2, "True", "main@sha1:abc123"), "abc123")
	assert.True(t, ok)
	ok, _ = readyAt(obj(2, 1, "True", "main@sha1:abc123"), "abc123")
	assert.False(t, ok, "an older generation")
	ok, _ = readyAt(obj(2, 2, "True", "main@sha1:0ld"), "abc123")
	assert.False(t, ok, "another commit")
	ok, why := readyAt(obj(2, 2, "False", "main@sha1:abc123"), "abc123")
	assert.False(t, ok)
	assert.Equal(t, "R: m", why)
}

func TestOperatorTreeHoldsTwentyConfigMapsPerApp(t *testing.T) {
	tree := operatorTree("7")
	assert.Len(t, tree, 2*opApps+1)
	for _, app := range []string{opAppName(0), opAppName(opApps - 1)} {
		objs, err := object.DecodeBytes([]byte(tree["apps/"+app+"/configmaps.yaml"]), object.DefaultDecodeOptions())
		require.NoError(t, err)
		require.Len(t, objs, opObjects)
		for _, o := range objs {
			assert.Equal(t, "ConfigMap", o.GetKind())
			assert.Empty(t, o.GetNamespace(), "each tool sets the namespace")
			assert.Equal(t, "operator", o.GetLabels()["bench"])
		}
		v, _, _ := unstructured.NestedString(objs[0].Object, "data", "version")
		assert.Equal(t, map[bool]string{true: "7", false: "1"}[app == opAppName(0)], v, "only app-000's first ConfigMap changes")
	}
}
