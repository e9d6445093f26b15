package analysis

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadTemplatesGitopsPatterns(t *testing.T) {
	data, err := os.ReadFile("testdata/success-rate.yaml")
	require.NoError(t, err)
	ts, err := LoadTemplates(data)
	require.NoError(t, err)
	require.Len(t, ts, 1)
	tpl := ts[0]
	assert.Equal(t, "AnalysisTemplate/success-rate", tpl.String())
	require.Len(t, tpl.Args, 1)
	assert.Equal(t, "service-name", tpl.Args[0].Name)
	assert.Nil(t, tpl.Args[0].Value)
	require.Len(t, tpl.Metrics, 2)
	m := tpl.Metrics[0]
	assert.Equal(t, "success-rate", m.Name)
	assert.Equal(t, "30s", m.Interval)
	assert.Equal(t, int32(5), m.Count.IntVal)
	assert.Equal(t, "result[0] >= 0.95", m.SuccessCondition)
	assert.Equal(t, int32(3), m.FailureLimit.IntVal)
	assert.Equal(t, "prometheus", m.Provider.Kind)
	assert.Equal(t, "http://prometheus.monitoring:9090", m.Provider.Spec["address"])
	assert.Contains(t, m.Provider.Spec["query"], `service="{{args.service-name}}"`)
	assert.Equal(t, "p99-latency", tpl.Metrics[1].Name)
}

func TestLoadTemplatesMulti(t *testing.T) {
	data := `
# comment only
---
apiVersion: argoproj.io/v1alpha1
kind: ClusterAnalysisTemplate
metadata: {name: a, labels: {x: y}}
spec:
  args: [{name: t, value: "0.9"}, {name: tok, valueFrom: {secretKeyRef: {name: s, key: k}}}]
  dryRun: [{metricName: "a.*"}]
  measurementRetention: [{metricName: a1, limit: 3}]
  metrics:
    - name: a1
      count: "{{args.n}}"
      interval: 1m
      initialDelay: 10s
      failureCondition: result > 1
      consecutiveErrorLimit: 2
      consecutiveSuccessLimit: 1
      inconclusiveLimit: 1
      provider: {web: {url: "http://x/{{ args.t }}", jsonPath: "{$.v}", timeoutSeconds: 5}}
---
{"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": "b"}, "spec": {"metrics": [{"name": "b1", "provider": {"job": {"spec": {}}}}]}}
`
	ts, err := LoadTemplates([]byte(data))
	require.NoError(t, err)
	require.Len(t, ts, 2)
	assert.Equal(t, KindClusterAnalysisTemplate, ts[0].Kind)
	assert.Equal(t, "{{args.n}}", ts[0].Metrics[0].Count.StrVal)
	assert.Equal(t, float64(5), ts[0].Metrics[0].Provider.Spec["timeoutSeconds"])
	assert.Equal(t, "s", ts[0].Args[1].ValueFrom.SecretKeyRef.Name)
	assert.Equal(t, []DryRun{{MetricName: "a.*"}}, ts[0].DryRun)
	assert.Equal(t, int32(3), ts[0].MeasurementRetention[0].Limit)
	assert.Equal(t, "job", ts[1].Metrics[0].Provider.Kind)
}

func TestLoadTemplatesErrors(t *testing.T) {
	header := "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: bad}\nspec:\n"
	metric := func(fields string) string {
		return header + "  metrics:\n  - name: m\n    provider: {prometheus: {query: q}}\n" + fields
	}
	cases := map[string]struct {
		yaml  string
		field string // in the error
		want  error
	}{
		"unknown top field":       {header + "  metrics: []\nstatus: {}\n", "status", ErrUnknownField},
		"unknown spec field":      {header + "  metricz: []\n", "spec.metricz", ErrUnknownField},
		"unknown metric field":    {metric("    intervall: 1m\n"), "spec.metrics[0].intervall", ErrUnknownField},
		"unknown arg field":       {header + "  args: [{name: a, default: x}]\n", "spec.args[0].default", ErrUnknownField},
		"unknown metadata field":  {"apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {nam: x}\nspec: {}\n", "metadata.nam", ErrUnknownField},
		"unknown provider":        {header + "  metrics:\n  - name: m\n    provider: {stackdriver: {}}\n", "spec.metrics[0].provider.stackdriver", ErrUnknownField},
		"two providers":           {header + "  metrics:\n  - name: m\n    provider: {web: {}, job: {}}\n", "multiple providers specified: job, web", ErrInvalidValue},
		"no provider":             {header + "  metrics:\n  - name: m\n    provider: {}\n", "no provider specified", ErrInvalidValue},
		"other kind":              {"apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r}\nspec: {}\n", "kind", ErrUnsupportedKind},
		"other apiVersion":        {"apiVersion: argoproj.io/v1\nkind: AnalysisTemplate\nmetadata: {name: r}\nspec: {}\n", "apiVersion", ErrUnsupportedKind},
		"fieldRef":                {header + "  args: [{name: a, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]\n", "spec.args[0].valueFrom.fieldRef", ErrUnsupported},
		"template refs":           {header + "  templates: [{templateName: x}]\n", "spec.templates", ErrUnsupported},
		"zero interval":           {metric("    interval: 0s\n"), "spec.metrics[0].interval", ErrInvalidValue},
		"negative interval":       {metric("    interval: -5s\n"), "spec.metrics[0].interval", ErrInvalidValue},
		"absurd interval":         {metric("    interval: 10000h\n"), "spec.metrics[0].interval", ErrInvalidValue},
		"bad interval":            {metric("    interval: soon\n"), "spec.metrics[0].interval", ErrInvalidValue},
		"negative initialDelay":   {metric("    initialDelay: -1s\n"), "spec.metrics[0].initialDelay", ErrInvalidValue},
		"zero count":              {metric("    count: 0\n"), "spec.metrics[0].count", ErrInvalidValue},
		"negative count":          {metric("    count: -3\n    interval: 1m\n"), "spec.metrics[0].count", ErrInvalidValue},
		"absurd count":            {metric("    count: 2000000000\n    interval: 1m\n"), "spec.metrics[0].count", ErrInvalidValue},
		"huge count":              {metric("    count: 99999999999\n"), "spec.metrics[0].count", ErrInvalidValue},
		"string count":            {metric("    count: lots\n"), "spec.metrics[0].count", ErrInvalidValue},
		"count without interval":  {metric("    count: 3\n"), "spec.metrics[0].interval", ErrInvalidValue},
		"count below failureLim":  {metric("    count: 2\n    interval: 1m\n    failureLimit: 3\n"), "spec.metrics[0].count", ErrInvalidValue},
		"failureLimit -2":         {metric("    failureLimit: -2\n"), "spec.metrics[0].failureLimit", ErrInvalidValue},
		"both limits disabled":    {metric("    failureLimit: -1\n"), "spec.metrics[0].failureLimit", ErrInvalidValue},
		"negative inconclusive":   {metric("    inconclusiveLimit: -1\n"), "spec.metrics[0].inconclusiveLimit", ErrInvalidValue},
		"negative consecutiveErr": {metric("    consecutiveErrorLimit: -1\n"), "spec.metrics[0].consecutiveErrorLimit", ErrInvalidValue},
		"negative consecutiveOK":  {metric("    consecutiveSuccessLimit: -1\n"), "spec.metrics[0].consecutiveSuccessLimit", ErrInvalidValue},
		"bool count":              {metric("    count: true\n"), "spec.metrics[0].count", ErrInvalidValue},
		"condition syntax":        {metric("    successCondition: result[0] >=\n"), "spec.metrics[0].successCondition", ErrCondition},
		"condition too big":       {metric("    failureCondition: " + strings.Repeat("1 + ", 2000) + "1 > 0\n"), "spec.metrics[0].failureCondition", ErrCondition},
		"duplicate metric":        {metric("  - name: m\n    provider: {web: {}}\n"), "spec.metrics[1].name", ErrInvalidValue},
		"duplicate arg":           {header + "  args: [{name: a}, {name: a}]\n", "spec.args[1].name", ErrInvalidValue},
		"bad dryRun regexp":       {header + "  dryRun: [{metricName: \"(\"}]\n", "spec.dryRun[0].metricName", ErrInvalidValue},
		"negative retention":      {header + "  measurementRetention: [{metricName: m, limit: -1}]\n", "spec.measurementRetention[0].limit", ErrInvalidValue},
		"provider not an object":  {header + "  metrics:\n  - name: m\n    provider: {web: 3}\n", "spec.metrics[0].provider.web", ErrInvalidValue},
		"metrics not a list":      {header + "  metrics: {a: b}\n", "spec.metrics", ErrInvalidValue},
		"empty metric name":       {header + "  metrics:\n  - provider: {web: {}}\n", "spec.metrics[0].name", ErrInvalidValue},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := LoadTemplates([]byte(tc.yaml))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.field)
			assert.ErrorIs(t, err, tc.want)
			if !strings.Contains(name, "kind") && !strings.Contains(name, "apiVersion") && !strings.Contains(name, "metadata") {
				assert.Contains(t, err.Error(), "AnalysisTemplate/bad")
			}
		})
	}
}

func TestLoadTemplatesBounds(t *testing.T) {
	_, err := LoadTemplates(make([]byte, MaxTemplateBytes+1))
	assert.Error(t, err)
	_, err = LoadTemplates([]byte("a: &a [*a, *a]\n"))
	assert.Error(t, err)
	_, err = LoadTemplates([]byte("{ not yaml"))
	assert.Error(t, err)
}
