package manifest

import (
	"errors"
	"fmt"
)

// Bounds of one Findings.
const (
	// maxErrors bounds the field errors Err joins.
	maxErrors = 50
	// maxWarnings bounds the warnings kept.
	maxWarnings = 1000
)

// Findings gathers what loading a stream of documents found: the field
// errors of every document, and their warnings, each kept once. The zero
// value is empty and ready to use. Findings is not safe for concurrent
// use.
type Findings struct {
	errs     []*FieldError
	warnings []Warning
	warned   map[Warning]bool
}

// End finishes d (Doc.Finish) and takes its errors and warnings.
func (f *Findings) End(d *Doc) {
	d.Finish()
	f.Fail(d.errs...)
	f.Warn(d.warnings...)
}

// Fail adds field errors.
func (f *Findings) Fail(errs ...*FieldError) {
	f.errs = append(f.errs, errs...)
}

// Warn adds warnings, each once: a Warning equal to one already kept is
// left out. After 1000 warnings, a last one says that more were left out.
func (f *Findings) Warn(ws ...Warning) {
	for _, w := range ws {
		if f.warned[w] {
			continue
		}
		if f.warned == nil {
			f.warned = map[Warning]bool{}
		}
		f.warned[w] = true
		switch {
		case len(f.warnings) < maxWarnings:
			f.warnings = append(f.warnings, w)
		case len(f.warnings) == maxWarnings:
			f.warnings = append(f.warnings, Warning{Object: w.Object, Message: "more warnings left out"})
		}
	}
}

// Warnings returns the warnings kept, in the order they were added.
func (f *Findings) Warnings() []Warning { return f.warnings }

// Err returns nil when no document failed, and otherwise an errors.Join
// of the *FieldErrors in the order they were found: the first 50, then
// an error that says how many more there are.
func (f *Findings) Err() error {
	if len(f.errs) == 0 {
		return nil
	}
	errs := make([]error, 0, min(len(f.errs), maxErrors)+1)
	for i, e := range f.errs {
		if i == maxErrors {
			errs = append(errs, fmt.Errorf("and %d more errors", len(f.errs)-maxErrors))
			break
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}
