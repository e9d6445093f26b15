// Package converge is an embeddable SDK for GitOps reconciliation: the
// machinery of Argo CD and Flux as small packages that platform teams import
// into their own controllers, CLIs and portals. This package holds no code;
// its subpackages do.
//
// # The flow
//
// Desired state lives in Git. A host program (a controller-runtime
// reconciler, a CLI, a CI job) runs one pass of this flow per reconcile,
// through package reconcile or with the packages one by one:
//
//	source ─► render ─► diff ◄─ cluster
//	                     │
//	                     ▼
//	                   apply ─► health
//
// The packages:
//   - object is the vocabulary all of them share: object IDs, ordered
//     sets, bounded decoding of untrusted manifests, the order kinds are
//     applied in, and the annotation and label keys converge understands.
//   - source fetches a revision of a Git repository (source/git) or a
//     directory (source/dir) as a read-only file tree that cannot reach
//     outside its root; source/sourcetest is a conformance suite for other
//     implementations.
//   - render turns a path of that tree into objects: Kustomize overlays
//     (render/kustomize), Helm charts (render/helm), plain manifests
//     (render/plain), and variable substitution.
//   - cluster is the edge to the API server: a client that counts every
//     request, REST mapping, OpenAPI type converters, and a watch-backed
//     Cache of live objects.
//   - diff compares desired with live under server-side-apply semantics,
//     from the cache and without a request when an apply receipt matches,
//     and masks Secret values in every diff it renders.
//   - apply writes only what differs, with server-side apply, in stages
//     and waves, runs hooks, keeps an inventory and prunes only what its
//     owner applied.
//   - health says whether each object is Healthy, Progressing, Degraded,
//     Suspended, Missing or Unknown, custom resources included, rolls the
//     results up, and waits on watches.
//   - reconcile is the engine: a Unit (an application in one environment),
//     one pass over it (fetch, render, plan, apply, prune, health) and a
//     Loop with intervals, retries, triggers, self-heal and dependsOn.
//     reconcile/argocd and reconcile/flux load Argo CD Applications,
//     ApplicationSets and AppProjects and Flux GitRepositories and
//     Kustomizations into Units; reconcile/notify sends the engine's
//     notifications to JSON webhooks and Slack.
//
// Still planned, and not in the module yet: secrets (SOPS and Sealed
// Secrets decryption, between render and diff), rollout (canary and
// blue-green releases with metric analysis, after health), promote (image
// promotion from one environment to the next by pull request) and check
// (readiness and anti-pattern rules over a repository and a cluster).
//
// # Wiring
//
// The engine, as a host runs it:
//
//	client, err := cluster.New(restConfig)
//	r, err := reconcile.New(client)
//	defer r.Close()
//	status, err := r.Reconcile(ctx, reconcile.Unit{
//		Name: "shop-prod", Namespace: "platform",
//		Source: reconcile.Source{URL: "https://github.com/myorg/gitops-deploy.git"},
//		Path:   "clusters/prod",
//		Sync:   reconcile.Sync{Prune: true},
//	})
//	fmt.Println(status.Condition(reconcile.ConditionReady).Message) // "Applied revision: main@sha1:…"
//
// The same pass with the packages one by one:
//
//	src, err := git.New("https://github.com/myorg/gitops-deploy.git", git.Reference{Branch: "main"})
//	snap, err := src.Fetch(ctx) // one reference listing when nothing changed
//	set, err := kustomize.New().Render(ctx, snap.FS, "clusters/prod", render.DefaultOptions())
//	applier, err := apply.New(client, apply.Owner{Name: "shop-prod", Namespace: "platform"})
//	defer applier.Close()
//	res, err := applier.Apply(ctx, set, apply.DefaultOptions()) // diffs against its watch cache, writes only drift
//	checker, err := health.New(health.WithCRDs(applier.Cache().View()))
//	report, err := health.Wait(ctx, applier.Cache().View(), checker, set.IDs(), health.DefaultWaitOptions())
//
// Every call that blocks takes a context first. The stages a host can
// replace are small interfaces with Func adapters (source.SourceFunc,
// render.RendererFunc and ProcessorFunc, health.CheckerFunc,
// diff.SchemasFunc and DryRunnerFunc, apply.PolicyFunc, and reconcile's
// FetcherFunc, RendererFunc, StepFunc, GateFunc and NotifierFunc). No
// package keeps process-wide state of its own (render/kustomize keeps
// kustomize's from changing), so many reconcilers can share one process.
package converge
