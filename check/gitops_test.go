package check

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestArgoCDRules(t *testing.T) {
	app := func(spec string) map[string]string {
		return map[string]string{"app.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web, namespace: argocd}\nspec:\n" + spec}
	}
	cases := map[string]struct {
		reason string
		files  map[string]string
		want   []string
	}{
		"Good": {
			reason: "automated with self-heal and prune, in a project",
			files:  app("  project: shop\n  syncPolicy:\n    automated: {selfHeal: true, prune: true}\n"),
			want:   []string{},
		},
		"Manual": {
			reason: "no automated sync, and the default project",
			files:  app("  project: default\n  syncPolicy:\n    syncOptions: [CreateNamespace=true]\n"),
			want:   []string{"argocd-sync-manual app.yaml:6:3", "argocd-default-project app.yaml:5:3", "argocd-create-namespace app.yaml:7:19"},
		},
		"HalfAutomated": {
			reason: "selfHeal and prune default to false",
			files:  app("  project: shop\n  syncPolicy:\n    automated:\n      prune: false\n"),
			want:   []string{"argocd-self-heal-off app.yaml:7:5", "argocd-prune-off app.yaml:8:7"},
		},
		"AutomatedDisabled": {
			reason: "automated.enabled: false is manual sync",
			files:  app("  project: shop\n  syncPolicy:\n    automated: {enabled: false, selfHeal: true, prune: true}\n"),
			want:   []string{"argocd-sync-manual app.yaml:6:3"},
		},
		"ApplicationSet": {
			reason: "an ApplicationSet's template is checked like an Application",
			files:  map[string]string{"set.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: shop}\nspec:\n  template:\n    spec:\n      project: shop\n"},
			want:   []string{"argocd-sync-manual set.yaml:7:7"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, findings(t, tc.files, ArgoCDRules()...), tc.reason)
		})
	}
}

func TestFluxRules(t *testing.T) {
	ks := func(spec string) map[string]string {
		return map[string]string{"ks.yaml": "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec:\n" + spec}
	}
	cases := map[string]struct {
		reason string
		limit  time.Duration
		files  map[string]string
		want   []string
	}{
		"Good":        {"prune, wait, 5m", 0, ks("  interval: 5m\n  prune: true\n  wait: true\n"), []string{}},
		"HealthCheck": {"healthChecks stand in for wait", 0, ks("  interval: 1m\n  prune: true\n  healthChecks:\n    - {kind: Deployment, name: web, namespace: shop}\n"), []string{}},
		"Bad": {
			reason: "prune off, suspended, no health checks, an hour",
			files:  ks("  interval: 1h\n  prune: false\n  suspend: true\n"),
			want:   []string{"flux-prune-off ks.yaml:6:3", "flux-suspended ks.yaml:7:3", "flux-no-health-checks ks.yaml:5:3", "flux-interval-too-long ks.yaml:5:3"},
		},
		"HostLimit":     {"the host's limit replaces 5m", 15 * time.Minute, ks("  interval: 10m\n  prune: true\n  wait: true\n"), []string{}},
		"OverHostLimit": {"over the host's limit", time.Minute, ks("  interval: 2m\n  prune: true\n  wait: true\n"), []string{"flux-interval-too-long ks.yaml:5:3"}},
		"KustomizeConfig": {
			reason: "a kustomize.config.k8s.io Kustomization is not Flux's",
			files:  map[string]string{"kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n"},
			want:   []string{},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, findings(t, tc.files, FluxRules(tc.limit)...), tc.reason)
		})
	}
}
