package check

// Section is the item of the GitOps readiness checklist or anti-pattern
// table a rule comes from; reports group findings by it. Its value is
// the item's text, so a host's rules can name items of their own.
type Section string

// The sections converge's rules come from. Each names the checklist item
// or anti-pattern (shared/gitops-patterns.md) the rule checks.
const (
	// SectionSecrets: "No plain-text secrets committed to any Git
	// repository" (anti-pattern: plain-text secrets in Git).
	SectionSecrets Section = "No plain-text secrets committed to any Git repository"
	// SectionImages: "Image tags are immutable" (anti-pattern: image tag
	// latest in manifests).
	SectionImages Section = "Image tags are immutable (semver, SHA, or build ID, never latest)"
	// SectionPushDeploys: the anti-pattern "Push-based deploys alongside
	// GitOps".
	SectionPushDeploys Section = "No push-based deploys alongside GitOps"
	// SectionSync: "Auto-sync enabled with self-heal and prune for all
	// environments" (anti-pattern: disabling self-heal / auto-prune).
	SectionSync Section = "Auto-sync enabled with self-heal and prune for all environments"
	// SectionHealth: "Health checks configured for all synced
	// applications".
	SectionHealth Section = "Health checks configured for all synced applications"
	// SectionRBAC: "RBAC configured: AppProjects (ArgoCD) or namespaced
	// Kustomizations (Flux)" (anti-pattern: no RBAC on GitOps tool).
	SectionRBAC Section = "RBAC configured: AppProjects (ArgoCD) or namespaced Kustomizations (Flux)"
	// SectionInterval: the anti-pattern "Reconciliation interval too
	// long".
	SectionInterval Section = "Reconciliation interval of 1-5 minutes"
	// SectionLayout: "Directory-per-environment structure with Kustomize
	// overlays or Helm values" (anti-pattern: branch-per-environment).
	SectionLayout Section = "Directory-per-environment structure with Kustomize overlays or Helm values"
	// SectionManifests: "All application manifests stored in a Git
	// repository": manifests the GitOps agent cannot read are not there.
	SectionManifests Section = "All application manifests stored in a Git repository (and readable)"
)
