package promote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/converge-dev/converge/object"
	renderpkg "github.com/converge-dev/converge/render"
)

// FileEdit is the whole-file edit hook: Change gets the file's bytes and
// returns its new bytes, for a change none of the other edits makes (a
// version in a README, a generated file). It changes only Path, and
// returns an empty Result when the bytes come back unchanged.
type FileEdit struct {
	// Path is slash-separated in the tree.
	Path   string
	Change func(old []byte) ([]byte, error)
}

var _ Edit = FileEdit{}

// Apply implements Edit.
func (e FileEdit) Apply(ctx context.Context, fsys fs.FS) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if e.Change == nil {
		return Result{}, fmt.Errorf("%s: file edit without a Change function", e.Path)
	}
	old, err := readFile(fsys, e.Path)
	if err != nil {
		return Result{}, err
	}
	out, err := e.Change(bytes.Clone(old))
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", e.Path, err)
	}
	if bytes.Equal(out, old) {
		return Result{}, nil
	}
	return Result{Files: []FileChange{{Path: path.Clean(e.Path), Old: old, New: out}}}, nil
}

// Edits runs edits one after another, each on the tree the ones before
// it left, and returns their changes merged: a file two edits change is
// one FileChange from its first Old to its last New.
func Edits(edits ...Edit) Edit {
	return EditFunc(func(ctx context.Context, fsys fs.FS) (Result, error) {
		var all Result
		for _, e := range edits {
			r, err := e.Apply(ctx, all.Overlay(fsys))
			if err != nil {
				return Result{}, err
			}
			all = all.merge(r)
		}
		return all, nil
	})
}

func (r Result) merge(next Result) Result {
	out := Result{Files: slices.Clone(r.Files), Skipped: append(slices.Clone(r.Skipped), next.Skipped...)}
	for _, f := range next.Files {
		if i := slices.IndexFunc(out.Files, func(g FileChange) bool { return g.Path == f.Path }); i >= 0 {
			out.Files[i].New = f.New
			continue
		}
		out.Files = append(out.Files, f)
	}
	// A file changed back to what it was is no change.
	out.Files = slices.DeleteFunc(out.Files, func(f FileChange) bool { return bytes.Equal(f.Old, f.New) })
	return out
}

// Overlay returns fsys with the result's new contents in place of the
// old: what the tree would be once the result is written. The files it
// does not change are read from fsys.
func (r Result) Overlay(fsys fs.FS) fs.FS {
	if len(r.Files) == 0 {
		return fsys
	}
	files := make(map[string][]byte, len(r.Files))
	for _, f := range r.Files {
		files[path.Clean(f.Path)] = f.New
	}
	return overlayFS{base: fsys, files: files}
}

type overlayFS struct {
	base  fs.FS
	files map[string][]byte
}

func (o overlayFS) Open(name string) (fs.File, error) {
	if data, ok := o.files[name]; ok {
		st, err := fs.Stat(o.base, name)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &memFile{Reader: bytes.NewReader(data), info: memInfo{st, int64(len(data))}}, nil
	}
	return o.base.Open(name)
}

func (o overlayFS) ReadFile(name string) ([]byte, error) {
	if data, ok := o.files[name]; ok {
		return bytes.Clone(data), nil
	}
	return fs.ReadFile(o.base, name)
}

// Stat keeps a changed file's mode and name, with its new size.
func (o overlayFS) Stat(name string) (fs.FileInfo, error) {
	st, err := fs.Stat(o.base, name)
	if err != nil {
		return nil, err
	}
	if data, ok := o.files[name]; ok {
		return memInfo{st, int64(len(data))}, nil
	}
	return st, nil
}

type memFile struct {
	*bytes.Reader
	info fs.FileInfo
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *memFile) Close() error               { return nil }

type memInfo struct {
	fs.FileInfo
	size int64
}

func (i memInfo) Size() int64 { return i.size }

var (
	_ fs.ReadFileFS = overlayFS{}
	_ fs.StatFS     = overlayFS{}
	_ io.Seeker     = (*memFile)(nil)
)

// ErrUnintended is what [VerifyRender] returns when the edited tree
// renders differently from the old one outside what the edit meant to
// change.
var ErrUnintended = errors.New("the edit changes the render beyond what it meant to")

// RenderChange is one difference between two renders of a directory.
type RenderChange struct {
	// Dir is the directory rendered; ID the object.
	Dir string
	ID  object.ID
	// Fields are the changed fields' paths ("spec.template.spec
	// .containers[0].image"); empty when the object was added or
	// removed.
	Fields []string
	// Added and Removed say the object is only in the new render, or
	// only in the old.
	Added, Removed bool
}

func (c RenderChange) String() string {
	switch {
	case c.Added:
		return fmt.Sprintf("%s: %s added", c.Dir, c.ID)
	case c.Removed:
		return fmt.Sprintf("%s: %s removed", c.Dir, c.ID)
	}
	return fmt.Sprintf("%s: %s %s", c.Dir, c.ID, strings.Join(c.Fields, ", "))
}

// ImagesOnly allows, in [VerifyRender], the changes an image promotion
// means: containers' (and init and ephemeral containers') image fields.
func ImagesOnly(c RenderChange) bool {
	if c.Added || c.Removed {
		return false
	}
	for _, f := range c.Fields {
		if !strings.HasSuffix(f, ".image") || !strings.Contains(f, "ontainers[") {
			return false
		}
	}
	return true
}

// VerifyRender renders each of dirs with renderer in fsys and in fsys
// with result written over it, and returns every difference between the
// two. When allowed is given, a difference it does not allow makes the
// error [ErrUnintended], naming them: the edit changed the render beyond
// its intent (a setter marker on the wrong line, an image name that
// another image also matches). A directory that renders before the edit
// and not after is an error too.
func VerifyRender(ctx context.Context, renderer renderpkg.Renderer, fsys fs.FS, result Result, dirs []string, allowed func(RenderChange) bool) ([]RenderChange, error) {
	after := result.Overlay(fsys)
	var changes, unintended []RenderChange
	for _, dir := range dirs {
		old, err := renderer.Render(ctx, fsys, dir, renderpkg.DefaultOptions())
		if err != nil {
			return nil, fmt.Errorf("render %s before the edit: %w", dir, err)
		}
		edited, err := renderer.Render(ctx, after, dir, renderpkg.DefaultOptions())
		if err != nil {
			return nil, fmt.Errorf("render %s after the edit: %w", dir, err)
		}
		for _, c := range renderChanges(dir, old, edited) {
			changes = append(changes, c)
			if allowed != nil && !allowed(c) {
				unintended = append(unintended, c)
			}
		}
	}
	if len(unintended) > 0 {
		var s []string
		for _, c := range unintended[:min(len(unintended), 5)] {
			s = append(s, c.String())
		}
		return changes, fmt.Errorf("%w: %s", ErrUnintended, strings.Join(s, "; "))
	}
	return changes, nil
}

func renderChanges(dir string, old, edited *object.Set) []RenderChange {
	var out []RenderChange
	for id, o := range old.All() {
		n, ok := edited.Get(id)
		if !ok {
			out = append(out, RenderChange{Dir: dir, ID: id, Removed: true})
			continue
		}
		if fields := object.ChangedPaths(o.Object, n.Object, 0); len(fields) > 0 {
			out = append(out, RenderChange{Dir: dir, ID: id, Fields: fields})
		}
	}
	for id := range edited.All() {
		if _, ok := old.Get(id); !ok {
			out = append(out, RenderChange{Dir: dir, ID: id, Added: true})
		}
	}
	return out
}
