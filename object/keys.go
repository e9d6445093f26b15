package object

// FieldManager is the server-side apply field manager converge writes as,
// unless a host chooses another.
const FieldManager = "converge"

// Labels converge sets on the objects it applies. Prune deletes only objects
// that still carry them, so removing the label releases an object.
const (
	// LabelOwner holds the name of the unit (an application, a
	// Kustomization) that applied the object.
	LabelOwner = "converge.dev/owner"
	// LabelOwnerNamespace holds the namespace of that unit, when it has one.
	LabelOwnerNamespace = "converge.dev/owner-namespace"
)

// Annotations converge writes on the objects it applies, beside the owner
// labels.
const (
	// AnnotationCoOwners lists the other units that apply an object the
	// unit in the owner labels applied first, as a sorted, comma-separated
	// list of "namespace/name" (or "name" for a unit without a namespace).
	// An object with co-owners is never deleted by a prune: the pruning
	// unit only takes itself off the list.
	AnnotationCoOwners = "converge.dev/co-owners"
	// AnnotationSource records where the owner last applied the object
	// from (a repository URL without credentials). A prune refuses, by
	// default, to delete objects last applied from another source.
	AnnotationSource = "converge.dev/source"
	// AnnotationCreatedFor marks a Namespace converge created on request
	// (Argo CD's CreateNamespace=true) for the unit it names. Such a
	// Namespace carries no owner labels and is in no inventory: it is
	// never pruned unless the host asks for it explicitly.
	AnnotationCreatedFor = "converge.dev/created-for"
	// AnnotationSensitive lists, as a JSON array of JSON pointers
	// (["/data/password", "/spec/template/spec/containers/0/env/1/value"]),
	// the fields of an object that is not a Secret which hold secret
	// values: what converge's secrets steps decrypted or read from a
	// store into it. Diffs and plans mask those fields, and every copy of
	// their values, as they mask a Secret's. It holds paths, never values.
	AnnotationSensitive = "converge.dev/sensitive"
)

// Annotations converge reads on desired objects. Where Argo CD or Flux has
// its own spelling for the same intent, both are understood; converge's key
// wins when both are set.
const (
	// AnnotationSyncWave orders objects into waves: an integer, lower first,
	// 0 by default.
	AnnotationSyncWave = "converge.dev/sync-wave"
	// ArgoSyncWave is Argo CD's spelling of AnnotationSyncWave.
	ArgoSyncWave = "argocd.argoproj.io/sync-wave"

	// AnnotationHook marks an object as a hook that runs at a phase:
	// "PreSync", "Sync", "PostSync" or "SyncFail".
	AnnotationHook = "converge.dev/hook"
	// ArgoHook is Argo CD's spelling of AnnotationHook.
	ArgoHook = "argocd.argoproj.io/hook"
	// HelmHook is Helm's hook annotation ("pre-install", "post-upgrade", ...).
	HelmHook = "helm.sh/hook"
	// HelmHookWeight orders Helm hooks of one phase.
	HelmHookWeight = "helm.sh/hook-weight"

	// AnnotationHookDeletePolicy says when a hook is deleted:
	// "BeforeHookCreation", "HookSucceeded" or "HookFailed".
	AnnotationHookDeletePolicy = "converge.dev/hook-delete-policy"
	// ArgoHookDeletePolicy is Argo CD's spelling of AnnotationHookDeletePolicy.
	ArgoHookDeletePolicy = "argocd.argoproj.io/hook-delete-policy"
	// HelmHookDeletePolicy is Helm's ("before-hook-creation", ...).
	HelmHookDeletePolicy = "helm.sh/hook-delete-policy"

	// AnnotationPrune set to "disabled" keeps an object when it leaves the
	// desired set.
	AnnotationPrune = "converge.dev/prune"
	// FluxPrune is Flux's spelling of AnnotationPrune ("disabled").
	FluxPrune = "kustomize.toolkit.fluxcd.io/prune"

	// AnnotationApply chooses how an object is applied: "IfNotPresent"
	// creates it when absent and never updates it; "Ignore" leaves it alone.
	AnnotationApply = "converge.dev/apply"
	// FluxSSA is Flux's spelling of AnnotationApply ("IfNotPresent",
	// "Ignore", "Merge", "Override").
	FluxSSA = "kustomize.toolkit.fluxcd.io/ssa"

	// AnnotationRecreate set to "enabled" allows delete-and-recreate when the
	// API server rejects a change to an immutable field.
	AnnotationRecreate = "converge.dev/recreate"
	// FluxForce is Flux's spelling of AnnotationRecreate ("enabled").
	FluxForce = "kustomize.toolkit.fluxcd.io/force"

	// ArgoSyncOptions holds Argo CD's comma-separated sync options
	// ("Prune=false", "Replace=true", "Force=true", ...).
	ArgoSyncOptions = "argocd.argoproj.io/sync-options"

	// AnnotationSubstitute set to "disabled" opts an object out of variable
	// substitution.
	AnnotationSubstitute = "converge.dev/substitute"
	// FluxSubstitute is Flux's spelling of AnnotationSubstitute ("disabled").
	FluxSubstitute = "kustomize.toolkit.fluxcd.io/substitute"
)
