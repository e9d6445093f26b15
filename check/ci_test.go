package check

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPushDeploys(t *testing.T) {
	cases := map[string]struct {
		reason string
		files  map[string]string
		want   []string
	}{
		"GitHubApply": {
			reason: "a workflow step that applies",
			files:  map[string]string{".github/workflows/deploy.yml": "on: push\njobs:\n  deploy:\n    steps:\n      - run: |\n          kustomize build . | kubectl -n prod apply -f -\n"},
			want:   []string{"ci-push-deploy .github/workflows/deploy.yml:6:31"},
		},
		"HelmUpgrade": {
			reason: "helm upgrade --install against a cluster",
			files:  map[string]string{".gitlab-ci.yml": "deploy:\n  script:\n    - helm --kube-context prod upgrade --install web ./chart\n"},
			want:   []string{"ci-push-deploy .gitlab-ci.yml:3:7"},
		},
		"EditPatch": {
			reason: "kubectl edit and patch are writes",
			files:  map[string]string{".github/workflows/fix.yaml": "steps:\n  - run: kubectl patch deploy web -p '{}'\n  - run: kubectl edit cm x\n"},
			want:   []string{"ci-push-deploy .github/workflows/fix.yaml:2:10", "ci-push-deploy .github/workflows/fix.yaml:3:10"},
		},
		"ReadOnly": {
			reason: "dry runs, diffs, gets and comments are no deploys",
			files:  map[string]string{".github/workflows/ci.yml": "steps:\n  - run: kubectl apply --dry-run=client -f out.yaml\n  - run: kubectl diff -f out.yaml\n  - run: kubectl get pods\n  # - run: kubectl apply -f .\n  - run: helm template . | kubeconform\n"},
			want:   []string{},
		},
		"NotCI": {
			reason: "a script outside CI is not a CI deploy",
			files:  map[string]string{"hack/deploy.yml": "run: kubectl apply -f .\n"},
			want:   []string{},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, findings(t, tc.files, PushDeploys()), tc.reason)
		})
	}
}

func TestPushDeploysNeverPrintTheLine(t *testing.T) {
	files := map[string]string{".github/workflows/d.yml": "steps:\n  - run: kubectl --token=tok-value-1234 apply -f .\n"}
	rep, err := Run(context.Background(), NewTarget(mapFS(files), "", DefaultLimits()), []Rule{PushDeploys()}, DefaultOptions())
	require.NoError(t, err)
	require.Len(t, rep.Findings(), 1)
	msg := rep.Findings()[0].Message
	assert.Contains(t, msg, "`kubectl apply`")
	assert.False(t, strings.Contains(msg, "tok-value-1234"), msg)
}
