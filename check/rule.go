package check

import (
	"context"
	"fmt"
	"path"
	"strconv"

	"github.com/converge-dev/converge/object"
)

// Meta describes a rule: what reports and SARIF say about it.
type Meta struct {
	// ID names the rule in findings, options and the disable annotation
	// ("image-latest"). IDs are lower-case words joined by hyphens.
	ID string `json:"id"`
	// Title says in a line what the rule looks for.
	Title string `json:"title"`
	// Severity is the severity of the rule's findings unless a finding
	// sets its own.
	Severity Severity `json:"severity"`
	// Section is the checklist item or anti-pattern the rule comes from.
	Section Section `json:"section"`
	// Fix says how to fix what the rule finds.
	Fix string `json:"fix"`
}

// Rule checks a target and returns what it found.
//
// Check must not modify the target, must honour ctx, and must be safe
// for concurrent use on different targets. Findings must never hold a
// secret value: name keys, files and lines, never what they hold. An
// error means the rule could not check (not that it found something);
// [Run] records it as a note and goes on with the other rules. A rule
// that a bound stopped part way returns its findings with an
// [*IncompleteError], whose notes Run adds to the report.
type Rule interface {
	// Meta returns the rule's description; it must not change.
	Meta() Meta
	// Check returns the rule's findings on t.
	Check(ctx context.Context, t *Target) ([]Finding, error)
}

// RuleFunc is a rule's Check as a function; [NewRule] makes it a Rule.
type RuleFunc func(ctx context.Context, t *Target) ([]Finding, error)

// NewRule returns the rule that m describes and f checks.
func NewRule(m Meta, f RuleFunc) Rule { return funcRule{meta: m, check: f} }

type funcRule struct {
	meta  Meta
	check RuleFunc
}

var _ Rule = funcRule{}

func (r funcRule) Meta() Meta { return r.meta }

func (r funcRule) Check(ctx context.Context, t *Target) ([]Finding, error) {
	return r.check(ctx, t)
}

// Finding is one thing a rule found, with where.
type Finding struct {
	// Rule is the ID of the rule that found it.
	Rule string `json:"rule"`
	// Severity is the finding's severity; unset takes the rule's.
	Severity Severity `json:"severity"`
	// Message says what was found. It never holds a secret value.
	Message string `json:"message"`
	// Location is where.
	Location Location `json:"location"`
}

// Location is where a finding is: a file and line of the target, an
// object, a commit, or several of these.
type Location struct {
	// File is a slash-separated path relative to the target's root.
	File string `json:"file,omitempty"`
	// Line and Column are 1-based; 0 is unknown.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Object is the object the finding is about, when there is one.
	Object *object.ID `json:"object,omitempty"`
	// Commit is the commit the finding is about, for history rules.
	Commit string `json:"commit,omitempty"`
}

// String returns "file:line:column", "Kind/ns/name" or the commit,
// whichever the location has first.
func (l Location) String() string {
	switch {
	case l.File != "":
		s := path.Clean(l.File)
		if l.Line > 0 {
			s += ":" + strconv.Itoa(l.Line)
			if l.Column > 0 {
				s += ":" + strconv.Itoa(l.Column)
			}
		}
		return s
	case l.Object != nil:
		return objectString(*l.Object)
	case l.Commit != "":
		return "commit " + l.Commit
	}
	return ""
}

func objectString(id object.ID) string {
	s := id.Kind
	if id.Namespace != "" {
		s += "/" + id.Namespace
	}
	return s + "/" + id.Name
}

// at returns a finding of rule m at the node's position in file f.
func at(m Meta, d *Document, line, col int, format string, args ...any) Finding {
	loc := Location{File: d.File, Line: line, Column: col}
	if id := d.ID(); id.Kind != "" {
		loc.Object = &id
	}
	return Finding{Rule: m.ID, Severity: m.Severity, Message: fmt.Sprintf(format, args...), Location: loc}
}
