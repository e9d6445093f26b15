package check

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// AnnotationDisable, on an object, turns rules off for findings about
// it: a comma-separated list of rule IDs ("image-latest,secret-plaintext").
const AnnotationDisable = "check.converge.dev/disable"

// AnnotationDisableReason, beside AnnotationDisable, says why the rules
// do not apply; the report's notes quote it for each finding dropped.
const AnnotationDisableReason = "check.converge.dev/disable-reason"

// maxSuppressedNotes bounds the notes that name suppressed findings.
const maxSuppressedNotes = 20

// Options are the settings of one [Run].
type Options struct {
	// Disabled are IDs of rules not to run.
	Disabled []string
}

// DefaultOptions returns options that run every rule given.
func DefaultOptions() Options { return Options{} }

// Report is what a [Run] found.
type Report struct {
	// Revision is the target's revision.
	Revision string `json:"revision,omitempty"`
	// Rules are the rules that ran, in the order given.
	Rules []Meta `json:"rules"`
	// Sections group the findings by checklist item, in the order their
	// first rule ran, each with a score.
	Sections []SectionReport `json:"sections"`
	// Suppressed counts findings dropped by a disable annotation.
	Suppressed int `json:"suppressed,omitempty"`
	// Notes say what was not read or not checked, and why.
	Notes []string `json:"notes,omitempty"`
}

// SectionReport is one checklist item's findings and score.
type SectionReport struct {
	Section Section `json:"section"`
	// Score is 100 less each finding's weight (info 0, low 5, medium 10,
	// high 25, critical 50), at least 0.
	Score int `json:"score"`
	// Rules are the IDs of the rules of the section that ran.
	Rules    []string  `json:"rules"`
	Findings []Finding `json:"findings"`
}

// Findings returns every finding of the report, section by section.
func (r *Report) Findings() []Finding {
	var out []Finding
	for _, s := range r.Sections {
		out = append(out, s.Findings...)
	}
	return out
}

// Max returns the highest severity found, or 0 when nothing was.
func (r *Report) Max() Severity {
	var m Severity
	for _, f := range r.Findings() {
		m = max(m, f.Severity)
	}
	return m
}

// Fails reports whether anything at or above threshold was found: what
// a --fail-on flag asks.
func (r *Report) Fails(threshold Severity) bool { return r.Max() >= threshold && r.Max() > 0 }

// Run runs rules over t and returns the report. A rule that fails adds a
// note and the others go on; Run returns an error only when t cannot be
// read at all or ctx ends.
func Run(ctx context.Context, t *Target, rules []Rule, opts Options) (*Report, error) {
	files, err := t.Files(ctx)
	if err != nil {
		return nil, fmt.Errorf("check: read target: %w", err)
	}
	rep := &Report{Revision: t.Revision, Notes: slices.Clone(t.Notes())}
	docs := map[string][]*Document{}
	for _, f := range files {
		docs[f.Path] = f.Docs
	}
	bySection := map[Section]int{}
	for _, r := range rules {
		m := r.Meta()
		if slices.Contains(opts.Disabled, m.ID) {
			continue
		}
		rep.Rules = append(rep.Rules, m)
		i, ok := bySection[m.Section]
		if !ok {
			i = len(rep.Sections)
			bySection[m.Section] = i
			rep.Sections = append(rep.Sections, SectionReport{Section: m.Section, Rules: []string{}, Findings: []Finding{}})
		}
		sec := &rep.Sections[i]
		sec.Rules = append(sec.Rules, m.ID)
		found, err := r.Check(ctx, t)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		var incomplete *IncompleteError
		switch {
		case errors.As(err, &incomplete):
			for _, n := range incomplete.Notes {
				rep.Notes = append(rep.Notes, redact(fmt.Sprintf("rule %s: %s", m.ID, n)))
			}
		case err != nil:
			rep.Notes = append(rep.Notes, redact(fmt.Sprintf("rule %s did not finish: %v", m.ID, err)))
		}
		for _, f := range found {
			if f.Rule == "" {
				f.Rule = m.ID
			}
			if f.Severity == 0 {
				f.Severity = m.Severity
			}
			if d := disabledBy(docs, f); d != nil {
				rep.Suppressed++
				if rep.Suppressed <= maxSuppressedNotes {
					reason := cmp.Or(strings.TrimSpace(d.Annotations[AnnotationDisableReason]), "no "+AnnotationDisableReason+" given")
					rep.Notes = append(rep.Notes, redact(fmt.Sprintf("%s at %s turned off by %s: %s", f.Rule, f.Location, AnnotationDisable, reason)))
				}
				continue
			}
			f.Message = redact(f.Message)
			sec.Findings = append(sec.Findings, f)
		}
	}
	if n := rep.Suppressed - maxSuppressedNotes; n > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d more findings turned off by %s", n, AnnotationDisable))
	}
	for i := range rep.Sections {
		s := &rep.Sections[i]
		slices.SortStableFunc(s.Findings, compareFindings)
		s.Score = 100
		for _, f := range s.Findings {
			s.Score -= f.Severity.weight()
		}
		s.Score = max(s.Score, 0)
	}
	return rep, nil
}

func compareFindings(a, b Finding) int {
	return cmp.Or(
		cmp.Compare(b.Severity, a.Severity),
		cmp.Compare(a.Location.File, b.Location.File),
		cmp.Compare(a.Location.Line, b.Location.Line),
		cmp.Compare(a.Location.Column, b.Location.Column),
		cmp.Compare(a.Rule, b.Rule),
	)
}

// disabledBy returns the document a finding points at when it turns the
// finding's rule off, or nil.
func disabledBy(docs map[string][]*Document, f Finding) *Document {
	for _, d := range docs[f.Location.File] {
		in := f.Location.Line >= d.Line && f.Location.Line <= d.EndLine
		if f.Location.Object != nil {
			in = in || f.Location.Line == 0 && d.ID() == *f.Location.Object
		}
		if in && disables(d.Annotations[AnnotationDisable], f.Rule) {
			return d
		}
	}
	return nil
}

func disables(list, id string) bool {
	for item := range strings.SplitSeq(list, ",") {
		if strings.TrimSpace(item) == id {
			return true
		}
	}
	return false
}
