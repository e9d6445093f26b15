package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunGitopsPatternsTemplate(t *testing.T) {
	data, err := os.ReadFile("testdata/success-rate.yaml")
	require.NoError(t, err)
	ts, err := LoadTemplates(data)
	require.NoError(t, err)
	prom := &script{replies: []reply{ok(0.99), ok(120)}}
	providers := map[string]Provider{"prometheus": ProviderFunc(func(ctx context.Context, q Query) (Result, error) {
		if strings.Contains(q.Spec["query"].(string), "histogram_quantile") {
			return Result{Value: []float64{120}}, nil
		}
		return prom.Measure(ctx, q)
	})}

	_, err = NewRun(ts, nil, providers)
	require.ErrorIs(t, err, ErrMissingArg)
	assert.Contains(t, err.Error(), "args.service-name")

	r, err := NewRun(ts, []Arg{{Name: "service-name", Value: str("checkout")}}, providers)
	require.NoError(t, err)
	steps := drive(t, r, t0, nil)
	assert.Equal(t, PhaseSuccessful, r.Phase())
	assert.Len(t, steps, 5)
	require.NotEmpty(t, prom.queries)
	assert.Contains(t, prom.queries[0].Spec["query"], `service="checkout",status=~"2.."`)
	assert.Equal(t, "prometheus", prom.queries[0].Kind)
	assert.Equal(t, "success-rate", prom.queries[0].Metric)
}

func TestRunArgs(t *testing.T) {
	cases := map[string]struct {
		spec    string
		args    []Arg
		wantErr error
		errHas  string
		check   func(t *testing.T, r *Run, p *script)
	}{
		"spaces in the tag": {
			spec: "  args: [{name: x}]\n  metrics:\n  - name: m\n    provider: {web: {url: \"http://h/{{ args.x }}\"}}\n",
			args: []Arg{{Name: "x", Value: str("a\"b\n")}},
			check: func(t *testing.T, r *Run, p *script) {
				assert.Equal(t, "http://h/a\"b\n", p.queries[0].Spec["url"])
			},
		},
		"default value": {
			spec: "  args: [{name: x, value: dflt}]\n  metrics:\n  - name: m\n    provider: {web: {url: \"{{args.x}}\"}}\n",
			check: func(t *testing.T, r *Run, p *script) {
				assert.Equal(t, "dflt", p.queries[0].Spec["url"])
			},
		},
		"host value over the default": {
			spec: "  args: [{name: x, value: dflt}]\n  metrics:\n  - name: m\n    provider: {web: {url: \"{{args.x}}\"}}\n",
			args: []Arg{{Name: "x", Value: str("given")}, {Name: "undeclared", Value: str("ignored, as in Rollouts")}},
			check: func(t *testing.T, r *Run, p *script) {
				assert.Equal(t, "given", p.queries[0].Spec["url"])
			},
		},
		"args in count, limits and conditions": {
			spec: "  args: [{name: cnt}, {name: th}]\n  metrics:\n  - name: m\n    count: \"{{args.cnt}}\"\n    interval: 10s\n    failureLimit: \"{{args.cnt}}\"\n    successCondition: result[0] >= {{args.th}}\n    provider: {web: {}}\n",
			args: []Arg{{Name: "cnt", Value: str("3")}, {Name: "th", Value: str("0.5")}},
			check: func(t *testing.T, r *Run, p *script) {
				assert.Len(t, p.queries, 3)
				assert.Equal(t, int32(3), r.Status().Metrics[0].Failed, "failures within failureLimit 3")
				assert.Equal(t, PhaseSuccessful, r.Phase())
			},
		},
		"missing arg names it": {
			spec:    "  args: [{name: service}]\n  metrics:\n  - name: m\n    provider: {web: {}}\n",
			wantErr: ErrMissingArg, errHas: "args.service was not resolved",
		},
		"undeclared reference names it": {
			spec:    "  metrics:\n  - name: m\n    provider: {web: {url: \"{{args.nope}}\"}}\n",
			wantErr: ErrMissingArg, errHas: "{{args.nope}}",
		},
		"unterminated tag": {
			spec:    "  metrics:\n  - name: m\n    provider: {web: {url: \"{{args.nope\"}}\n",
			wantErr: ErrMissingArg, errHas: "metrics[0].provider",
		},
		"templated count that is not a number": {
			spec:    "  args: [{name: cnt, value: many}]\n  metrics:\n  - name: m\n    count: \"{{args.cnt}}\"\n    interval: 1m\n    provider: {web: {}}\n",
			wantErr: ErrInvalidValue, errHas: "metrics[0].count",
		},
		"templated condition that does not compile": {
			spec:    "  args: [{name: th, value: \">\"}]\n  metrics:\n  - name: m\n    successCondition: result {{args.th}}\n    provider: {web: {}}\n",
			wantErr: ErrCondition, errHas: "metrics[0]",
		},
		"unsupported provider names it and what the host has": {
			spec:    "  metrics:\n  - name: m\n    provider: {datadog: {query: q}}\n",
			wantErr: ErrUnsupportedProvider, errHas: `provider "datadog" is not supported here (have: prometheus, web)`,
		},
		"secret without a resolver": {
			spec:    "  args: [{name: tok, valueFrom: {secretKeyRef: {name: s, key: k}}}]\n  metrics:\n  - name: m\n    provider: {web: {}}\n",
			wantErr: ErrMissingArg, errHas: "args.tok",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := &script{replies: []reply{ok(0.1), ok(0.1), ok(0.1)}}
			r, err := NewRun(load(t, tc.spec), tc.args, map[string]Provider{"web": p, "prometheus": p})
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.Contains(t, err.Error(), tc.errHas)
				return
			}
			require.NoError(t, err)
			drive(t, r, t0, nil)
			tc.check(t, r, p)
		})
	}
}

const secretValue = "s3cr3t-t0ken"

func TestRunSecrets(t *testing.T) {
	spec := "  args: [{name: tok, valueFrom: {secretKeyRef: {name: creds, key: token}}}]\n" +
		"  metrics:\n  - name: m\n    count: 2\n    interval: 10s\n    consecutiveErrorLimit: 3\n" +
		"    provider: {web: {url: http://h, headers: [{key: Authorization, value: \"Bearer {{args.tok}}\"}]}}\n"
	resolver := SecretResolverFunc(func(ctx context.Context, ref SecretKeyRef) (string, error) {
		if ref.Name == "creds" && ref.Key == "token" {
			return secretValue, nil
		}
		return "", errors.New("no such secret")
	})
	t.Run("the provider gets it; nothing recorded holds it", func(t *testing.T) {
		var seen []string
		p := ProviderFunc(func(ctx context.Context, q Query) (Result, error) {
			h := q.Spec["headers"].([]any)[0].(map[string]any)["value"].(string)
			seen = append(seen, h)
			if len(seen) == 1 {
				return Result{}, fmt.Errorf("401 for token %s", h)
			}
			return Result{Value: h, Text: "got " + h, Metadata: map[string]string{"auth": h}}, nil
		})
		r, err := NewRun(load(t, spec), nil, map[string]Provider{"web": p}, WithSecretResolver(resolver))
		require.NoError(t, err)
		drive(t, r, t0, nil)
		assert.Equal(t, PhaseSuccessful, r.Phase())
		require.NotEmpty(t, seen)
		assert.Equal(t, "Bearer "+secretValue, seen[0])
		st := r.Status()
		assert.Equal(t, "401 for token Bearer *****", st.Metrics[0].Measurements[0].Message)
		data, err := json.Marshal(r)
		require.NoError(t, err)
		assert.NotContains(t, string(data), secretValue)
		assert.NotContains(t, fmt.Sprintf("%+v", st), secretValue)
	})
	t.Run("a resolver's error ends the run as Error, without the value", func(t *testing.T) {
		bad := SecretResolverFunc(func(ctx context.Context, ref SecretKeyRef) (string, error) {
			return "", errors.New("forbidden")
		})
		r, err := NewRun(load(t, spec), nil, map[string]Provider{"web": &script{replies: []reply{ok(1)}}}, WithSecretResolver(bad))
		require.NoError(t, err)
		next, err := r.Step(context.Background(), t0)
		require.NoError(t, err)
		assert.True(t, next.IsZero())
		assert.Equal(t, PhaseError, r.Phase())
		assert.Contains(t, r.Status().Message, "args.tok")
		assert.Contains(t, r.Status().Message, "forbidden")
	})
	t.Run("a secret arg in a condition is refused", func(t *testing.T) {
		s := "  args: [{name: tok, valueFrom: {secretKeyRef: {name: creds, key: token}}}]\n" +
			"  metrics:\n  - name: m\n    successCondition: result == \"{{args.tok}}\"\n    provider: {web: {}}\n"
		_, err := NewRun(load(t, s), nil, map[string]Provider{"web": &script{}}, WithSecretResolver(resolver))
		require.ErrorIs(t, err, ErrInvalidValue)
		assert.Contains(t, err.Error(), "metrics[0].successCondition")
		assert.Contains(t, err.Error(), "args.tok comes from a Secret")
	})
}

func TestRunMergeTemplates(t *testing.T) {
	tpl := func(kind, name, spec string) *Template {
		ts, err := LoadTemplates([]byte("apiVersion: argoproj.io/v1alpha1\nkind: " + kind + "\nmetadata: {name: " + name + "}\nspec:\n" + spec))
		require.NoError(t, err)
		return ts[0]
	}
	metric := func(n string) string { return "  - name: " + n + "\n    provider: {web: {url: \"{{args.x}}\"}}\n" }
	cases := map[string]struct {
		templates []*Template
		errHas    string
		metrics   []string
		url       string
	}{
		"metrics appended, AnalysisTemplates first": {
			templates: []*Template{
				tpl("ClusterAnalysisTemplate", "c", "  args: [{name: x}]\n  metrics:\n"+metric("c1")),
				tpl("AnalysisTemplate", "a", "  args: [{name: x, value: v}]\n  metrics:\n"+metric("a1")),
			},
			metrics: []string{"a1", "c1"}, url: "v",
		},
		"a value is not replaced by none": {
			templates: []*Template{
				tpl("AnalysisTemplate", "a", "  args: [{name: x, value: v}]\n  metrics:\n"+metric("a1")),
				tpl("AnalysisTemplate", "b", "  args: [{name: x}]\n  metrics:\n"+metric("b1")),
			},
			metrics: []string{"a1", "b1"}, url: "v",
		},
		"same values agree": {
			templates: []*Template{
				tpl("AnalysisTemplate", "a", "  args: [{name: x, value: v}]\n  metrics:\n"+metric("a1")),
				tpl("AnalysisTemplate", "b", "  args: [{name: x, value: v}]\n  metrics:\n"+metric("b1")),
			},
			metrics: []string{"a1", "b1"}, url: "v",
		},
		"conflicting values": {
			templates: []*Template{
				tpl("AnalysisTemplate", "a", "  args: [{name: x, value: v}]\n  metrics:\n"+metric("a1")),
				tpl("AnalysisTemplate", "b", "  args: [{name: x, value: w}]\n  metrics:\n"+metric("b1")),
			},
			errHas: `AnalysisTemplate/b: spec.args: argument "x" specified multiple times with different values`,
		},
		"duplicate metric names": {
			templates: []*Template{
				tpl("AnalysisTemplate", "a", "  args: [{name: x, value: v}]\n  metrics:\n"+metric("m")),
				tpl("ClusterAnalysisTemplate", "b", "  metrics:\n"+metric("m")),
			},
			errHas: `two metrics have the same name "m" (also in AnalysisTemplate/a)`,
		},
		"duplicate dryRun rules": {
			templates: []*Template{
				tpl("AnalysisTemplate", "a", "  args: [{name: x, value: v}]\n  dryRun: [{metricName: a1}]\n  metrics:\n"+metric("a1")),
				tpl("AnalysisTemplate", "b", "  dryRun: [{metricName: a1}]\n  metrics:\n"+metric("b1")),
			},
			errHas: `two Dry-Run metric rules have the same name "a1"`,
		},
		"a dryRun rule matching nothing": {
			templates: []*Template{tpl("AnalysisTemplate", "a", "  args: [{name: x, value: v}]\n  dryRun: [{metricName: zzz}]\n  metrics:\n"+metric("a1"))},
			errHas:    "dryRun[0]: rule didn't match any metric name(s)",
		},
		"no metrics": {
			templates: []*Template{tpl("AnalysisTemplate", "a", "  metrics: []\n")},
			errHas:    "no metrics specified",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := &script{replies: []reply{ok(1)}}
			r, err := NewRun(tc.templates, nil, map[string]Provider{"web": p})
			if tc.errHas != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.errHas)
				return
			}
			require.NoError(t, err)
			drive(t, r, t0, nil)
			var names []string
			for _, m := range r.Status().Metrics {
				names = append(names, m.Name)
			}
			assert.Equal(t, tc.metrics, names)
			assert.Equal(t, tc.url, p.queries[0].Spec["url"])
		})
	}
}

// A metric that ends the run ends it in the same Step, as Rollouts'
// immediate second reconcile does.
func TestRunEndsInTheStepThatDecides(t *testing.T) {
	ts := load(t, "  metrics:\n  - name: a\n    successCondition: result[0] > 0.5\n    provider: {web: {}}\n"+
		"  - name: b\n    interval: 1m\n    provider: {web: {}}\n")
	r, err := NewRun(ts, nil, map[string]Provider{"web": &script{replies: []reply{ok(0), ok(1)}}})
	require.NoError(t, err)
	next, err := r.Step(context.Background(), t0)
	require.NoError(t, err)
	assert.True(t, next.IsZero())
	assert.Equal(t, PhaseFailed, r.Phase())
	assert.Equal(t, PhaseSuccessful, r.Status().Metrics[1].Phase)
	assert.Equal(t, t0, *r.Status().CompletedAt)
}
