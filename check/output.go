package check

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteText writes the report for people: each section with its score,
// then its findings, one a line, then the notes.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	if r.Revision != "" {
		fmt.Fprintf(&b, "converge check at %s\n\n", r.Revision)
	}
	for _, s := range r.Sections {
		fmt.Fprintf(&b, "%3d  %s\n", s.Score, s.Section)
		for _, f := range s.Findings {
			loc := f.Location.String()
			if loc != "" {
				loc += ": "
			}
			fmt.Fprintf(&b, "     %-8s %s%s [%s]\n", f.Severity, loc, f.Message, f.Rule)
		}
	}
	n := len(r.Findings())
	fmt.Fprintf(&b, "\n%s from %s", plural(n, "finding"), plural(len(r.Rules), "rule"))
	if r.Suppressed > 0 {
		fmt.Fprintf(&b, ", %d suppressed by %s", r.Suppressed, AnnotationDisable)
	}
	b.WriteString("\n")
	for _, note := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", note)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
