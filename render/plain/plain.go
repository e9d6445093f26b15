package plain

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/go-logr/logr"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
)

// Renderer reads manifest trees. It is safe for concurrent use.
type Renderer struct {
	log logr.Logger
}

var _ render.Renderer = (*Renderer)(nil)

// Option configures a [Renderer].
type Option func(*Renderer)

// WithLogger logs each file read at V(1). The default discards.
func WithLogger(l logr.Logger) Option { return func(r *Renderer) { r.log = l } }

// New returns a Renderer.
func New(opts ...Option) *Renderer {
	r := &Renderer{log: logr.Discard()}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Render decodes every manifest below dir into one Set, in lexical order
// of file and then document; a directory without manifests gives an empty
// Set. Two objects with the same identity are an error naming both files,
// and an object with a generateName and no name is an
// [*object.GenerateNameError]. Kustomization-level overrides are not
// supported ([render.ErrUnsupported]); use render/kustomize for those.
func (r *Renderer) Render(ctx context.Context, fsys fs.FS, dir string, opts render.Options) (*object.Set, error) {
	dir = path.Clean(strings.TrimPrefix(dir, "/"))
	if !fs.ValidPath(dir) {
		return nil, &render.Error{Path: dir, Err: render.ErrOutsideRoot}
	}
	if opts.HasOverrides() {
		return nil, &render.Error{Path: dir, Err: fmt.Errorf("%w: kustomization overrides (namespace, prefixes, labels, images, patches, components)", render.ErrUnsupported)}
	}
	ig, err := render.NewIgnore(opts.Ignore)
	if err != nil {
		return nil, &render.Error{Path: dir, Err: err}
	}
	fsys = render.Confine(fsys)
	set := object.NewSet()
	err = fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return &render.Error{Path: p, Err: unwrapPath(err)}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == dir {
			if !d.IsDir() {
				return &render.Error{Path: p, Err: fmt.Errorf("not a directory")}
			}
			return nil
		}
		rel := strings.TrimPrefix(p, dir+"/")
		if dir == "." {
			rel = p
		}
		if strings.HasPrefix(d.Name(), ".") || ig.Match(rel, d.IsDir()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !isManifest(p) {
			return nil
		}
		return r.decodeFile(fsys, p, opts.Decode, set)
	})
	if err != nil {
		return nil, err
	}
	return set, nil
}

func isManifest(p string) bool {
	switch strings.ToLower(path.Ext(p)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

func (r *Renderer) decodeFile(fsys fs.FS, p string, opts object.DecodeOptions, set *object.Set) error {
	f, err := fsys.Open(p)
	if err != nil {
		return &render.Error{Path: p, Err: unwrapPath(err)}
	}
	defer f.Close()
	opts.Source = p
	objs, err := object.Decode(f, opts)
	if err != nil {
		return &render.Error{Path: p, Err: err} // printed once: the DecodeError names it too
	}
	for _, obj := range objs {
		if err := set.Add(obj, p); err != nil {
			return &render.Error{Path: p, Err: err}
		}
	}
	r.log.V(1).Info("read manifests", "path", p, "objects", len(objs))
	return nil
}

// unwrapPath drops an fs.PathError's own path, which the render.Error
// around it already gives.
func unwrapPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}
