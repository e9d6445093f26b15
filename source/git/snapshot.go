package git

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/converge-dev/converge/source"
)

// maxTreeDepth bounds directory nesting in a tree.
const maxTreeDepth = 256

// snapshot reads the commit's tree into a confined file system whose files
// read their content from the cache when opened, so a snapshot costs memory
// only for its tree, and unchanged files are never read again.
func (s *Source) snapshot(ctx context.Context, hash plumbing.Hash, rev string) (*source.Snapshot, error) {
	c, err := object.GetCommit(s.sto, hash)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", hash, err)
	}
	tree, err := object.GetTree(s.sto, c.TreeHash)
	if err != nil {
		return nil, fmt.Errorf("read tree of %s: %w", hash, err)
	}
	w := &treeWalker{
		s:     s,
		ctx:   ctx,
		b:     source.NewBuilder(s.opts.limits, c.Committer.When),
		ig:    source.NewIgnore(s.opts.include, s.opts.ignore),
		sizes: make(map[plumbing.Hash]int64),
		count: new(int),
	}
	if s.opts.submodules {
		if w.mods, err = readModules(w, tree); err != nil {
			return nil, err
		}
	}
	if err := w.walk(tree, "", w.ig); err != nil {
		return nil, err
	}
	fsys, files, size, err := w.b.FS()
	if err != nil {
		return nil, err
	}
	s.sizes = w.sizes // keep the sizes of the latest tree only
	snap := &source.Snapshot{
		Revision: rev,
		Commit: &source.Commit{
			Hash:      hash.String(),
			Author:    source.Signature{Name: c.Author.Name, Email: c.Author.Email, When: c.Author.When},
			Committer: source.Signature{Name: c.Committer.Name, Email: c.Committer.Email, When: c.Committer.When},
			Message:   c.Message,
		},
		FS:    fsys,
		Files: files,
		Bytes: size,
	}
	return snap, nil
}

type treeWalker struct {
	s      *Source
	ctx    context.Context
	b      *source.Builder
	ig     *source.Ignore
	levels int
	sizes  map[plumbing.Hash]int64 // blob sizes of this tree

	// Submodules (WithSubmodules): the .gitmodules entries of the
	// repository being walked, by path relative to its root; that root's
	// path in the snapshot ("" for the fetched repository); how deep it
	// nests; and the submodules fetched so far, shared by all walkers of
	// one snapshot.
	mods  map[string]*config.Submodule
	root  string
	depth int
	count *int
}

// walk adds the entries of tree, the directory dir, to the snapshot. ig is
// what applies in dir before its own ignore file.
func (w *treeWalker) walk(tree *object.Tree, dir string, ig *source.Ignore) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	w.levels++
	defer func() { w.levels-- }()
	if w.levels > maxTreeDepth {
		return &source.PathError{Path: dir, Reason: "directories nested too deep"}
	}
	for _, e := range tree.Entries {
		if e.Name == source.IgnoreFile && (e.Mode == filemode.Regular || e.Mode == filemode.Executable) {
			data, err := w.readBlob(e.Hash, source.MaxIgnoreFileBytes)
			if err != nil {
				return fmt.Errorf("read %q: %w", path.Join(dir, e.Name), err)
			}
			ig = ig.WithFileIn(dir, data)
		}
	}
	for _, e := range tree.Entries {
		if e.Name == "" || strings.Contains(e.Name, "/") {
			return &source.PathError{Path: path.Join(dir, e.Name), Reason: "tree entry name with a slash"}
		}
		p := e.Name
		if dir != "" {
			p = dir + "/" + e.Name
		}
		if err := source.CheckPath(p); err != nil {
			return err
		}
		switch e.Mode {
		case filemode.Dir:
			if ig.Skip(p, true) {
				continue
			}
			sub, err := object.GetTree(w.s.sto, e.Hash)
			if err != nil {
				return fmt.Errorf("read tree %q: %w", p, err)
			}
			if err := w.walk(sub, p, ig); err != nil {
				return err
			}
		case filemode.Submodule:
			if !w.s.opts.submodules || ig.Skip(p, true) {
				continue // left out unless asked for
			}
			if err := w.submodule(p, e, ig); err != nil {
				return err
			}
		case filemode.Symlink:
			if ig.Skip(p, false) {
				continue
			}
			target, err := w.readBlob(e.Hash, 4096)
			if err != nil {
				return fmt.Errorf("read link %q: %w", p, err)
			}
			if err := w.b.AddSymlink(p, string(target)); err != nil {
				return err
			}
		case filemode.Regular, filemode.Executable, filemode.Deprecated:
			if ig.Skip(p, false) {
				continue
			}
			if err := w.addFile(p, e); err != nil {
				return err
			}
		default:
			return fmt.Errorf("tree entry %q: unknown mode %o", p, uint32(e.Mode))
		}
	}
	return nil
}

func (w *treeWalker) addFile(p string, e object.TreeEntry) error {
	size, err := w.s.blobSize(e.Hash)
	if err != nil {
		return fmt.Errorf("read %q: %w", p, err)
	}
	w.sizes[e.Hash] = size
	s, h := w.s, e.Hash
	return w.b.AddLazyFile(p, size, e.Mode == filemode.Executable, func() ([]byte, error) {
		s.stoMu.Lock()
		defer s.stoMu.Unlock()
		obj, err := s.sto.EncodedObject(plumbing.BlobObject, h)
		if err != nil {
			return nil, err
		}
		r, err := obj.Reader()
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return io.ReadAll(io.LimitReader(r, size+1))
	})
}

func (w *treeWalker) readBlob(h plumbing.Hash, limit int64) ([]byte, error) {
	obj, err := w.s.sto.EncodedObject(plumbing.BlobObject, h)
	if err != nil {
		return nil, err
	}
	if obj.Size() > limit {
		return nil, &source.LimitError{What: "file size", Limit: limit}
	}
	r, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, limit))
}

// sizer is implemented by go-git's on-disk object storage, which reads an
// object's size from its header without inflating it.
type sizer interface {
	EncodedObjectSize(plumbing.Hash) (int64, error)
}

// blobSize returns a blob's size, from the previous snapshot's sizes when
// it has the blob.
func (s *Source) blobSize(h plumbing.Hash) (int64, error) {
	if n, ok := s.sizes[h]; ok {
		return n, nil
	}
	var n int64
	if sz, ok := s.sto.(sizer); ok {
		var err error
		if n, err = sz.EncodedObjectSize(h); err != nil {
			return 0, err
		}
	} else {
		obj, err := s.sto.EncodedObject(plumbing.BlobObject, h)
		if err != nil {
			return 0, err
		}
		n = obj.Size()
	}
	return n, nil
}
