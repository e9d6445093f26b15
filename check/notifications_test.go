package check

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestNotificationRules(t *testing.T) {
	const app = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web\n  namespace: argocd\n"
	const ks = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec: {interval: 5m}\n"
	cases := map[string]struct {
		files map[string]string
		want  []string
	}{
		"Unsubscribed": {
			files: map[string]string{"app.yaml": app, "ks.yaml": ks},
			want:  []string{"argocd-no-notifications app.yaml:4:3", "flux-no-notifications ks.yaml:1"},
		},
		"Subscribed": {
			files: map[string]string{
				"app.yaml": app + "  annotations:\n    notifications.argoproj.io/subscribe.on-sync-failed.slack: deploys\n",
				"ks.yaml":  ks,
				"alert.yaml": "apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\nmetadata: {name: on-call, namespace: flux-system}\n" +
					"spec:\n  providerRef: {name: slack}\n  eventSources:\n    - kind: Kustomization\n      name: apps\n",
			},
			want: []string{},
		},
		"AlertForEveryKustomization": {
			files: map[string]string{"ks.yaml": ks, "alert.yaml": "apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\nmetadata: {name: all, namespace: flux-system}\n" +
				"spec:\n  eventSources:\n    - {kind: Kustomization, name: '*'}\n"},
			want: []string{},
		},
		"AlertInAnotherNamespace": {
			files: map[string]string{"ks.yaml": ks, "alert.yaml": "apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\nmetadata: {name: all, namespace: team-a}\n" +
				"spec:\n  eventSources:\n    - {kind: Kustomization, name: '*'}\n"},
			want: []string{"flux-no-notifications ks.yaml:1"},
		},
		"DefaultSubscriptions": {
			files: map[string]string{"app.yaml": app, "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-notifications-cm, namespace: argocd}\n" +
				"data:\n  subscriptions: |\n    - recipients: [slack:deploys]\n      triggers: [on-sync-failed]\n"},
			want: []string{},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			assert.ElementsMatch(t, c.want, findings(t, c.files, NotificationRules()...))
		})
	}
}

func TestFluxTenancyAndArgoCDInterval(t *testing.T) {
	files := map[string]string{
		"ks.yaml":        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec:\n  interval: 5m\n",
		"tenant.yaml":    "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: team-a, namespace: team-a}\nspec:\n  serviceAccountName: team-a\n",
		"argocd-cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm, namespace: argocd}\ndata:\n  timeout.reconciliation: 30m\n",
	}
	assert.Equal(t, []string{"flux-no-service-account ks.yaml:5:3", "argocd-interval-too-long argocd-cm.yaml:5:27"},
		findings(t, files, FluxTenancy(), ArgoCDInterval(0)))
	assert.Equal(t, []string{}, findings(t, files, ArgoCDInterval(time.Hour)), "30m is within an hour's limit")
}

func TestUnitRules(t *testing.T) {
	good := Unit{Name: "web", Namespace: "shop", Prune: true, SelfHeal: true, Health: true, Interval: time.Minute, Notified: true, Restricted: true}
	bad := Unit{Name: "api", File: "units.yaml", Line: 3, Interval: time.Hour}
	manual := Unit{Name: "db", Manual: true, Prune: true, Health: true, Notified: true, Restricted: true}
	assert.Equal(t, []string{}, findings(t, nil, UnitRules([]Unit{good}, 0)...))
	assert.ElementsMatch(t, []string{
		"unit-self-heal-off units.yaml:3", "unit-prune-off units.yaml:3", "unit-no-health-checks units.yaml:3",
		"unit-interval-too-long units.yaml:3", "unit-no-notifications units.yaml:3", "unit-unrestricted units.yaml:3",
		"unit-sync-manual Unit/db",
	}, findings(t, nil, UnitRules([]Unit{good, bad, manual}, 0)...))
	noInterval := good
	noInterval.Interval = 0
	assert.Equal(t, []string{"unit-interval-too-long Unit/shop/web"}, findings(t, nil, UnitRules([]Unit{noInterval}, 0)...))
}
