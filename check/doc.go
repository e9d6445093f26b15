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
// The repository rules ([RepositoryRules]) are secret-plaintext,
// credential-in-config, image-latest, ci-push-deploy, argocd-sync-manual,
// argocd-self-heal-off, argocd-prune-off, argocd-default-project,
// argocd-create-namespace, argocd-interval-too-long, flux-prune-off,
// flux-suspended, flux-no-health-checks, flux-interval-too-long,
// flux-no-service-account, argocd-no-notifications,
// flux-no-notifications, layout-environments, layout-promotion-path (an
// environment directory on no promotion path, or prod with nothing
// before it), layout-prod-drift (prod rendered beside staging differs
// in more than images, replicas, resources and autoscaling) and
// yaml-invalid.
//
// Rules that need more than a snapshot take what they read as values:
//
//   - [SecretHistory] ("secret-history") reads a Git repository's
//     history (open one with [OpenRepository]) for plaintext Secrets
//     that any commit added, removed since or not, within
//     [HistoryOptions] bounds, and [BranchLayout]
//     ("layout-branch-per-environment") its branches;
//   - [ClusterRules] (cluster-hand-edit, cluster-unowned-object,
//     cluster-rbac-write) read a live cluster through a [ClusterReader]
//     (*cluster.Client is one): who changed a GitOps-managed object by
//     hand, when and which fields, from its managed fields;
//   - [MovedTags] ("image-tag-moved") resolves pinned tags with a
//     [DigestFunc] (promote's registry client is one);
//   - [UnitRules] check a host's own reconcile units, described as
//     [Unit] values, as the Argo CD and Flux rules check their manifests.
//
// A host adds them beside the repository rules:
//
//	repo, err := check.OpenRepository(dir)
//	c, err := cluster.New(restConfig)
//	rules = append(rules, check.SecretHistory(repo, check.DefaultHistoryOptions()))
//	rules = append(rules, check.ClusterRules(c, check.DefaultClusterOptions())...)
//
// # Turning rules off
//
// [Options].Disabled turns rules off by ID for a whole run; the
// annotation check.converge.dev/disable: "ID,ID" on an object turns them
// off for findings in that object's document, and
// check.converge.dev/disable-reason says why: the report counts what the
// annotation suppressed and its notes quote the reason for each. On a
// live object the annotation turns the cluster rules off for it.
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
