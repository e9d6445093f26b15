package argocd_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/reconcile/argocd"
)

// app is a valid Application; each case replaces one line of it.
const app = `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: api
  namespace: argocd
spec:
  project: default
  source:
    repoURL: https://github.com/myorg/deploy.git
    targetRevision: main
    path: apps/api
  destination:
    server: https://kubernetes.default.svc
    namespace: api
  syncPolicy:
    automated: {prune: true}
`

// appSet is a valid ApplicationSet.
const appSet = `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: api
spec:
  generators:
    - list:
        elements:
          - env: dev
            auto: "true"
          - env: prod
            auto: "false"
  template:
    metadata:
      name: 'api-{{env}}'
    spec:
      project: default
      source:
        repoURL: https://github.com/myorg/deploy.git
        targetRevision: main
        path: 'apps/api/{{env}}'
      destination:
        server: https://kubernetes.default.svc
        namespace: api
      syncPolicy:
        automated:
          prune: '{{auto}}'
`

func TestValidBases(t *testing.T) {
	for _, in := range []string{app, appSet} {
		res, err := argocd.Load(strings.NewReader(in), argocd.Options{})
		require.NoError(t, err)
		require.NotEmpty(t, res.Units)
	}
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
			in:     strings.Replace(app, "    path: apps/api", "    path: apps/api\n    pth: typo", 1),
			want:   "Application argocd/api: spec.source.pth: unknown field", is: argocd.ErrUnknownField,
		},
		"unknown top-level spec field": {
			in:   strings.Replace(app, "  project: default", "  project: default\n  futureField: 1", 1),
			want: "spec.futureField: unknown field", is: argocd.ErrUnknownField,
		},
		"wrong kind": {
			in:   strings.Replace(app, "kind: Application", "kind: Rollout", 1),
			want: "kind: argoproj.io/v1alpha1 Rollout is not an Argo CD Application", is: argocd.ErrUnsupported,
		},
		"wrong apiVersion": {
			in:   strings.Replace(app, "argoproj.io/v1alpha1", "argoproj.io/v1beta1", 1),
			want: `apiVersion: "argoproj.io/v1beta1" is not argoproj.io/v1alpha1`, is: argocd.ErrUnsupported,
		},
		"another group": {
			in:   "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n",
			want: "Deployment argocd/x: kind: apps/v1 Deployment is not an Argo CD Application", is: argocd.ErrUnsupported,
		},
		"plugin": {
			in:   strings.Replace(app, "    path: apps/api", "    path: apps/api\n    plugin: {name: cmp}", 1),
			want: `spec.source.plugin.name: config management plugin "cmp" is not supported`, is: argocd.ErrUnsupported,
		},
		"plugin env": {
			in:   strings.Replace(app, "    path: apps/api", "    path: apps/api\n    plugin:\n      name: argocd-vault-plugin-helm\n      env: [{name: HELM_ARGS, value: -f values-prod.yaml}]", 1),
			want: "spec.source.plugin.env: plugin env is not supported", is: argocd.ErrUnsupported,
		},
		"helm repository chart": {
			in:   strings.Replace(app, "    path: apps/api", "    chart: redis", 1),
			want: "spec.source.chart: Helm repository charts are not supported", is: argocd.ErrUnsupported,
		},
		"jsonnet": {
			in:   strings.Replace(app, "    path: apps/api", "    path: apps/api\n    directory:\n      jsonnet:\n        extVars: [{name: a, value: b}]", 1),
			want: "spec.source.directory.jsonnet.extVars: Jsonnet is not supported", is: argocd.ErrUnsupported,
		},
		"several sources": {
			in: strings.Replace(app, "  source:\n    repoURL: https://github.com/myorg/deploy.git\n    targetRevision: main\n    path: apps/api",
				"  sources:\n  - {repoURL: https://github.com/myorg/a.git, path: a}\n  - {repoURL: https://github.com/myorg/b.git, path: b}", 1),
			want: "spec.sources: several sources in one Application are not supported", is: argocd.ErrUnsupported,
		},
		"bad sync option value": {
			in:   strings.Replace(app, "    automated: {prune: true}", "    syncOptions: [CreateNamespace=yes]", 1),
			want: `spec.syncPolicy.syncOptions[0]: CreateNamespace="yes": the value is true or false`, is: argocd.ErrInvalid,
		},
		"unknown sync option": {
			in:   strings.Replace(app, "    automated: {prune: true}", "    syncOptions: [PruneLast=true, Turbo=true]", 1),
			want: `spec.syncPolicy.syncOptions[1]: unknown sync option "Turbo"`, is: argocd.ErrUnsupported,
		},
		"sync option without value": {
			in:   strings.Replace(app, "    automated: {prune: true}", "    syncOptions: [CreateNamespace]", 1),
			want: `spec.syncPolicy.syncOptions[0]: "CreateNamespace" is not Key=value`, is: argocd.ErrInvalid,
		},
		"object-level sync option": {
			in:   strings.Replace(app, "    automated: {prune: true}", "    syncOptions: [Prune=false]", 1),
			want: "spec.syncPolicy.syncOptions[0]: Prune is a sync option of objects", is: argocd.ErrUnsupported,
		},
		"bad propagation policy": {
			in:   strings.Replace(app, "    automated: {prune: true}", "    syncOptions: [PrunePropagationPolicy=later]", 1),
			want: `"later" is not foreground, background or orphan`, is: argocd.ErrInvalid,
		},
		"bad duration": {
			in:   strings.Replace(app, "    automated: {prune: true}", "    retry: {limit: 2, backoff: {duration: 5 seconds}}", 1),
			want: `spec.syncPolicy.retry.backoff.duration: "5 seconds" is not a duration`, is: argocd.ErrInvalid,
		},
		"negative duration": {
			in:   strings.Replace(app, "    automated: {prune: true}", "    retry: {backoff: {maxDuration: -3m}}", 1),
			want: "spec.syncPolicy.retry.backoff.maxDuration", is: argocd.ErrInvalid,
		},
		"boolean of the wrong type": {
			in:   strings.Replace(app, "{prune: true}", "{prune: 'yes'}", 1),
			want: "spec.syncPolicy.automated.prune: must be a boolean, not a string", is: argocd.ErrInvalid,
		},
		"managed namespace metadata": {
			in:   strings.Replace(app, "    automated: {prune: true}", "    managedNamespaceMetadata: {labels: {a: b}}", 1),
			want: "spec.syncPolicy.managedNamespaceMetadata: converge creates the namespace without labels", is: argocd.ErrUnsupported,
		},
		"unsupported jq": {
			in:   app + "  ignoreDifferences:\n  - kind: Deployment\n    jqPathExpressions: ['.spec.containers[] | select(.name | startswith(\"x\"))']\n",
			want: "spec.ignoreDifferences[0].jqPathExpressions[0]", is: argocd.ErrUnsupported,
		},
		"common labels with selectors": {
			in:   strings.Replace(app, "    path: apps/api", "    path: apps/api\n    kustomize: {commonLabels: {team: a}}", 1),
			want: "spec.source.kustomize.commonLabels: converge adds common labels to metadata only", is: argocd.ErrUnsupported,
		},
		"bad image": {
			in:   strings.Replace(app, "    path: apps/api", "    path: apps/api\n    kustomize: {images: [nginx]}", 1),
			want: `spec.source.kustomize.images[0]: "nginx" is not name=newName`, is: argocd.ErrInvalid,
		},
		"revision a remote cannot serve": {
			in:   strings.Replace(app, "targetRevision: main", "targetRevision: HEAD~1", 1),
			want: "spec.source.targetRevision", is: argocd.ErrUnsupported,
		},
		"abbreviated commit": {
			in:   strings.Replace(app, "targetRevision: main", "targetRevision: 8f1c2a4", 1),
			want: "spec.source.targetRevision", is: argocd.ErrUnsupported,
		},
		"bad repository URL": {
			in:   strings.Replace(app, "https://github.com/myorg/deploy.git", "--upload-pack=touch /tmp/x", 1),
			want: "spec.source.repoURL", is: argocd.ErrUnsupported,
		},
		"server and name": {
			in:   strings.Replace(app, "    namespace: api", "    namespace: api\n    name: prod", 1),
			want: "spec.destination: server and name are both set", is: argocd.ErrInvalid,
		},
		"no destination": {
			in:   strings.Replace(app, "    server: https://kubernetes.default.svc\n", "", 1),
			want: "spec.destination: a server or a name is required", is: argocd.ErrInvalid,
		},
		"name too long for a unit": {
			in:   strings.Replace(app, "name: api", "name: "+strings.Repeat("a", 60), 1),
			want: "metadata.name", is: argocd.ErrInvalid,
		},
		"duplicate unit": {
			in:   app + "---\n" + app,
			want: "unit argocd/api is also defined by Application argocd/api", is: argocd.ErrInvalid,
		},
		"helm values not a mapping": {
			in:   strings.Replace(app, "    path: apps/api", "    path: apps/api\n    helm:\n      values: just text", 1),
			want: "spec.source.helm.values: must be a YAML mapping, not a string", is: argocd.ErrInvalid,
		},
		"helm values bad YAML": {
			in:   strings.Replace(app, "    path: apps/api", "    path: apps/api\n    helm:\n      values: |\n        a: 1\n        a: 2", 1),
			want: `spec.source.helm.values: line 2: duplicate key "a"`, is: argocd.ErrInvalid,
		},
		"sync windows": {
			in:   "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {name: p}\nspec:\n  syncWindows: [{kind: deny, schedule: '* * * * *', duration: 1h}]\n",
			want: "AppProject argocd/p: spec.syncWindows: sync windows are not supported", is: argocd.ErrUnsupported,
		},
		"namespace a project does not permit": {
			in: strings.Replace(strings.Replace(app, "project: default", "project: p", 1), "namespace: argocd", "namespace: team", 1) +
				"---\napiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {name: p}\nspec: {sourceRepos: ['*'], sourceNamespaces: [other-*]}\n",
			want: `metadata.namespace: project "p" does not permit Applications in namespace "team"`, is: argocd.ErrInvalid,
		},
		"go templates": {
			in:   strings.Replace(appSet, "spec:\n  generators:", "spec:\n  goTemplate: true\n  generators:", 1),
			want: "ApplicationSet argocd/api: spec.goTemplate: Go templates are not supported", is: argocd.ErrUnsupported,
		},
		"unknown generator": {
			in:   strings.Replace(appSet, "    - list:", "    - git: {repoURL: x}\n    - list:", 1),
			want: "spec.generators[0].git: the git generator is not supported", is: argocd.ErrUnsupported,
		},
		"cluster generator": {
			in:   strings.Replace(appSet, "    - list:", "    - clusters: {}\n    - list:", 1),
			want: "spec.generators[0].clusters: the clusters generator is not supported", is: argocd.ErrUnsupported,
		},
		"non-boolean template result": {
			reason: "the error names the element and the field",
			in:     strings.Replace(appSet, `auto: "false"`, `auto: "maybe"`, 1),
			want:   `ApplicationSet argocd/api: spec.generators[0].list.elements[1] (Application api-prod): spec.template.spec.syncPolicy.automated.prune: "maybe" is not a boolean`,
			is:     argocd.ErrInvalid,
		},
		"element value that is a list": {
			in:   strings.Replace(appSet, `auto: "false"`, `auto: [a]`, 1),
			want: "spec.generators[0].list.elements[1].auto: must be a string, not a list", is: argocd.ErrInvalid,
		},
		"unterminated template": {
			in:   strings.Replace(appSet, "'apps/api/{{env}}'", "'apps/api/{{env'", 1),
			want: "spec.template.spec.source.path: a {{ without }} (element spec.generators[0].list.elements[0])", is: argocd.ErrInvalid,
		},
		"unknown template field": {
			in:   strings.Replace(appSet, "      project: default", "      project: default\n      prjoect: x", 1),
			want: "spec.template.spec.prjoect: unknown field", is: argocd.ErrUnknownField,
		},
		"progressive sync": {
			in:   strings.Replace(appSet, "spec:\n  generators:", "spec:\n  strategy: {type: RollingSync}\n  generators:", 1),
			want: "spec.strategy: progressive syncs", is: argocd.ErrUnsupported,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := argocd.Load(strings.NewReader(tt.in), argocd.Options{})
			require.Error(t, err, tt.reason)
			assert.Nil(t, res)
			assert.Contains(t, err.Error(), tt.want, tt.reason)
			assert.ErrorIs(t, err, tt.is)
			t.Log(err)
			var fe *argocd.FieldError
			assert.True(t, errors.As(err, &fe), "a *FieldError")
		})
	}
}

// Bad YAML is the object package's *DecodeError, naming the document.
func TestBadYAML(t *testing.T) {
	_, err := argocd.Load(strings.NewReader(app+"---\nspec: {a: 1, a: 2}\n"), argocd.Options{})
	var de *object.DecodeError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, 2, de.Document)
}

// At most 50 errors are listed.
func TestManyErrors(t *testing.T) {
	var b strings.Builder
	for range 60 {
		b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n")
	}
	_, err := argocd.Load(strings.NewReader(b.String()), argocd.Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "and 10 more errors")
}

// An ApplicationSet cannot expand beyond the byte budget (the decoder's
// byte limit), however small its input.
func TestExpansionBudget(t *testing.T) {
	long := strings.Repeat("{{env}}", 200)
	in := strings.Replace(appSet, "      project: default", "      project: default\n      info: [{name: a, value: '"+long+"'}]", 1)
	in = strings.Replace(in, "env: dev", "env: "+strings.Repeat("x", 500), 1)
	opts := argocd.Options{Decode: object.DecodeOptions{MaxBytes: 64 << 10}}
	_, err := argocd.Load(strings.NewReader(in), opts)
	require.ErrorIs(t, err, argocd.ErrInvalid)
	assert.ErrorContains(t, err, "the ApplicationSet expands beyond 65536 bytes (element spec.generators[0].list.elements[0])")
}
