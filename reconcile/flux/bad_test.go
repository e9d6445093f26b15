package flux_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/reconcile/flux"
)

// pair is a valid GitRepository and Kustomization; each case replaces one
// line of it.
const pair = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: deploy
  namespace: flux-system
spec:
  interval: 1m
  url: https://github.com/myorg/deploy.git
  ref:
    branch: main
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: api
  namespace: flux-system
spec:
  interval: 5m
  sourceRef:
    kind: GitRepository
    name: deploy
  path: ./apps/api
  prune: true
`

func TestValidBase(t *testing.T) {
	res, err := flux.Load(strings.NewReader(pair), flux.Options{})
	require.NoError(t, err)
	require.Len(t, res.Units, 1)
}

func TestBadInput(t *testing.T) {
	tests := map[string]struct {
		reason string
		in     string
		want   string // in the error text: the object, the path, the reason
		is     error
	}{
		"unknown field": {
			reason: "a typo is refused by name, not dropped",
			in:     strings.Replace(pair, "  prune: true", "  prnue: true", 1),
			want:   "Kustomization flux-system/api: spec.prnue: unknown field", is: flux.ErrUnknownField,
		},
		"unknown source field": {
			in:   strings.Replace(pair, "    branch: main", "    branch: main\n    brnch: x", 1),
			want: "GitRepository flux-system/deploy: spec.ref.brnch: unknown field", is: flux.ErrUnknownField,
		},
		"wrong kind": {
			in:   "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: x}\n",
			want: "HelmRelease flux-system/x: kind: helm.toolkit.fluxcd.io/v2 HelmRelease is not supported", is: flux.ErrUnsupported,
		},
		"not Flux": {
			in:   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
			want: "kind: v1 ConfigMap is not a Flux GitRepository or Kustomization", is: flux.ErrUnsupported,
		},
		"old version": {
			in:   strings.Replace(pair, "kustomize.toolkit.fluxcd.io/v1", "kustomize.toolkit.fluxcd.io/v1beta1", 1),
			want: `Kustomization flux-system/api: apiVersion: "kustomize.toolkit.fluxcd.io/v1beta1": converge reads Kustomization v1 and v1beta2`, is: flux.ErrUnsupported,
		},
		"OCIRepository document": {
			in:   "apiVersion: source.toolkit.fluxcd.io/v1beta2\nkind: OCIRepository\nmetadata: {name: x}\n",
			want: "OCIRepository flux-system/x: kind: OCIRepository sources are not supported", is: flux.ErrUnsupported,
		},
		"OCIRepository source": {
			in:   strings.Replace(pair, "    kind: GitRepository\n    name: deploy", "    kind: OCIRepository\n    name: deploy", 1),
			want: "spec.sourceRef.kind: OCIRepository sources are not supported", is: flux.ErrUnsupported,
		},
		"bucket source": {
			in:   strings.Replace(pair, "    kind: GitRepository\n    name: deploy", "    kind: Bucket\n    name: deploy", 1),
			want: "spec.sourceRef.kind: Bucket sources are not supported", is: flux.ErrUnsupported,
		},
		"missing GitRepository": {
			in:   strings.Replace(pair, "    name: deploy\n  path", "    name: other\n  path", 1),
			want: "Kustomization flux-system/api: spec.sourceRef: GitRepository flux-system/other is not in the input", is: flux.ErrMissing,
		},
		"GitRepository in another namespace": {
			in:   strings.Replace(pair, "    name: deploy\n  path", "    name: deploy\n    namespace: tenants\n  path", 1),
			want: "GitRepository tenants/deploy is not in the input", is: flux.ErrMissing,
		},
		"depends on itself": {
			in:   pair + "  dependsOn:\n    - name: infra\n    - name: api\n",
			want: "spec.dependsOn[1]: the Kustomization depends on itself", is: flux.ErrInvalid,
		},
		"depends on itself by namespace": {
			in:   pair + "  dependsOn:\n    - {name: api, namespace: flux-system}\n",
			want: "spec.dependsOn[0]: the Kustomization depends on itself", is: flux.ErrInvalid,
		},
		"bad interval": {
			in:   strings.Replace(pair, "interval: 5m", "interval: 5 minutes", 1),
			want: `spec.interval: "5 minutes" is not a positive duration`, is: flux.ErrInvalid,
		},
		"zero interval": {
			in:   strings.Replace(pair, "interval: 1m", "interval: 0s", 1),
			want: `GitRepository flux-system/deploy: spec.interval: "0s" is not a positive duration`, is: flux.ErrInvalid,
		},
		"no interval": {
			in:   strings.Replace(pair, "  interval: 5m\n", "", 1),
			want: "spec.interval: required", is: flux.ErrInvalid,
		},
		"bad retryInterval": {
			in:   strings.Replace(pair, "  prune: true", "  retryInterval: soon", 1),
			want: `spec.retryInterval: "soon"`, is: flux.ErrInvalid,
		},
		"include": {
			in:   strings.Replace(pair, "    branch: main", "    branch: main\n  include:\n    - repository: {name: other}", 1),
			want: "GitRepository flux-system/deploy: spec.include: including other GitRepositories' files is not supported", is: flux.ErrUnsupported,
		},
		"proxy": {
			in:   strings.Replace(pair, "    branch: main", "    branch: main\n  proxySecretRef: {name: proxy}", 1),
			want: "spec.proxySecretRef: a per-source proxy is not supported", is: flux.ErrUnsupported,
		},
		"verify without a resolver": {
			in:   strings.Replace(pair, "    branch: main", "    branch: main\n  verify: {mode: HEAD, secretRef: {name: keys}}", 1),
			want: "spec.verify: the keys are in Secret flux-system/keys, and Options.VerifyKeys is not set", is: flux.ErrUnsupported,
		},
		"bad verify mode": {
			in:   strings.Replace(pair, "    branch: main", "    branch: main\n  verify: {mode: All, secretRef: {name: keys}}", 1),
			want: `spec.verify.mode: "All" is not HEAD, Tag or TagAndHEAD`, is: flux.ErrInvalid,
		},
		"abbreviated commit": {
			in:   strings.Replace(pair, "    branch: main", "    commit: 8f1c2a4", 1),
			want: "GitRepository flux-system/deploy: spec.ref:", is: flux.ErrInvalid,
		},
		"bad ignore pattern": {
			in:   strings.Replace(pair, "    branch: main", "    branch: main\n  ignore: \"[\"", 1),
			want: "spec.ignore", is: flux.ErrInvalid,
		},
		"kubeConfig without a resolver": {
			in:   pair + "  kubeConfig: {secretRef: {name: remote}}\n",
			want: "spec.kubeConfig: a remote cluster from a kubeconfig needs Options.KubeConfigCluster", is: flux.ErrUnsupported,
		},
		"decryption provider": {
			in:   pair + "  decryption: {provider: vault}\n",
			want: `spec.decryption.provider: "vault": converge decrypts sops only`, is: flux.ErrUnsupported,
		},
		"substituteFrom kind": {
			in:   pair + "  postBuild:\n    substituteFrom: [{kind: Vault, name: x}]\n",
			want: `spec.postBuild.substituteFrom[0].kind: "Vault" is not ConfigMap or Secret`, is: flux.ErrInvalid,
		},
		"substitute variable name": {
			in:   pair + "  postBuild:\n    substitute: {cluster-name: prod}\n",
			want: "spec.postBuild.substitute.cluster-name: not a variable name", is: flux.ErrInvalid,
		},
		"substitute value not a string": {
			in:   pair + "  postBuild:\n    substitute: {replicas: 3}\n",
			want: "spec.postBuild.substitute.replicas: must be a string, not a number", is: flux.ErrInvalid,
		},
		"bad deletionPolicy": {
			in:   pair + "  deletionPolicy: Keep\n",
			want: `spec.deletionPolicy: "Keep" is not MirrorPrune`, is: flux.ErrInvalid,
		},
		"bad health check": {
			in:   pair + "  healthChecks:\n    - {apiVersion: apps/v1, kind: Deployment}\n",
			want: "spec.healthChecks[0]", is: flux.ErrInvalid,
		},
		"bad health expression": {
			in:   pair + "  healthCheckExprs:\n    - {apiVersion: example.com/v1, kind: Widget, current: 'status.phase =='}\n",
			want: "spec.healthCheckExprs[0].current: CEL", is: flux.ErrInvalid,
		},
		"health expression without current": {
			in:   pair + "  healthCheckExprs:\n    - {apiVersion: example.com/v1, kind: Widget, failed: 'status.phase == \"Failed\"'}\n",
			want: "spec.healthCheckExprs[0].current: required", is: flux.ErrInvalid,
		},
		"readyExpr": {
			in:   pair + "  dependsOn:\n    - {name: infra, readyExpr: 'true'}\n",
			want: "spec.dependsOn[0].readyExpr: readiness expressions are not supported", is: flux.ErrUnsupported,
		},
		"name too long for a unit": {
			in:   strings.Replace(pair, "  name: api", "  name: "+strings.Repeat("a", 60), 1),
			want: "metadata.name", is: flux.ErrInvalid,
		},
		"path out of the source": {
			in:   strings.Replace(pair, "./apps/api", "../../etc", 1),
			want: `spec.path: "../../etc" leaves the source`, is: flux.ErrInvalid,
		},
		"credentials in another namespace": {
			in: strings.Replace(strings.Replace(pair, "  namespace: flux-system\nspec:\n  interval: 1m", "  namespace: infra\nspec:\n  interval: 1m\n  secretRef: {name: token}", 1),
				"    name: deploy\n  path", "    name: deploy\n    namespace: infra\n  path", 1),
			want: "spec.sourceRef.namespace: the GitRepository's secretRef token is in namespace infra", is: flux.ErrUnsupported,
		},
		"duplicate Kustomization": {
			in:   pair + "---\n" + pair[strings.Index(pair, "apiVersion: kustomize"):],
			want: "unit flux-system/api is also defined by Kustomization flux-system/api", is: flux.ErrInvalid,
		},
		"duplicate GitRepository": {
			in:   pair[:strings.Index(pair, "---")] + "---\n" + pair,
			want: "GitRepository flux-system/deploy is also defined by", is: flux.ErrInvalid,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := flux.Load(strings.NewReader(tt.in), flux.Options{})
			require.Error(t, err, tt.reason)
			assert.Nil(t, res)
			assert.Contains(t, err.Error(), tt.want, tt.reason)
			assert.ErrorIs(t, err, tt.is)
			var fe *flux.FieldError
			assert.True(t, errors.As(err, &fe), "a *FieldError")
			t.Log(err)
		})
	}
}

// Bad YAML is the object package's *DecodeError, naming the document.
func TestBadYAML(t *testing.T) {
	_, err := flux.Load(strings.NewReader(pair+"---\nkind: [\n"), flux.Options{})
	var de *object.DecodeError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, 3, de.Document)
}
