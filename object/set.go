package object

import (
	"errors"
	"fmt"
	"iter"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ErrDuplicate is matched by a [*DuplicateError].
var ErrDuplicate = errors.New("duplicate object")

// DuplicateError reports a second object with an ID already in a [Set].
type DuplicateError struct {
	ID ID
	// First and Second say where the two objects came from, as given to
	// [Set.Add] (usually file paths).
	First, Second string
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("%s: defined twice, in %s and in %s", e.ID, orUnknown(e.First), orUnknown(e.Second))
}

// Is makes errors.Is(err, ErrDuplicate) true.
func (e *DuplicateError) Is(target error) bool { return target == ErrDuplicate }

// ErrGenerateName is matched by a [*GenerateNameError].
var ErrGenerateName = errors.New("generateName is not supported (converge tracks every object by its name)")

// GenerateNameError reports an object with metadata.generateName and no
// name. converge diffs, prunes and waits for objects by name, so an object
// whose name only the API server would choose cannot be followed; renderers
// refuse it, naming the file, and apply refuses it too.
type GenerateNameError struct {
	Kind         string
	GenerateName string
}

func (e *GenerateNameError) Error() string {
	return fmt.Sprintf("%s with generateName %q and no name: %s", orKind(e.Kind), e.GenerateName, ErrGenerateName)
}

// Is makes errors.Is(err, ErrGenerateName) true.
func (e *GenerateNameError) Is(target error) bool { return target == ErrGenerateName }

func orKind(kind string) string {
	if kind == "" {
		return "an object"
	}
	return kind
}

func orUnknown(s string) string {
	if s == "" {
		return "an unnamed source"
	}
	return s
}

// Set is an ordered collection of objects keyed by [ID]. It iterates in the
// order objects were added until [Set.Sort] reorders it, so a Set built from
// deterministic input is deterministic.
//
// A Set owns the objects added to it: callers must not change an object's
// identity (kind, group, namespace, name) after adding it. A Set is not safe
// for concurrent mutation; concurrent reads are safe.
type Set struct {
	ids     []ID
	objects map[ID]*unstructured.Unstructured
	sources map[ID]string
}

// NewSet returns an empty Set.
func NewSet() *Set {
	return &Set{
		objects: make(map[ID]*unstructured.Unstructured),
		sources: make(map[ID]string),
	}
}

// Add appends obj, recording source (a file path, a chart name) for error
// messages. It fails with a [*DuplicateError] if an object with the same ID
// is already in the set, with a [*GenerateNameError] if obj has a
// generateName and no name, and with a plain error if obj has no valid ID.
// Errors name the object, and the sources where it was defined.
func (s *Set) Add(obj *unstructured.Unstructured, source string) error {
	id := IDOf(obj)
	err := id.Validate()
	if gen := obj.GetGenerateName(); id.Kind != "" && id.Name == "" && gen != "" {
		err = &GenerateNameError{Kind: id.Kind, GenerateName: gen}
	}
	if err != nil {
		if source != "" {
			return fmt.Errorf("%s: %w", source, err)
		}
		return err
	}
	if _, ok := s.objects[id]; ok {
		return &DuplicateError{ID: id, First: s.sources[id], Second: source}
	}
	s.ids = append(s.ids, id)
	s.objects[id] = obj
	s.sources[id] = source
	return nil
}

// Replace puts obj in place of the object with the same ID, keeping its
// position and source, or appends it if there is none. Post-processing steps
// (substitution, decryption) use it to swap in their output.
func (s *Set) Replace(obj *unstructured.Unstructured) error {
	id := IDOf(obj)
	if _, ok := s.objects[id]; ok {
		s.objects[id] = obj
		return nil
	}
	return s.Add(obj, "")
}

// Remove deletes the object with the given ID and reports whether it was
// there.
func (s *Set) Remove(id ID) bool {
	if _, ok := s.objects[id]; !ok {
		return false
	}
	delete(s.objects, id)
	delete(s.sources, id)
	s.ids = slices.DeleteFunc(s.ids, func(x ID) bool { return x == id })
	return true
}

// Get returns the object with the given ID.
func (s *Set) Get(id ID) (*unstructured.Unstructured, bool) {
	obj, ok := s.objects[id]
	return obj, ok
}

// Source returns where the object with the given ID came from.
func (s *Set) Source(id ID) string { return s.sources[id] }

// Len returns the number of objects.
func (s *Set) Len() int { return len(s.ids) }

// IDs returns the IDs in order. The slice is a copy.
func (s *Set) IDs() []ID { return slices.Clone(s.ids) }

// Objects returns the objects in order. The slice is new; the objects are
// the set's own.
func (s *Set) Objects() []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(s.ids))
	for i, id := range s.ids {
		out[i] = s.objects[id]
	}
	return out
}

// All iterates over the IDs and objects in order.
func (s *Set) All() iter.Seq2[ID, *unstructured.Unstructured] {
	return func(yield func(ID, *unstructured.Unstructured) bool) {
		for _, id := range s.ids {
			if !yield(id, s.objects[id]) {
				return
			}
		}
	}
}

// Sort orders the set for applying, by [Compare].
func (s *Set) Sort() { slices.SortFunc(s.ids, Compare) }

// DeepCopy returns a Set with copies of every object.
func (s *Set) DeepCopy() *Set {
	out := &Set{
		ids:     slices.Clone(s.ids),
		objects: make(map[ID]*unstructured.Unstructured, len(s.objects)),
		sources: make(map[ID]string, len(s.sources)),
	}
	for id, obj := range s.objects {
		out.objects[id] = obj.DeepCopy()
		out.sources[id] = s.sources[id]
	}
	return out
}
