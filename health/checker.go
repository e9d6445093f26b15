package health

import (
	"cmp"
	"context"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/object"
)

// Checker tells the health of one object.
//
// Check is pure: it reads obj, never modifies or retains it, and does no I/O.
// It must not panic on malformed input; it returns [Unknown] with a reason
// instead. Implementations must be safe for concurrent use.
type Checker interface {
	Check(obj *unstructured.Unstructured) Result
}

// CheckerFunc adapts a function to a [Checker].
type CheckerFunc func(obj *unstructured.Unstructured) Result

// Check calls f(obj).
func (f CheckerFunc) Check(obj *unstructured.Unstructured) Result { return f(obj) }

// KindChecker is a [Checker] that says which kinds it knows. An [Engine]
// asks Supports before Check and uses the first KindChecker that supports an
// object's kind.
type KindChecker interface {
	Checker
	Supports(gk schema.GroupKind) bool
}

// ContextChecker is a [Checker] whose checks may wait on something the host
// passed in, such as the engine's [CRDs], and so take a context. [Wait]
// calls CheckContext, with its own context, on checkers that have it, so
// that ending the wait ends the check. CheckContext keeps Check's contract
// otherwise; Check is CheckContext without a deadline.
type ContextChecker interface {
	Checker
	CheckContext(ctx context.Context, obj *unstructured.Unstructured) Result
}

var (
	_ Checker        = CheckerFunc(nil)
	_ ContextChecker = (*Engine)(nil)
	_ KindChecker    = kindChecker{}
	_ KindChecker    = Chain(nil)
	_ Checker        = (*Engine)(nil)
	_ KindChecker    = (*RuleSet)(nil)
)

// ForKinds returns a [KindChecker] that supports exactly the given kinds and
// checks them with c.
func ForKinds(c Checker, kinds ...schema.GroupKind) KindChecker {
	set := make(map[schema.GroupKind]bool, len(kinds))
	for _, gk := range kinds {
		set[gk] = true
	}
	return kindChecker{Checker: c, kinds: set}
}

type kindChecker struct {
	Checker
	kinds map[schema.GroupKind]bool
}

func (k kindChecker) Supports(gk schema.GroupKind) bool { return k.kinds[gk] }

// Chain is a list of checkers; the first that supports a kind checks it.
type Chain []KindChecker

// Supports reports whether any checker of the chain supports gk.
func (c Chain) Supports(gk schema.GroupKind) bool {
	return slices.ContainsFunc(c, func(k KindChecker) bool { return k.Supports(gk) })
}

// Check uses the first checker that supports obj's kind, or returns Unknown
// with reason "Unsupported".
func (c Chain) Check(obj *unstructured.Unstructured) Result {
	gk := obj.GroupVersionKind().GroupKind()
	for _, k := range c {
		if k.Supports(gk) {
			return k.Check(obj)
		}
	}
	return Result{Status: Unknown, Reason: "Unsupported", Message: "no checker supports " + gk.String()}
}

// ObjectResult is the health of one named object.
type ObjectResult struct {
	ID object.ID
	Result
}

// Worst returns the worst status of results in the order Healthy,
// Suspended, Progressing, Missing, Degraded, Unknown (Argo CD's). It returns
// Healthy for no results.
func Worst(results []ObjectResult) Status {
	worst := Healthy
	for _, r := range results {
		if r.Status.Worse(worst) {
			worst = r.Status
		}
	}
	return worst
}

// Sort orders results worst status first and, within a status, by
// [object.Compare], so that a roll-up reads the same on every run.
func Sort(results []ObjectResult) {
	slices.SortStableFunc(results, func(a, b ObjectResult) int {
		if c := cmp.Compare(b.Status.rank(), a.Status.rank()); c != 0 {
			return c
		}
		return object.Compare(a.ID, b.ID)
	})
}

// CheckAll checks every object with c and returns the results sorted by
// [Sort].
func CheckAll(c Checker, objs []*unstructured.Unstructured) []ObjectResult {
	out := make([]ObjectResult, 0, len(objs))
	for _, obj := range objs {
		out = append(out, ObjectResult{ID: object.IDOf(obj), Result: c.Check(obj)})
	}
	Sort(out)
	return out
}
