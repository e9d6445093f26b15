// Package converge is an embeddable SDK for GitOps reconciliation: the
// machinery of Argo CD and Flux as small packages that platform teams import
// into their own controllers, CLIs and portals.
//
// # The flow
//
// Desired state lives in Git. A host program (a controller-runtime
// reconciler, a CLI, a CI job) runs one pass of this flow per reconcile:
//
//	source ─► render ─► secrets ─► diff ◄─ cluster
//	                                │
//	                                ▼
//	                              apply ─► health ─► rollout ─► promote
//
// The stages:
//   - source fetches a revision of a Git repository (or a directory) and
//     hands out a read-only file tree that cannot reach outside its root.
//   - render turns a path of that tree into objects: Kustomize overlays,
//     plain manifests, Helm charts, variable substitution.
//   - secrets decrypts SOPS-encrypted objects with in-memory keys and seals
//     or unseals Sealed Secrets.
//   - cluster keeps a watch-backed view of the live objects, so diff can
//     compare desired with live under server-side-apply semantics without a
//     request per object.
//   - apply writes only what differs, in stages and waves, runs hooks,
//     records an inventory and prunes only what it owns.
//   - health says whether each applied object is Healthy, Progressing or
//     Degraded, custom resources included, and waits on watches.
//   - rollout steps canary and blue-green releases with metric analysis;
//     promote moves image tags from one environment to the next by pull
//     request.
//
// Package [github.com/converge-dev/converge/object] is the vocabulary all of
// them share: object IDs, ordered sets, bounded decoding of untrusted
// manifests and the annotation keys converge understands.
//
// # Wiring
//
// A reconcile pass, as a host writes it (secrets and apply land later; see
// the README for what is there today):
//
//	snap, err := src.Fetch(ctx)                         // source/git: one ref listing when unchanged
//	set, err := kustomize.New().Render(ctx, snap.FS, "clusters/prod", render.DefaultOptions())
//	live, err := cache.Get(ctx, gvk, namespace, name)   // cluster: from a watch, no request
//	res, err := differ.Diff(ctx, desired, live)         // diff: Create, Update or Unchanged
//	report, err := health.Wait(ctx, cache.View(), checker, set.IDs(), health.DefaultWaitOptions())
//
// Every call takes a context first, every collaborator is an interface with
// a Func adapter, and nothing keeps global state, so many reconcilers can
// share one process.
package converge
