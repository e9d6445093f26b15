package check

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// SectionNotifications is the checklist item of notification rules.
const SectionNotifications Section = "Notifications configured for sync failures and degraded health"

var (
	argoNotificationsMeta = Meta{
		ID: "argocd-no-notifications", Title: "Argo CD Application without a notification subscription",
		Severity: SeverityMedium, Section: SectionNotifications,
		Fix: "Subscribe it with a notifications.argoproj.io/subscribe.on-sync-failed.<service> annotation, or set default subscriptions in argocd-notifications-cm",
	}
	fluxNotificationsMeta = Meta{
		ID: "flux-no-notifications", Title: "Flux Kustomization that no Alert covers",
		Severity: SeverityMedium, Section: SectionNotifications,
		Fix: "Add a notification.toolkit.fluxcd.io Alert whose eventSources name the Kustomization (or kind Kustomization, name \"*\")",
	}
	fluxTenancyMeta = Meta{
		ID: "flux-no-service-account", Title: "Flux Kustomization applied with the controller's own permissions",
		Severity: SeverityLow, Section: SectionRBAC,
		Fix: "Set spec.serviceAccountName to a service account bound to the tenant's namespace (or run kustomize-controller with --default-service-account)",
	}
	argoIntervalMeta = Meta{
		ID: "argocd-interval-too-long", Title: "Argo CD reconciles less often than the limit",
		Severity: SeverityLow, Section: SectionInterval,
		Fix: "Set timeout.reconciliation in argocd-cm to 1-5 minutes and use a webhook for instant syncs",
	}
)

// NotificationRules are argocd-no-notifications and
// flux-no-notifications: an Argo CD Application without a subscription
// annotation (unless argocd-notifications-cm sets default
// subscriptions), and a Flux Kustomization that no Alert's eventSources
// name.
func NotificationRules() []Rule {
	return []Rule{
		NewRule(argoNotificationsMeta, func(ctx context.Context, t *Target) ([]Finding, error) {
			docs, err := t.Documents(ctx)
			for _, d := range docs {
				if d.Kind == "ConfigMap" && d.Name == "argocd-notifications-cm" && lookupPath(d.Root, "data", "subscriptions") != nil {
					return nil, err // default subscriptions cover every Application
				}
			}
			apps, aerr := applications(ctx, t)
			var out []Finding
			for _, a := range apps {
				meta := lookup(a.doc.Root, "metadata")
				if a.doc.Kind == "ApplicationSet" {
					meta = lookupPath(a.doc.Root, "spec", "template", "metadata")
				}
				if subscribed(lookup(meta, "annotations")) {
					continue
				}
				line, col := a.doc.Line, 0
				if meta != nil {
					line, col = meta.Line, meta.Column
				}
				out = append(out, at(argoNotificationsMeta, a.doc, line, col, "%s has no notifications.argoproj.io/subscribe.* annotation: a failed sync or a degraded app goes unnoticed", a.kind))
			}
			return out, errors.Join(err, aerr)
		}),
		NewRule(fluxNotificationsMeta, func(ctx context.Context, t *Target) ([]Finding, error) {
			docs, err := t.Documents(ctx)
			type source struct{ namespace, name string }
			var covered []source
			for _, d := range docs {
				if d.Kind != "Alert" || !strings.HasPrefix(d.APIVersion, "notification.toolkit.fluxcd.io/") {
					continue
				}
				for _, s := range seq(lookupPath(d.Root, "spec", "eventSources")) {
					if scalar(s, "kind") == "Kustomization" {
						covered = append(covered, source{cmp.Or(scalar(s, "namespace"), d.Namespace), scalar(s, "name")})
					}
				}
			}
			var out []Finding
			for _, d := range docs {
				if d.Kind != "Kustomization" || !strings.HasPrefix(d.APIVersion, "kustomize.toolkit.fluxcd.io/") {
					continue
				}
				found := false
				for _, s := range covered {
					if s.namespace == d.Namespace && (s.name == "*" || s.name == d.Name) {
						found = true
					}
				}
				if !found {
					out = append(out, at(fluxNotificationsMeta, d, d.Line, 0, "Kustomization %s is in no Alert's eventSources: a failed reconcile goes unnoticed", objectString(d.ID())))
				}
			}
			return out, err
		}),
	}
}

func subscribed(annotations *yaml.Node) bool {
	if annotations == nil || annotations.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(annotations.Content); i += 2 {
		if strings.HasPrefix(annotations.Content[i].Value, "notifications.argoproj.io/subscribe.") && annotations.Content[i+1].Value != "" {
			return true
		}
	}
	return false
}

// FluxTenancy is the rule flux-no-service-account: a Kustomization
// without spec.serviceAccountName applies with kustomize-controller's
// own, cluster-wide permissions.
func FluxTenancy() Rule {
	return fluxRule(fluxTenancyMeta, func(d *Document, spec *yaml.Node) []Finding {
		if scalar(spec, "serviceAccountName") != "" {
			return nil
		}
		line, col := keyLine(d, spec, "serviceAccountName")
		return []Finding{at(fluxTenancyMeta, d, line, col, "Kustomization %s has no spec.serviceAccountName: it applies with the controller's cluster-wide permissions", objectString(d.ID()))}
	})
}

// ArgoCDInterval is the rule argocd-interval-too-long: argocd-cm's
// timeout.reconciliation over maxInterval (5 minutes when 0).
func ArgoCDInterval(maxInterval time.Duration) Rule {
	if maxInterval <= 0 {
		maxInterval = 5 * time.Minute
	}
	return NewRule(argoIntervalMeta, func(ctx context.Context, t *Target) ([]Finding, error) {
		docs, err := t.Documents(ctx)
		var out []Finding
		for _, d := range docs {
			if d.Kind != "ConfigMap" || d.Name != "argocd-cm" {
				continue
			}
			n := lookupPath(d.Root, "data", "timeout.reconciliation")
			if n == nil {
				continue
			}
			dur, perr := time.ParseDuration(n.Value)
			if perr != nil || dur <= maxInterval {
				continue
			}
			out = append(out, at(argoIntervalMeta, d, n.Line, n.Column, "argocd-cm sets timeout.reconciliation to %s, over the %s limit: drift persists that long", dur, maxInterval))
		}
		return out, err
	})
}
