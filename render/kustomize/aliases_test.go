package kustomize_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/kustomize"
	"github.com/converge-dev/converge/render/kustomize/kustomizetest"
)

// TestAliasMarkersWithoutAliases renders the false positives of issue 19,
// files holding both "&" and "*" but no alias, with many more values than
// the alias limit (lowered to 1,000 here: kustomize takes minutes over a
// ConfigMap of 50,001 keys, whose decoding package object tests): each
// renders, byte for byte as the kustomize CLI does.
func TestAliasMarkersWithoutAliases(t *testing.T) {
	cli, err := kustomizetest.CLI()
	require.NoError(t, err)
	var big strings.Builder
	big.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n  annotations:\n    note: 'Tom & Jerry *no alias here*'\ndata:\n")
	for i := range 5_001 {
		fmt.Fprintf(&big, "  key-%d: value-%d\n", i, i)
	}
	var chart strings.Builder
	for i := range 200 {
		fmt.Fprintf(&chart, `---
# Source: kube-prometheus-stack/templates/rules-%d.yaml
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: rules-%d
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
    - alert: HighLoadAgain
      expr: avg(load) * 3 > 1
      labels: *labels
`, i, i, i)
	}
	tests := map[string]struct {
		files   map[string]string
		objects int
	}{
		"a ConfigMap of 5,001 keys": {
			files:   map[string]string{"app/kustomization.yaml": "resources:\n- big.yaml\n", "app/big.yaml": big.String()},
			objects: 1,
		},
		"helm template output": {
			files:   map[string]string{"app/kustomization.yaml": "resources:\n- rendered.yaml\n", "app/rendered.yaml": chart.String()},
			objects: 200,
		},
		"helm template output, generated kustomization": {
			files:   map[string]string{"app/rendered.yaml": chart.String()},
			objects: 200,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			for p, c := range tc.files {
				require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(root, p), []byte(c), 0o644))
			}
			ctx := context.Background()
			opts := render.DefaultOptions()
			opts.Decode.MaxAliasNodes = 1_000
			set, err := kustomize.New().Render(ctx, os.DirFS(root), "app", opts)
			require.NoError(t, err)
			assert.Equal(t, tc.objects, set.Len())
			if _, ok := tc.files["app/kustomization.yaml"]; !ok {
				return // the CLI needs a kustomization file
			}
			want, err := kustomizetest.Build(ctx, cli, filepath.Join(root, "app"))
			require.NoError(t, err)
			got, err := kustomize.New().Build(ctx, os.DirFS(root), "app", opts)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got))
		})
	}

	t.Run("an alias bomb still fails", func(t *testing.T) {
		fsys := fstest.MapFS{"a/kustomization.yaml": kfile("resources:\n- lol.yaml\n"), "a/lol.yaml": kfile(billionLaughs)}
		opts := render.DefaultOptions()
		opts.Decode.MaxAliasNodes = 1_000
		_, err := kustomize.New().Render(context.Background(), fsys, "a", opts)
		require.ErrorIs(t, err, object.ErrAliasExpansion)
		assert.Contains(t, err.Error(), "a/lol.yaml: document 1: line")
	})
}
