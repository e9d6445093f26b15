package apply

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
)

// Conflicts says what happens when another field manager owns a field the
// desired state sets.
type Conflicts int

const (
	// ForceConflicts takes the fields over: Git wins. This is the default.
	ForceConflicts Conflicts = iota
	// ReportConflicts leaves the object as it is and fails it with a
	// [*ConflictError] naming the managers that own the fields.
	ReportConflicts
)

// Options are the per-call settings of Apply and Plan. Start from
// DefaultOptions.
type Options struct {
	// Namespace is given to namespaced objects that have none. Without
	// it such an object is an error, reported before anything is written.
	Namespace string
	// CreateNamespace creates Namespace when the set lacks it and it does
	// not exist (Argo CD's CreateNamespace=true). It is created with the
	// cluster stage, marked object.AnnotationCreatedFor this owner, and
	// otherwise left alone: it carries no owner labels, is in no
	// inventory, and is never pruned unless PruneCreatedNamespace asks.
	// A Namespace that already exists, whoever made it, is not touched.
	CreateNamespace bool
	// PruneCreatedNamespace deletes Namespace, with everything in it, when
	// CreateNamespace is off and converge created it on request for this
	// owner earlier: the explicit request to undo CreateNamespace (as
	// when an application is deleted). The guards of any Namespace prune
	// still hold.
	PruneCreatedNamespace bool

	// Prune deletes objects of the previous inventory that left the set.
	Prune bool
	// PruneOtherSources lets a prune delete objects that were last
	// applied from another source than the owner's (see Owner.Source).
	// Off by default: that prune is refused, and nothing is deleted.
	PruneOtherSources bool
	// Sharing says what happens to an object another owner applied first:
	// refused (the default) or shared.
	Sharing Sharing
	// AllowEmptyPrune lets an empty set prune everything the owner has.
	// Off by default: an empty render is more often a mistake than an
	// intent.
	AllowEmptyPrune bool
	// PropagationPolicy is used for prune and hook deletion; Background
	// by default.
	PropagationPolicy metav1.DeletionPropagation
	// PruneTimeout bounds the wait for pruned objects to disappear.
	PruneTimeout time.Duration

	// Conflicts chooses between taking fields over and reporting.
	Conflicts Conflicts
	// Recreate allows delete-and-recreate, for every object, when the API
	// server rejects a change to an immutable field. Without it only
	// objects annotated for it (see object.AnnotationRecreate) are.
	Recreate bool
	// TakeOverKubectl moves the fields that client-side `kubectl apply`
	// (or kubectl create/edit) manages to converge's field manager and
	// drops kubectl's last-applied annotation, so that fields removed
	// from Git are removed from the cluster.
	TakeOverKubectl bool

	// Concurrency bounds the writes in flight inside one wave.
	Concurrency int
	// ReadinessTimeout bounds the wait for CRDs to be Established and
	// Namespaces Active before the rest of the set is applied.
	ReadinessTimeout time.Duration
	// Wait waits, after applying, until every applied object is healthy
	// (by the Applier's health checker).
	Wait bool
	// WaitTimeout bounds that wait and the wait for each hook phase.
	WaitTimeout time.Duration
	// Accept lists the health statuses that end the wait for an object;
	// Healthy only when empty. Add health.Unknown when custom resources
	// without a health rule must not block, health.Suspended for paused
	// workloads.
	Accept []health.Status
	// WaitSkip names objects and kinds the health wait reports but does
	// not wait for (custom resources no controller reports on, say).
	WaitSkip health.Skip
	// WaitProgress, when set, is called as the health wait advances.
	WaitProgress func(health.Progress)

	// ForceHooks runs the hooks even when the sync changes nothing, as a
	// sync a person asked for does (Argo CD's manual sync). By default
	// hooks run only when something is created, updated or pruned.
	ForceHooks bool

	// Progress, when set, is called as objects are handled. It is called
	// from several goroutines and must not block.
	Progress func(Event)
}

// DefaultOptions returns the settings most hosts want: prune on, Git wins
// conflicts, eight writes in flight, two minutes for readiness, hooks and
// pruning, no health wait.
func DefaultOptions() Options {
	return Options{
		Prune:             true,
		PropagationPolicy: metav1.DeletePropagationBackground,
		PruneTimeout:      2 * time.Minute,
		Conflicts:         ForceConflicts,
		Concurrency:       8,
		ReadinessTimeout:  2 * time.Minute,
		WaitTimeout:       5 * time.Minute,
	}
}

// Event reports progress on one object.
type Event struct {
	Phase  Phase
	ID     object.ID
	Action Action
	Err    error
}
