// Package check runs the GitOps readiness checklist and anti-patterns
// (shared/gitops-patterns.md) as rules over a repository snapshot and
// reports what it finds, with evidence: a file and line, an object or a
// commit, and never a secret value.
//
// Rules are values: a [Rule] has a [Meta] (ID, title, severity, the
// checklist item it comes from, a fix hint) and a Check method.
// [NewRule] turns a [RuleFunc] into one, so hosts add their own beside
// [RepositoryRules]:
//
//	t := check.NewTarget(snapshot.FS(), snapshot.Revision(), check.DefaultLimits())
//	rules := append(check.RepositoryRules(check.DefaultRepositoryOptions()), myRule)
//	rep, err := check.Run(ctx, t, rules, check.DefaultOptions())
//	if err != nil { ... }
//	rep.WriteText(os.Stdout) // or WriteJSON, WriteSARIF
//	if rep.Fails(check.SeverityHigh) { os.Exit(1) }
//
// # Rules
//
// The repository rules are secret-plaintext, credential-in-config,
// image-latest, ci-push-deploy, argocd-sync-manual, argocd-self-heal-off,
// argocd-prune-off, argocd-default-project, argocd-create-namespace,
// flux-prune-off, flux-suspended, flux-no-health-checks,
// flux-interval-too-long, layout-environments and yaml-invalid.
//
// [SecretHistory] ("secret-history") reads a Git repository's history
// (open one with [OpenRepository]) for plaintext Secrets that any commit
// added, removed since or not, within [HistoryOptions] bounds:
//
//	repo, err := check.OpenRepository(dir)
//	rules = append(rules, check.SecretHistory(repo, check.DefaultHistoryOptions()))
//
// # Turning rules off
//
// [Options].Disabled turns rules off by ID for a whole run; the
// annotation check.converge.dev/disable: "ID,ID" on an object turns them
// off for findings in that object's document. The report counts what the
// annotation suppressed.
//
// # Bounds
//
// A [Target] reads at most [Limits].MaxFiles files of at most
// MaxFileSize bytes each, skips binary files and symlinks, and says so in
// the report's notes. A YAML file that does not parse is a yaml-invalid
// finding. Helm chart templates are not read as YAML.
//
// # Secret values
//
// Rules name keys, never values, and [Run] also replaces anything in a
// message that looks like a credential (AWS key IDs, private keys, JWTs,
// service tokens) before it reaches a report.
package check
