package dir

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path"
	"time"

	"github.com/converge-dev/converge/source"
)

// Source reads a local directory. It keeps no state between calls and is
// safe for concurrent use.
type Source struct {
	path   string
	limits source.Limits
	ignore []string
	incl   []string
}

var _ source.Source = (*Source)(nil)

// Option configures [New].
type Option func(*Source)

// WithLimits replaces [source.DefaultLimits].
func WithLimits(l source.Limits) Option { return func(s *Source) { s.limits = l } }

// WithIgnore adds gitignore patterns of paths to leave out.
func WithIgnore(patterns ...string) Option {
	return func(s *Source) { s.ignore = append(s.ignore, patterns...) }
}

// WithInclude keeps only these paths (files, or directories with everything
// under them), relative to the root.
func WithInclude(paths ...string) Option {
	return func(s *Source) { s.incl = append(s.incl, paths...) }
}

// New returns a source reading the directory at path.
func New(path string, opts ...Option) *Source {
	s := &Source{path: path, limits: source.DefaultLimits()}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Fetch reads the directory into a snapshot.
func (s *Source) Fetch(ctx context.Context) (*source.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dir %s: %w", s.path, err)
	}
	root, err := os.OpenRoot(s.path)
	if err != nil {
		return nil, fmt.Errorf("dir %s: %w", s.path, err)
	}
	defer root.Close()
	snap, err := s.read(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("dir %s: %w", s.path, err)
	}
	return snap, nil
}

func (s *Source) read(ctx context.Context, root *os.Root) (*source.Snapshot, error) {
	// igs holds the Ignore that applies in each directory walked so far,
	// with the directory's own ignore file.
	igs := map[string]*source.Ignore{}
	base := source.NewIgnore(s.incl, s.ignore)
	withFile := func(dir string, ig *source.Ignore) (*source.Ignore, error) {
		name := source.IgnoreFile
		if dir != "." {
			name = dir + "/" + source.IgnoreFile
		}
		info, err := root.Lstat(name)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && !info.Mode().IsRegular()) {
			return ig, nil
		}
		if err != nil {
			return nil, err
		}
		data, err := readSmall(root, name, source.MaxIgnoreFileBytes)
		if err != nil {
			return nil, err
		}
		return ig.WithFileIn(dir, data), nil
	}
	b := source.NewBuilder(s.limits, time.Time{})
	sum := sha256.New()
	err := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if p == "." {
			igs[p], err = withFile(p, base)
			return err
		}
		if source.IsGitDir(d.Name()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		ig := igs[path.Dir(p)]
		if ig.Skip(p, d.IsDir()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch t := d.Type(); {
		case t.IsDir():
			if err := source.CheckPath(p); err != nil {
				return err
			}
			igs[p], err = withFile(p, ig)
			return err
		case t&fs.ModeSymlink != 0:
			target, err := root.Readlink(p)
			if err != nil {
				return err
			}
			record(sum, p, 'l', []byte(target))
			return b.AddSymlink(p, target)
		case t.IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			return b.AddFile(p, info.Size(), info.Mode()&0o111 != 0, func() ([]byte, error) {
				data, err := readSmall(root, p, info.Size())
				if err == nil {
					record(sum, p, 'f', data)
				}
				return data, err
			})
		default:
			return nil // sockets, devices, pipes
		}
	})
	if err != nil {
		return nil, err
	}
	fsys, files, bytes, err := b.FS()
	if err != nil {
		return nil, err
	}
	return &source.Snapshot{
		Revision: "sha256:" + hex.EncodeToString(sum.Sum(nil)),
		FS:       fsys,
		Files:    files,
		Bytes:    bytes,
	}, nil
}

// record adds one entry to the content hash, length-prefixed so that no two
// different trees hash alike.
func record(h hash.Hash, p string, kind byte, data []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(p)))
	h.Write(n[:])
	h.Write([]byte(p))
	h.Write([]byte{kind})
	binary.BigEndian.PutUint64(n[:], uint64(len(data)))
	h.Write(n[:])
	h.Write(data)
}

// readSmall reads a regular file of at most limit bytes through root.
func readSmall(root *os.Root, p string, limit int64) ([]byte, error) {
	f, err := root.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%q is not a regular file", p)
	}
	if info.Size() > limit {
		return nil, &source.LimitError{What: "file size", Limit: limit, Path: p}
	}
	data := make([]byte, info.Size())
	n, err := readFull(f, data)
	return data[:n], err
}

func readFull(f *os.File, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := f.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
