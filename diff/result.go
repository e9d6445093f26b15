package diff

import (
	"fmt"
	"strings"

	"github.com/converge-dev/converge/object"
)

// Action says what applying the desired object would do.
type Action string

const (
	// Create: the object does not exist.
	Create Action = "Create"
	// Update: applying would change the live object: a value converge
	// sets differs, or converge would take back ownership of a field.
	Update Action = "Update"
	// Unchanged: applying would write nothing.
	Unchanged Action = "Unchanged"
)

func (a Action) String() string { return string(a) }

// Method says how a verdict was reached.
type Method string

const (
	// ByReceipt: the apply receipt matched; no comparison was needed.
	ByReceipt Method = "Receipt"
	// ByLocalMerge: a local server-side-apply merge against the live object.
	ByLocalMerge Method = "LocalMerge"
	// ByDryRun: a server-side dry-run apply (or its cached verdict).
	ByDryRun Method = "DryRun"
)

// Conflict is a field converge sets that another manager owns with another
// value. Applying with force takes it over; without force, the API server
// rejects the apply.
type Conflict struct {
	Manager string // the other field manager
	Path    string // the field, e.g. .spec.replicas
}

func (c Conflict) String() string { return fmt.Sprintf("%s (owned by %s)", c.Path, c.Manager) }

// Result is the verdict for one object.
type Result struct {
	ID     object.ID
	Action Action
	Method Method
	// Paths are the changed fields, e.g. ".spec.template.spec.containers[name=api].image",
	// sorted. Empty when only ownership changes.
	Paths []string
	// Conflicts are fields other managers own that converge's apply would
	// take over.
	Conflicts []Conflict
	// Diff is a unified diff of the live object (---) and the object after
	// the apply (+++), as YAML in kubectl diff style, with Secret values
	// masked. Empty for Unchanged.
	Diff string
	// Uncertain is set when the local merge could not be exact (no schema
	// for the type, or only ownership differs, which server defaulting can
	// explain); Reason says why. A dry-run settles it.
	Uncertain bool
	Reason    string
}

// String summarizes the result in one line.
func (r *Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Action, r.ID)
	if len(r.Paths) > 0 {
		fmt.Fprintf(&b, ": %s", strings.Join(r.Paths, ", "))
	}
	if r.Uncertain {
		fmt.Fprintf(&b, " (uncertain: %s)", r.Reason)
	}
	return b.String()
}
