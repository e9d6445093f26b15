package manifest

import "github.com/converge-dev/converge/reconcile"

// Units holds the units of one load, in the order they were added, and
// the document each came from. The zero value is empty and ready to use.
// Units is not safe for concurrent use.
type Units struct {
	units []reconcile.Unit
	from  map[reconcile.Ref]string // the document that defined each unit
}

// Add keeps u, loaded from the document d, and reports whether it did. A
// unit that another document already defined, or one that does not pass
// reconcile.Unit.Validate, is not kept: d fails with ErrInvalid instead.
// Units keeps a copy of u.
func (s *Units) Add(d *Doc, u *reconcile.Unit) bool {
	if prev, dup := s.from[u.Ref()]; dup {
		d.Fail("metadata.name", ErrInvalid, "unit %s is also defined by %s", u.Ref(), prev)
		return false
	}
	if err := u.Validate(); err != nil {
		d.Fail("", ErrInvalid, "%v", err)
		return false
	}
	if s.from == nil {
		s.from = map[reconcile.Ref]string{}
	}
	s.from[u.Ref()] = d.object
	s.units = append(s.units, *u)
	return true
}

// List returns the units kept, in the order they were added.
func (s *Units) List() []reconcile.Unit { return s.units }
