package promote

import (
	"context"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// SetField is the Edit that sets one scalar by its YAML path in every
// document of a file that has it: Helm values ("image.tag"), a
// Deployment's "spec.template.spec.containers.0.image", any file. A path
// is keys separated by dots; a number indexes a list. It fails wrapping
// ErrNotFound when no document has the path (it creates nothing), and
// refuses a path that ends at a mapping or a list.
type SetField struct {
	// File is slash-separated, relative to the tree's root.
	File  string
	Path  string
	Value string
}

var _ Edit = SetField{}

// Apply implements Edit.
func (e SetField) Apply(ctx context.Context, fsys fs.FS) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if e.Path == "" {
		return Result{}, fmt.Errorf("%s: empty YAML path", e.File)
	}
	if strings.ContainsAny(e.Value, "\x00") {
		return Result{}, fmt.Errorf("%s: %s: the value has a NUL byte", e.File, e.Path)
	}
	src, err := readFile(fsys, e.File)
	if err != nil {
		return Result{}, err
	}
	f, err := parseYAMLFile(e.File, src)
	if err != nil {
		return Result{}, err
	}
	segs := strings.Split(e.Path, ".")
	found := 0
	for _, doc := range f.docs {
		n := lookup(doc, segs)
		if n == nil {
			continue
		}
		found++
		if err := f.setScalar(n, e.Value); err != nil {
			return Result{}, fmt.Errorf("%s: %s: %w", e.File, e.Path, err)
		}
	}
	if found == 0 {
		return Result{}, fmt.Errorf("%s: %s: %w", e.File, e.Path, ErrNotFound)
	}
	out, err := f.bytes()
	if err != nil {
		return Result{}, err
	}
	if string(out) == string(src) {
		return Result{}, nil
	}
	return Result{Files: []FileChange{{Path: e.File, Old: src, New: out}}}, nil
}

func lookup(n *yaml.Node, segs []string) *yaml.Node {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		n = n.Content[0]
	}
	for _, s := range segs {
		switch n.Kind {
		case yaml.MappingNode:
			i := mapValue(n, s)
			if i < 0 {
				return nil
			}
			n = n.Content[i+1]
		case yaml.SequenceNode:
			i, err := strconv.Atoi(s)
			if err != nil || i < 0 || i >= len(n.Content) {
				return nil
			}
			n = n.Content[i]
		default:
			return nil
		}
	}
	return n
}
