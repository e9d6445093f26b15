// Package apply applies sets of objects to a cluster with server-side
// apply, in stages and waves, runs hooks, keeps an inventory of what each
// owner applied and prunes what left the set, never what it does not own.
//
// An [Applier] is built once per owner (the unit being reconciled, such as
// an application in one environment) and called on every reconcile:
//
//	a, err := apply.New(client, apply.Owner{Name: "shop-prod", Namespace: "platform"})
//	defer a.Close()
//	res, err := a.Apply(ctx, set, apply.DefaultOptions())
//	fmt.Println(res) // "2 created" the first time; "2 unchanged", and no request, the next
//
// [Applier.Plan] answers the same question without writing anything.
//
// An [Owner]'s Name is a DNS label (lower-case letters, digits and '-') of
// at most 54 characters; New refuses any other. It is a label on every
// object the owner applies, and its inventory is "converge-<name>".
//
// # Order
//
// Objects are applied in two stages. The first holds CustomResourceDefinitions,
// Namespaces and cluster RBAC; before the second starts, its CRDs must be
// Established and its Namespaces Active. Inside a stage, objects go by wave
// (the integer annotation converge.dev/sync-wave, or Argo CD's
// argocd.argoproj.io/sync-wave; lower first, 0 by default), then by kind in
// a fixed order (object.KindRank), objects of one kind concurrently, at most
// Options.Concurrency at a time. A failed object does not stop the others
// of its wave; it stops the waves after it.
//
// # Cost
//
// Live objects are read from a watch-backed cache (cluster.Cache) and
// compared with a diff.Differ: an object that has not drifted costs no
// request and no write. The cache holds every object that carries any
// owner's label, and every Namespace ([CacheOptions]); an object without
// the labels must be written anyway (to add them), so a create is one
// request. By default each Applier starts its own cache; [WithCache]
// shares one per cluster among every Applier on it. The inventory is a
// ConfigMap ("converge-<owner>" in the owner's namespace, "default" when
// it has none) written only when the set of IDs changes.
//
// # Hooks
//
// Objects annotated converge.dev/hook (or Argo CD's argocd.argoproj.io/hook,
// or Helm's helm.sh/hook) run at their phase: PreSync after the first
// stage (so that they find their namespaces and kinds) and before the
// rest, Sync in the wave order of the rest (each wave's Sync hooks after
// its ordinary objects), PostSync once the set is applied (and healthy,
// with Options.Wait), SyncFail when something failed. Hooks run only when
// the call changes something (an object to create, update or prune), so
// an in-sync set does not rerun a migration Job on every reconcile;
// Options.ForceHooks runs them anyway, as a sync a person asked for does.
// Helm's pre-install and pre-upgrade hooks are PreSync, post-install and
// post-upgrade PostSync; its delete, rollback and test hooks, and Argo's
// Skip, are not applied.
// A hook is applied, waited for until healthy (a Job complete), and
// deleted by its delete policy (BeforeHookCreation by default). Hooks need
// a name: generateName is not supported. Hooks are not part of the
// inventory and are never pruned.
//
// # Prune
//
// Prune deletes an object only when all of these hold: it is in the
// owner's previous inventory, it is not in the new set, the live object
// still carries the owner's labels, it is not annotated to be kept
// (converge.dev/prune: disabled, Flux's kustomize.toolkit.fluxcd.io/prune:
// disabled, Argo CD's sync option Prune=false), no other owner shares it
// (converge.dev/co-owners: this owner only takes itself off the list), and
// it was last applied from the owner's [Owner].Source (otherwise the whole
// prune is refused and deletes nothing, unless Options.PruneOtherSources).
// A Namespace is kept, and let go of, while the set or another owner still
// has objects in it; a Namespace converge created on request
// (Options.CreateNamespace) is in no inventory and is deleted only with
// Options.PruneCreatedNamespace. Prune runs only when every apply of the
// call succeeded, and never on an empty set unless
// Options.AllowEmptyPrune. It deletes in reverse order (custom resources
// and ordinary objects first, then cluster RBAC, CRDs, and Namespaces
// last) with a UID precondition, and waits for each object to be gone.
//
// # Per-object annotations
//
//   - converge.dev/apply (Flux's kustomize.toolkit.fluxcd.io/ssa):
//     IfNotPresent creates the object when absent and never updates it;
//     Ignore leaves it alone.
//   - converge.dev/recreate: enabled (Flux's kustomize.toolkit.fluxcd.io/force:
//     enabled, Argo's sync option Force=true) allows delete and recreate
//     when the API server rejects a change to an immutable field. Only such
//     a rejection triggers it: a conflict between field managers never does.
//
// Unknown values of these annotations refuse the whole set before anything
// is written, so a typo never changes what is applied.
//
// # Owners
//
// An object whose owner labels name another owner is refused with an
// [*OwnerError], and not written (Options.Sharing [RefuseShared], the
// default). With [AllowShared] it is applied and the owner recorded among its co-owners
// (converge.dev/co-owners), and a prune never deletes it while another
// owner holds it.
//
// # Conflicts
//
// By default Git wins: fields other managers own are taken over (a forced
// apply). With ReportConflicts the object is not written and fails with a
// [*ConflictError] naming the fields and managers. Options.TakeOverKubectl
// moves fields that client-side kubectl owns to converge's manager.
//
// # Tenants
//
// A [Policy] (such as [TenantPolicy]) sees the whole set first and can
// refuse it; nothing is written then. To apply as a tenant's service
// account, build the cluster.Client from a rest.Config with Impersonate set
// (see cluster.Impersonate).
package apply
