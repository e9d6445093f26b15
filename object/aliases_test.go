package object

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bigConfigMap is the first false positive of issue 19: a ConfigMap with
// more keys than DefaultMaxAliasNodes and an annotation that holds both
// alias markers, but no alias.
func bigConfigMap(keys int) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n  annotations:\n    note: 'Tom & Jerry *no alias here*'\ndata:\n")
	for i := range keys {
		fmt.Fprintf(&b, "  key-%d: value-%d\n", i, i)
	}
	return b.String()
}

// chartStream is the second: committed `helm template` output, many
// documents with "&" and "*" in strings and block scalars, and a few real
// anchors used once or twice.
func chartStream(docs int) string {
	var b strings.Builder
	for i := range docs {
		fmt.Fprintf(&b, `---
# Source: kube-prometheus-stack/templates/rules-%d.yaml
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: rules-%d
  namespace: monitoring
  annotations:
    description: "CPU > 90%% && memory * 2 > limit"
spec:
  groups:
  - name: group-%d
    rules:
    - alert: HighLoad
      expr: |
        sum(rate(cpu[5m])) * 100 > 90 && on(pod) kube_pod_info{node=~"a&b"}
      labels: &labels
        severity: warning
        team: '*'
      annotations:
        summary: 'load * 2 & more'
    - alert: HighLoadAgain
      expr: >
        avg(load) * 3 > 1
      labels: *labels
`, i, i, i)
	}
	return b.String()
}

func TestCheckAliases(t *testing.T) {
	// list is an anchor of 10 scalars: 11 values with the sequence itself.
	list := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nbase: &l [0,1,2,3,4,5,6,7,8,9]\nuses:\n"
	uses := func(n int) string { return list + strings.Repeat("- *l\n", n) }
	tests := map[string]struct {
		reason string
		in     string
		limit  int
		want   error // nil: passes
		line   int
	}{
		"50,001 keys and both markers": {
			reason: "written values count nothing, however many",
			in:     bigConfigMap(50_001),
		},
		"chart output": {
			reason: "markers in strings and block scalars, anchors used once",
			in:     chartStream(2_000),
		},
		"anchor without alias": {
			reason: "an anchor alone produces nothing",
			in:     "a: &x [" + strings.Repeat("1,", 200) + "1]\n",
			limit:  10,
		},
		"just under the limit": {
			reason: "9 aliases of 11 values are 99",
			in:     uses(9),
			limit:  99,
		},
		"just over the limit": {
			reason: "10 aliases of 11 values are 110",
			in:     uses(10),
			limit:  109,
			want:   ErrAliasExpansion,
			line:   15,
		},
		"across documents": {
			reason: "the limit holds for the stream, not each document",
			in:     uses(5) + "---\n" + uses(5),
			limit:  109,
			want:   ErrAliasExpansion,
		},
		"merge keys count": {
			reason: "a merged mapping is produced by its alias",
			in:     "base: &b {a: 1, b: 2, c: 3}\nuse: {<<: *b}\n",
			limit:  6,
			want:   ErrAliasExpansion,
		},
		"billion laughs": {
			in:   billionLaughs,
			want: ErrAliasExpansion,
		},
		"self reference": {
			in:   "apiVersion: v1\nkind: ConfigMap\ndata: &a\n  x: *a\n",
			want: ErrAliasExpansion,
		},
		"syntax error": {
			reason: "left to the next parser",
			in:     "a: *x\nb: [\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			err := CheckAliases([]byte(tc.in), DecodeOptions{Source: "in.yaml", MaxAliasNodes: tc.limit})
			elapsed := time.Since(start)
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			assert.Less(t, elapsed, time.Minute, "no blow-up")
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(600<<20), "allocated bytes")
			if tc.want == nil {
				require.NoError(t, err, tc.reason)
				return
			}
			require.ErrorIs(t, err, tc.want, tc.reason)
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, "in.yaml", de.Source)
			assert.Positive(t, de.Document)
			if tc.line != 0 {
				assert.Equal(t, tc.line, de.Line)
			}
			assert.True(t, strings.HasPrefix(err.Error(), "in.yaml: document "), err.Error())
		})
	}
}

// TestDecodeWithoutAliases: streams that hold both alias markers but no
// alias decode, whatever their size, under the default limits.
func TestDecodeWithoutAliases(t *testing.T) {
	objs, err := DecodeBytes([]byte(bigConfigMap(50_001)), DecodeOptions{Source: "big.yaml"})
	require.NoError(t, err)
	require.Len(t, objs, 1)
	assert.Len(t, objs[0].Object["data"], 50_001)
	assert.Equal(t, "Tom & Jerry *no alias here*", objs[0].GetAnnotations()["note"])

	objs, err = DecodeBytes([]byte(chartStream(2_000)), DecodeOptions{Source: "chart.yaml"})
	require.NoError(t, err)
	require.Len(t, objs, 2_000)
	rules := objs[1_999].Object["spec"].(map[string]any)["groups"].([]any)[0].(map[string]any)["rules"].([]any)
	assert.Equal(t, rules[0].(map[string]any)["labels"], rules[1].(map[string]any)["labels"], "the one real alias is expanded")
}
