package check

import (
	"context"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The rules over Argo CD Applications (and ApplicationSets' templates)
// and Flux Kustomizations. They read the fields they need from the
// manifests themselves, so a manifest the loaders in reconcile/argocd
// and reconcile/flux would refuse is still checked.
var (
	argoNotAutomatedMeta = Meta{
		ID: "argocd-sync-manual", Title: "Argo CD Application without automated sync",
		Severity: SeverityHigh, Section: SectionSync,
		Fix: "Set spec.syncPolicy.automated (with selfHeal: true and prune: true)",
	}
	argoSelfHealMeta = Meta{
		ID: "argocd-self-heal-off", Title: "Argo CD Application with self-heal off",
		Severity: SeverityMedium, Section: SectionSync,
		Fix: "Set spec.syncPolicy.automated.selfHeal: true so manual changes are reverted",
	}
	argoPruneMeta = Meta{
		ID: "argocd-prune-off", Title: "Argo CD Application with prune off",
		Severity: SeverityMedium, Section: SectionSync,
		Fix: "Set spec.syncPolicy.automated.prune: true so objects removed from Git are removed from the cluster",
	}
	argoDefaultProjectMeta = Meta{
		ID: "argocd-default-project", Title: "Argo CD Application in the default project",
		Severity: SeverityMedium, Section: SectionRBAC,
		Fix: "Put the Application in an AppProject that limits its source repositories, destinations and kinds",
	}
	argoCreateNamespaceMeta = Meta{
		ID: "argocd-create-namespace", Title: "Argo CD Application creates its namespace",
		Severity: SeverityLow, Section: SectionRBAC,
		Fix: "Create namespaces from Git with their policies (quotas, network policies, RBAC) instead of CreateNamespace=true, or restrict destinations in the AppProject",
	}
	fluxPruneMeta = Meta{
		ID: "flux-prune-off", Title: "Flux Kustomization with prune off",
		Severity: SeverityMedium, Section: SectionSync,
		Fix: "Set spec.prune: true",
	}
	fluxSuspendedMeta = Meta{
		ID: "flux-suspended", Title: "Flux Kustomization suspended",
		Severity: SeverityMedium, Section: SectionSync,
		Fix: "Remove spec.suspend: true once the reason is gone; a suspended Kustomization lets the cluster drift",
	}
	fluxHealthMeta = Meta{
		ID: "flux-no-health-checks", Title: "Flux Kustomization without health checks",
		Severity: SeverityMedium, Section: SectionHealth,
		Fix: "Set spec.wait: true or list spec.healthChecks",
	}
	fluxIntervalMeta = Meta{
		ID: "flux-interval-too-long", Title: "Flux Kustomization reconciles less often than the limit",
		Severity: SeverityLow, Section: SectionInterval,
		Fix: "Set spec.interval to 1-5 minutes and use a webhook receiver for instant syncs",
	}
)

// application is an Argo CD Application's spec, or an ApplicationSet's
// template's.
type application struct {
	doc  *Document
	spec *yaml.Node
	kind string
}

func applications(ctx context.Context, t *Target) ([]application, error) {
	docs, err := t.Documents(ctx)
	var out []application
	for _, d := range docs {
		if !strings.HasPrefix(d.APIVersion, "argoproj.io/") {
			continue
		}
		switch d.Kind {
		case "Application":
			out = append(out, application{d, lookup(d.Root, "spec"), "Application " + objectString(d.ID())})
		case "ApplicationSet":
			out = append(out, application{d, lookupPath(d.Root, "spec", "template", "spec"), "ApplicationSet " + objectString(d.ID()) + "'s template"})
		}
	}
	return out, err
}

func (a application) where(keys ...string) (int, int) {
	n := a.spec
	line, col := a.doc.Line, 0
	if n != nil {
		line, col = n.Line, n.Column
	}
	for _, k := range keys {
		if kn := keyNode(n, k); kn != nil {
			line, col = kn.Line, kn.Column
		}
		n = lookup(n, k)
	}
	return line, col
}

func argoRule(m Meta, check func(a application) []Finding) Rule {
	return NewRule(m, func(ctx context.Context, t *Target) ([]Finding, error) {
		apps, err := applications(ctx, t)
		var out []Finding
		for _, a := range apps {
			out = append(out, check(a)...)
		}
		return out, err
	})
}

func automated(a application) *yaml.Node {
	n := lookupPath(a.spec, "syncPolicy", "automated")
	if n == nil || scalar(n, "enabled") == "false" {
		return nil
	}
	return n
}

// ArgoCDRules are the rules over Argo CD Applications and
// ApplicationSets: argocd-sync-manual, argocd-self-heal-off,
// argocd-prune-off, argocd-default-project and argocd-create-namespace.
func ArgoCDRules() []Rule {
	return []Rule{
		argoRule(argoNotAutomatedMeta, func(a application) []Finding {
			if automated(a) != nil {
				return nil
			}
			line, col := a.where("syncPolicy")
			return []Finding{at(argoNotAutomatedMeta, a.doc, line, col, "%s syncs only by hand: spec.syncPolicy.automated is not set", a.kind)}
		}),
		argoRule(argoSelfHealMeta, func(a application) []Finding {
			if n := automated(a); n != nil && scalar(n, "selfHeal") != "true" {
				line, col := a.where("syncPolicy", "automated", "selfHeal")
				return []Finding{at(argoSelfHealMeta, a.doc, line, col, "%s does not self-heal: manual changes in the cluster stay", a.kind)}
			}
			return nil
		}),
		argoRule(argoPruneMeta, func(a application) []Finding {
			if n := automated(a); n != nil && scalar(n, "prune") != "true" {
				line, col := a.where("syncPolicy", "automated", "prune")
				return []Finding{at(argoPruneMeta, a.doc, line, col, "%s does not prune: objects removed from Git stay in the cluster", a.kind)}
			}
			return nil
		}),
		argoRule(argoDefaultProjectMeta, func(a application) []Finding {
			if p := scalar(a.spec, "project"); p == "" || p == "default" {
				line, col := a.where("project")
				return []Finding{at(argoDefaultProjectMeta, a.doc, line, col, "%s is in the default project, which allows any repository, destination and kind", a.kind)}
			}
			return nil
		}),
		argoRule(argoCreateNamespaceMeta, func(a application) []Finding {
			for _, o := range seq(lookupPath(a.spec, "syncPolicy", "syncOptions")) {
				if strings.ReplaceAll(o.Value, " ", "") == "CreateNamespace=true" {
					return []Finding{at(argoCreateNamespaceMeta, a.doc, o.Line, o.Column, "%s creates its namespace (CreateNamespace=true) with no namespace policy from Git", a.kind)}
				}
			}
			return nil
		}),
	}
}

func fluxRule(m Meta, check func(d *Document, spec *yaml.Node) []Finding) Rule {
	return NewRule(m, func(ctx context.Context, t *Target) ([]Finding, error) {
		docs, err := t.Documents(ctx)
		var out []Finding
		for _, d := range docs {
			if d.Kind == "Kustomization" && strings.HasPrefix(d.APIVersion, "kustomize.toolkit.fluxcd.io/") {
				out = append(out, check(d, lookup(d.Root, "spec"))...)
			}
		}
		return out, err
	})
}

func keyLine(d *Document, n *yaml.Node, key string) (int, int) {
	if k := keyNode(n, key); k != nil {
		return k.Line, k.Column
	}
	if n != nil {
		return n.Line, n.Column
	}
	return d.Line, 0
}

// FluxRules are the rules over Flux Kustomizations: flux-prune-off,
// flux-suspended, flux-no-health-checks and flux-interval-too-long
// with maxInterval as the limit (5 minutes when 0).
func FluxRules(maxInterval time.Duration) []Rule {
	if maxInterval <= 0 {
		maxInterval = 5 * time.Minute
	}
	return []Rule{
		fluxRule(fluxPruneMeta, func(d *Document, spec *yaml.Node) []Finding {
			if scalar(spec, "prune") != "true" {
				line, col := keyLine(d, spec, "prune")
				return []Finding{at(fluxPruneMeta, d, line, col, "Kustomization %s does not prune: objects removed from Git stay in the cluster", objectString(d.ID()))}
			}
			return nil
		}),
		fluxRule(fluxSuspendedMeta, func(d *Document, spec *yaml.Node) []Finding {
			if scalar(spec, "suspend") == "true" {
				line, col := keyLine(d, spec, "suspend")
				return []Finding{at(fluxSuspendedMeta, d, line, col, "Kustomization %s is suspended: nothing is reconciled", objectString(d.ID()))}
			}
			return nil
		}),
		fluxRule(fluxHealthMeta, func(d *Document, spec *yaml.Node) []Finding {
			if scalar(spec, "wait") != "true" && len(seq(lookup(spec, "healthChecks"))) == 0 {
				line, col := keyLine(d, spec, "wait")
				return []Finding{at(fluxHealthMeta, d, line, col, "Kustomization %s has no health checks and does not wait: it is Ready before its workloads are", objectString(d.ID()))}
			}
			return nil
		}),
		fluxRule(fluxIntervalMeta, func(d *Document, spec *yaml.Node) []Finding {
			iv := scalar(spec, "interval")
			dur, err := time.ParseDuration(iv)
			if err != nil || dur <= maxInterval {
				return nil
			}
			line, col := keyLine(d, spec, "interval")
			return []Finding{at(fluxIntervalMeta, d, line, col, "Kustomization %s reconciles every %s, over the %s limit: drift persists that long", objectString(d.ID()), dur, maxInterval)}
		}),
	}
}
