package check

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLayout(t *testing.T) {
	cases := map[string]struct {
		reason string
		files  map[string]string
		want   string
	}{
		"Overlays": {
			reason: "overlays named for environments",
			files: map[string]string{
				"apps/web/overlays/prod/kustomization.yaml": "resources: [../../base]\n",
				"apps/web/overlays/dev/kustomization.yaml":  "resources: [../../base]\n",
				"clusters/staging/flux.yaml":                "kind: x\n",
			},
			want: "directory per environment: apps/web/overlays/{dev,prod}, clusters/{staging}",
		},
		"KustomizationDir": {
			reason: "an environment directory with a kustomization, under any parent",
			files:  map[string]string{"deploy/prod/kustomization.yaml": "resources: []\n"},
			want:   "directory per environment: deploy/{prod}",
		},
		"None": {
			reason: "one directory, no environments",
			files:  map[string]string{"manifests/app.yaml": "kind: x\n", "src/dev/main.go": "package main\n"},
			want:   "no directory per environment found: with one environment, or one branch per environment, promotion is not visible in Git",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rep, err := Run(context.Background(), NewTarget(mapFS(tc.files), "", DefaultLimits()), []Rule{Layout()}, DefaultOptions())
			require.NoError(t, err)
			require.Len(t, rep.Findings(), 1)
			f := rep.Findings()[0]
			assert.Equal(t, tc.want, f.Message, tc.reason)
			assert.Equal(t, SeverityInfo, f.Severity)
			assert.Equal(t, 100, rep.Sections[0].Score, "an info finding costs nothing")
		})
	}
}
