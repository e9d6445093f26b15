package source

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// Limits bound a snapshot's content. A zero field means no bound.
type Limits struct {
	Files     int   // regular files
	FileBytes int64 // size of one file
	Bytes     int64 // total size of all files
}

// DefaultLimits returns the limits sources use unless told otherwise:
// 50,000 files, 32 MiB for one file and 512 MiB in all.
func DefaultLimits() Limits {
	return Limits{Files: 50_000, FileBytes: 32 << 20, Bytes: 512 << 20}
}

// maxLinkHops bounds symbolic-link resolution, as Linux's MAXSYMLINKS does.
const maxLinkHops = 40

// Builder assembles a snapshot's read-only file system, checking every path
// with [CheckPath] and every size against [Limits] before content is read.
// A Builder is not safe for concurrent use.
type Builder struct {
	limits  Limits
	modTime time.Time
	nodes   map[string]*node // "" is the root
	bytes   int64
	files   int
}

type node struct {
	name     string
	mode     fs.FileMode // fs.ModeDir, fs.ModeSymlink or permission bits
	data     []byte
	size     int64
	open     func() ([]byte, error) // lazy files
	target   string                 // symbolic links: as stored
	children []string
}

// NewBuilder returns an empty builder whose files report modTime.
func NewBuilder(limits Limits, modTime time.Time) *Builder {
	return &Builder{
		limits:  limits,
		modTime: modTime,
		nodes:   map[string]*node{"": {name: ".", mode: fs.ModeDir | 0o555}},
	}
}

// AddFile adds a regular file of the given size. read is called only when
// the path and size pass the checks, and must return exactly size bytes.
// The builder keeps the returned slice; the caller must not change it.
// exec marks the file executable.
func (b *Builder) AddFile(p string, size int64, exec bool, read func() ([]byte, error)) error {
	if err := b.checkFile(p, size); err != nil {
		return err
	}
	if err := b.parents(p); err != nil {
		return err
	}
	data, err := read()
	if err != nil {
		return fmt.Errorf("read %q: %w", p, err)
	}
	if int64(len(data)) != size {
		return fmt.Errorf("read %q: got %d bytes, want %d", p, len(data), size)
	}
	mode := fs.FileMode(0o444)
	if exec {
		mode = 0o555
	}
	b.nodes[p] = &node{name: path.Base(p), mode: mode, data: data, size: size}
	b.files++
	b.bytes += size
	return nil
}

// AddLazyFile adds a regular file of the given size whose content is read
// by open each time the file is opened, after the same checks as
// [Builder.AddFile]. open may be called many times and concurrently; it
// must return exactly size bytes, the same ones every time, in a slice the
// file system may keep. A read that fails or returns another size fails
// the Open or ReadFile that caused it.
func (b *Builder) AddLazyFile(p string, size int64, exec bool, open func() ([]byte, error)) error {
	if err := b.checkFile(p, size); err != nil {
		return err
	}
	if err := b.parents(p); err != nil {
		return err
	}
	mode := fs.FileMode(0o444)
	if exec {
		mode = 0o555
	}
	b.nodes[p] = &node{name: path.Base(p), mode: mode, size: size, open: open}
	b.files++
	b.bytes += size
	return nil
}

func (b *Builder) checkFile(p string, size int64) error {
	if err := CheckPath(p); err != nil {
		return err
	}
	if b.limits.Files > 0 && b.files+1 > b.limits.Files {
		return &LimitError{What: "file count", Limit: int64(b.limits.Files), Path: p}
	}
	if b.limits.FileBytes > 0 && size > b.limits.FileBytes {
		return &LimitError{What: "file size", Limit: b.limits.FileBytes, Path: p}
	}
	if b.limits.Bytes > 0 && b.bytes+size > b.limits.Bytes {
		return &LimitError{What: "total size", Limit: b.limits.Bytes, Path: p}
	}
	return nil
}

// AddSymlink adds a symbolic link to target. Targets are checked when
// [Builder.FS] resolves them.
func (b *Builder) AddSymlink(p, target string) error {
	if err := CheckPath(p); err != nil {
		return err
	}
	if err := b.parents(p); err != nil {
		return err
	}
	b.nodes[p] = &node{name: path.Base(p), mode: fs.ModeSymlink | 0o777, target: target}
	return nil
}

// parents creates p's parent directories and links p into its parent.
func (b *Builder) parents(p string) error {
	if _, ok := b.nodes[p]; ok {
		return &PathError{Path: p, Reason: "duplicate path"}
	}
	child := p
	for {
		dir := path.Dir(child)
		if dir == "." {
			dir = ""
		}
		n, ok := b.nodes[dir]
		if ok && !n.mode.IsDir() {
			return &PathError{Path: p, Reason: "parent is not a directory"}
		}
		if !ok {
			n = &node{name: path.Base(dir), mode: fs.ModeDir | 0o555}
			b.nodes[dir] = n
		}
		n.children = append(n.children, child)
		if ok || dir == "" {
			return nil
		}
		child = dir
	}
}

// FS resolves every symbolic link, refusing those whose target leaves the
// root or loops back to one of the link's own ancestors, and returns the
// file system with its file count and total size.
func (b *Builder) FS() (fs.FS, int, int64, error) {
	f := &memFS{nodes: b.nodes, modTime: b.modTime}
	for p, n := range b.nodes {
		slices.Sort(n.children)
		if n.mode&fs.ModeSymlink == 0 {
			continue
		}
		real, err := f.resolve(p, 0)
		if err != nil {
			return nil, 0, 0, err
		}
		if t, ok := b.nodes[real]; ok && t.mode.IsDir() {
			loc, err := f.resolve(path.Dir(p), 0)
			if err != nil {
				return nil, 0, 0, err
			}
			if real == "" || loc == real || strings.HasPrefix(loc+"/", real+"/") {
				return nil, 0, 0, &PathError{Path: p, Reason: "symbolic link to its own ancestor"}
			}
		}
	}
	return f, b.files, b.bytes, nil
}

// memFS is an immutable in-memory file system.
type memFS struct {
	nodes   map[string]*node
	modTime time.Time
}

var (
	_ fs.ReadFileFS = (*memFS)(nil)
	_ fs.ReadDirFS  = (*memFS)(nil)
	_ fs.StatFS     = (*memFS)(nil)
)

// resolve follows symbolic links in p, component by component, relative to
// the real directory that holds each link, and returns the real path ("" is
// the root). A target outside the root is a *PathError; a missing component
// ends resolution with the path as far as it got plus the rest, so callers
// see fs.ErrNotExist.
func (f *memFS) resolve(p string, hops int) (string, error) {
	if p == "." || p == "" {
		return "", nil
	}
	parts := strings.Split(p, "/")
	cur := ""
	for i, c := range parts {
		next := path.Join(cur, c)
		n, ok := f.nodes[next]
		if !ok {
			return path.Join(append([]string{next}, parts[i+1:]...)...), nil
		}
		if n.mode&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		hops++
		if hops > maxLinkHops {
			return "", &PathError{Path: p, Reason: "too many levels of symbolic links"}
		}
		t := n.target
		if t == "" || strings.HasPrefix(t, "/") || strings.ContainsAny(t, "\\\x00") || (len(t) >= 2 && t[1] == ':') {
			return "", &PathError{Path: next, Reason: "symbolic link target outside the root"}
		}
		joined := path.Join(cur, t)
		if joined == ".." || strings.HasPrefix(joined, "../") {
			return "", &PathError{Path: next, Reason: "symbolic link target outside the root"}
		}
		if joined == "." {
			joined = ""
		}
		for _, c := range strings.Split(joined, "/") {
			if IsGitDir(c) {
				return "", &PathError{Path: next, Reason: "symbolic link into Git internals"}
			}
		}
		rest := append([]string{joined}, parts[i+1:]...)
		return f.resolve(path.Join(rest...), hops)
	}
	return cur, nil
}

func (f *memFS) lookup(op, name string) (*node, string, error) {
	if !fs.ValidPath(name) || strings.ContainsRune(name, '\\') {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	real, err := f.resolve(name, 0)
	if err != nil {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: err}
	}
	n, ok := f.nodes[real]
	if !ok {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return n, real, nil
}

// Open opens name, following symbolic links inside the root.
func (f *memFS) Open(name string) (fs.File, error) {
	n, real, err := f.lookup("open", name)
	if err != nil {
		return nil, err
	}
	info := f.info(path.Base(name), n)
	if name == "." {
		info = f.info(".", n)
	}
	if n.mode.IsDir() {
		return &dirFile{fsys: f, info: info, dir: real, node: n}, nil
	}
	data, err := n.content()
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &file{info: info, Reader: bytes.NewReader(data)}, nil
}

// ReadFile returns a copy of name's content.
func (f *memFS) ReadFile(name string) ([]byte, error) {
	n, _, err := f.lookup("readfile", name)
	if err != nil {
		return nil, err
	}
	if n.mode.IsDir() {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: fs.ErrInvalid}
	}
	data, err := n.content()
	if err != nil {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: err}
	}
	return bytes.Clone(data), nil
}

// Stat describes name, following symbolic links.
func (f *memFS) Stat(name string) (fs.FileInfo, error) {
	n, _, err := f.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	if name == "." {
		return f.info(".", n), nil
	}
	return f.info(path.Base(name), n), nil
}

// ReadDir lists name's entries sorted by name; symbolic links are reported
// as what they point to.
func (f *memFS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, real, err := f.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if !n.mode.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	return f.entries(real, n), nil
}

func (f *memFS) entries(dir string, n *node) []fs.DirEntry {
	out := make([]fs.DirEntry, 0, len(n.children))
	for _, c := range n.children {
		child := f.nodes[c]
		if child.mode&fs.ModeSymlink != 0 {
			real, err := f.resolve(c, 0)
			t, ok := f.nodes[real]
			if err != nil || !ok {
				continue // dangling links are not listed
			}
			child = t
		}
		out = append(out, fs.FileInfoToDirEntry(f.info(path.Base(c), child)))
	}
	return out
}

func (f *memFS) info(name string, n *node) fs.FileInfo {
	return fileInfo{name: name, size: n.size, mode: n.mode, modTime: f.modTime}
}

// content returns a file's bytes, reading a lazy file.
func (n *node) content() ([]byte, error) {
	if n.open == nil {
		return n.data, nil
	}
	data, err := n.open()
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != n.size {
		return nil, fmt.Errorf("read %d bytes, want %d", len(data), n.size)
	}
	return data, nil
}

type fileInfo struct {
	name    string
	size    int64
	mode    fs.FileMode
	modTime time.Time
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) Mode() fs.FileMode  { return i.mode }
func (i fileInfo) ModTime() time.Time { return i.modTime }
func (i fileInfo) IsDir() bool        { return i.mode.IsDir() }
func (i fileInfo) Sys() any           { return nil }

type file struct {
	info fs.FileInfo
	*bytes.Reader
}

func (f *file) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *file) Close() error               { return nil }

type dirFile struct {
	fsys    *memFS
	info    fs.FileInfo
	dir     string
	node    *node
	entries []fs.DirEntry
	offset  int
	listed  bool
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Close() error               { return nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.Name(), Err: fs.ErrInvalid}
}

func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.listed {
		d.entries, d.listed = d.fsys.entries(d.dir, d.node), true
	}
	rest := d.entries[d.offset:]
	if n <= 0 {
		d.offset = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if n > len(rest) {
		n = len(rest)
	}
	d.offset += n
	return rest[:n], nil
}
