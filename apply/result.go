package apply

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
)

// Action is what happened, or in a Plan what would happen, to one object.
type Action string

const (
	Created    Action = "Created"
	Configured Action = "Configured"
	Unchanged  Action = "Unchanged"
	// Recreated: deleted and created again after an immutable-field
	// rejection the policy allowed.
	Recreated Action = "Recreated"
	// Skipped: left alone on purpose (an Ignore or IfNotPresent object
	// that exists, a hook of a phase that did not run, a later wave after
	// a failure).
	Skipped Action = "Skipped"
	Pruned  Action = "Pruned"
	// Kept: left the set but was not pruned (annotated to be kept, or no
	// longer carrying this owner's labels); it is dropped from the
	// inventory.
	Kept   Action = "Kept"
	Failed Action = "Failed"
)

// Phase is the part of a call an object was handled in.
type Phase string

const (
	PhasePreSync  Phase = "PreSync"
	PhaseSync     Phase = "Sync"
	PhasePostSync Phase = "PostSync"
	PhaseSyncFail Phase = "SyncFail"
	PhasePrune    Phase = "Prune"
)

// ObjectResult is the outcome for one object.
type ObjectResult struct {
	ID     object.ID
	Phase  Phase
	Wave   int
	Action Action
	// Reason says why, for Skipped, Kept and Failed.
	Reason string
	// Diff is the comparison that decided the action, when one was made.
	Diff     *diff.Result
	Err      error
	Duration time.Duration
}

// Result is the outcome of one Apply or Plan call.
type Result struct {
	// Objects are the set's objects in the order they were handled, then
	// hooks in phase order, then pruned objects.
	Objects []ObjectResult
	// PruneSkipped says why prune did not run, when it did not.
	PruneSkipped string
	// Health is the final health report when Options.Wait was set.
	Health *health.Report
	// WaitErr is set when a wait of the call failed: the CRDs and
	// Namespaces of the first stage not ready in time, or, with
	// Options.Wait, objects not healthy (see Health). The objects
	// themselves were applied; their results say so.
	WaitErr error
	// Writes counts the create, patch and delete requests sent.
	Writes   int
	Duration time.Duration
	// DryRun is set on the Result of Plan: nothing was written.
	DryRun bool
}

// Count returns how many objects ended with action a.
func (r *Result) Count(a Action) int {
	n := 0
	for _, o := range r.Objects {
		if o.Action == a {
			n++
		}
	}
	return n
}

// Failed returns the results of failed objects.
func (r *Result) Failed() []ObjectResult {
	var out []ObjectResult
	for _, o := range r.Objects {
		if o.Action == Failed {
			out = append(out, o)
		}
	}
	return out
}

// Err joins the errors of failed objects, each naming its object first,
// and WaitErr, or returns nil.
func (r *Result) Err() error {
	var errs []error
	for _, o := range r.Objects {
		if o.Action == Failed && o.Err != nil {
			errs = append(errs, &ObjectError{ID: o.ID, Err: o.Err})
		}
	}
	if r.WaitErr != nil {
		errs = append(errs, r.WaitErr)
	}
	return errors.Join(errs...)
}

// String summarizes the counts, e.g. "3 created, 1 configured, 96 unchanged".
func (r *Result) String() string {
	var parts []string
	for _, a := range []Action{Created, Configured, Recreated, Unchanged, Skipped, Pruned, Kept, Failed} {
		if n := r.Count(a); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, strings.ToLower(string(a))))
		}
	}
	if len(parts) == 0 {
		return "nothing to do"
	}
	return strings.Join(parts, ", ")
}

// Sentinel errors, for errors.Is.
var (
	// ErrRefused: the set was refused before anything was written (by
	// the Policy, or because it is not valid to apply).
	ErrRefused = errors.New("set refused")
	// ErrImmutable: the API server rejected a change to an immutable
	// field and recreation was not allowed.
	ErrImmutable = errors.New("field is immutable")
	// ErrConflict: another field manager owns a field, and conflicts are
	// reported rather than forced.
	ErrConflict = errors.New("field manager conflict")
	// ErrHook: a hook failed.
	ErrHook = errors.New("hook failed")
)

// ObjectError is an error about one object. Its message names the object
// first.
type ObjectError struct {
	ID  object.ID
	Err error
}

func (e *ObjectError) Error() string { return e.ID.String() + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *ObjectError) Unwrap() error { return e.Err }

// ConflictError names the fields another manager owns.
type ConflictError struct {
	// Conflicts are "manager: field" pairs, as the API server reports them.
	Conflicts []string
}

func (e *ConflictError) Error() string {
	return "fields owned by other managers: " + strings.Join(e.Conflicts, "; ")
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }
