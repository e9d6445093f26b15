package kustomize

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/converge-dev/converge/render"
)

// The virtual layout kustomize sees: the caller's fs.FS is mounted at
// rootDir; hostDir holds the generated kustomization that applies the
// host's overrides. Neither exists on disk.
const (
	rootDir = "/converge/root"
	hostDir = "/converge/host"
)

var errReadOnly = errors.New("read-only file system")

// confinedFS adapts an fs.FS to kustomize's filesys.FileSystem: read-only,
// every path confined to rootDir (plus the virtual files), every file
// bounded in size. It records what kustomize read so a cache can tell
// whether a later tree would give the same output. One confinedFS serves
// one build; it is not shared between goroutines.
type confinedFS struct {
	ctx      context.Context
	fsys     fs.FS
	maxBytes int64
	maxAlias int
	virtual  map[string][]byte // absolute path -> content
	vdirs    map[string]bool   // absolute directories holding virtual files

	mu        sync.Mutex
	inputs    []input         // what the build observed, for the cache
	policy    error           // the first refusal, reported instead of kustomize's wrapping
	resources map[string]bool // absolute paths kustomizations list as resources
}

var _ filesys.FileSystem = (*confinedFS)(nil)

func newConfinedFS(ctx context.Context, fsys fs.FS, maxBytes int64, maxAlias int) *confinedFS {
	return &confinedFS{
		maxAlias:  maxAlias,
		ctx:       ctx,
		fsys:      fsys,
		maxBytes:  maxBytes,
		virtual:   map[string][]byte{},
		vdirs:     map[string]bool{},
		resources: map[string]bool{},
	}
}

// addVirtual places content at an absolute path.
func (c *confinedFS) addVirtual(p string, content []byte) {
	c.virtual[p] = content
	if strings.HasPrefix(p, hostDir+"/") {
		for d := path.Dir(p); d != path.Dir(hostDir); d = path.Dir(d) {
			c.vdirs[d] = true
		}
	}
}

// refuse records the first policy error and returns it.
func (c *confinedFS) refuse(err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.policy == nil {
		c.policy = err
	}
	return err
}

// rel maps an absolute kustomize path to a path of c.fsys. ok is false for
// paths of the virtual layer, which callers look up in c.virtual.
func (c *confinedFS) rel(p string) (name string, ok bool, err error) {
	if err := c.ctx.Err(); err != nil {
		return "", false, err
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(rootDir, p)
	}
	p = filepath.ToSlash(filepath.Clean(p))
	if p == rootDir {
		return ".", true, nil
	}
	if strings.HasPrefix(p, rootDir+"/") {
		return strings.TrimPrefix(p, rootDir+"/"), true, nil
	}
	if _, isFile := c.virtual[p]; isFile || c.vdirs[p] {
		return "", false, nil
	}
	if strings.HasPrefix(p, hostDir+"/") {
		return "", false, &fs.PathError{Op: "open", Path: displayPath(p), Err: fs.ErrNotExist}
	}
	return "", false, c.refuse(fmt.Errorf("%w: %s", render.ErrOutsideRoot, displayPath(p)))
}

// displayPath shows an absolute kustomize path as the user knows it:
// relative to the root of their tree.
func displayPath(p string) string {
	switch {
	case p == rootDir:
		return "."
	case strings.HasPrefix(p, rootDir+"/"):
		return strings.TrimPrefix(p, rootDir+"/")
	case strings.HasPrefix(p, hostDir):
		return "(host overrides)" + strings.TrimPrefix(p, hostDir)
	}
	return p
}

func cleanAbs(p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(rootDir, p)
	}
	return filepath.ToSlash(filepath.Clean(p))
}

func (c *confinedFS) stat(p string) (fs.FileInfo, error) {
	if data, isFile := c.virtual[cleanAbs(p)]; isFile {
		return virtualInfo{name: path.Base(cleanAbs(p)), size: int64(len(data))}, nil
	}
	name, ok, err := c.rel(p)
	if err != nil {
		return nil, err
	}
	if !ok {
		abs := filepath.ToSlash(filepath.Clean(p))
		if data, isFile := c.virtual[abs]; isFile {
			return virtualInfo{name: path.Base(abs), size: int64(len(data))}, nil
		}
		return virtualInfo{name: path.Base(abs), dir: true}, nil
	}
	return fs.Stat(c.fsys, name)
}

// Create, Mkdir, MkdirAll, RemoveAll and WriteFile refuse: rendering never
// writes.
func (c *confinedFS) Create(string) (filesys.File, error) { return nil, errReadOnly }
func (c *confinedFS) Mkdir(string) error                  { return errReadOnly }
func (c *confinedFS) MkdirAll(string) error               { return errReadOnly }
func (c *confinedFS) RemoveAll(string) error              { return errReadOnly }
func (c *confinedFS) WriteFile(string, []byte) error      { return errReadOnly }

// Open returns a read-only file with the content read in full (bounded).
func (c *confinedFS) Open(p string) (filesys.File, error) {
	data, err := c.ReadFile(p)
	if err != nil {
		return nil, err
	}
	info, err := c.stat(p)
	if err != nil {
		return nil, err
	}
	return &memFile{Reader: strings.NewReader(string(data)), info: info}, nil
}

// IsDir reports whether p is a directory.
func (c *confinedFS) IsDir(p string) bool {
	info, err := c.stat(p)
	ok := err == nil && info.IsDir()
	c.record(input{op: opIsDir, path: p, sum: boolSum(ok)})
	return ok
}

// Exists reports whether p exists.
func (c *confinedFS) Exists(p string) bool {
	_, err := c.stat(p)
	ok := err == nil
	c.record(input{op: opExists, path: p, sum: boolSum(ok)})
	return ok
}

// ReadDir returns the names in directory p, sorted.
func (c *confinedFS) ReadDir(p string) ([]string, error) {
	names, err := c.readDir(p)
	if err == nil {
		c.record(input{op: opReadDir, path: p, sum: sum([]byte(strings.Join(names, "\x00")))})
	} else {
		c.record(input{op: opReadDir, path: p, sum: failed})
	}
	return names, err
}

// failed is the observation of a read that failed: a later tree where the
// read succeeds gives another output.
var failed = sum([]byte("\x00failed"))

func (c *confinedFS) readDir(p string) ([]string, error) {
	name, ok, err := c.rel(p)
	if err != nil {
		return nil, err
	}
	if !ok {
		abs := filepath.ToSlash(filepath.Clean(p))
		var names []string
		for v := range c.virtual {
			if path.Dir(v) == abs {
				names = append(names, path.Base(v))
			}
		}
		for d := range c.vdirs {
			if d != "/" && path.Dir(d) == abs {
				names = append(names, path.Base(d))
			}
		}
		sort.Strings(names)
		return names, nil
	}
	entries, err := fs.ReadDir(c.fsys, name)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	abs := cleanAbs(p)
	for v := range c.virtual {
		if path.Dir(v) == abs && !slices.Contains(names, path.Base(v)) {
			names = append(names, path.Base(v))
		}
	}
	sort.Strings(names)
	return names, nil
}

// CleanedAbs splits p into its directory and file name, as kustomize's
// on-disk file system does.
func (c *confinedFS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(rootDir, p)
	}
	p = filepath.Clean(p)
	info, err := c.stat(p)
	c.record(input{op: opExists, path: p, sum: boolSum(err == nil)})
	if err != nil {
		return "", "", err
	}
	c.record(input{op: opIsDir, path: p, sum: boolSum(info.IsDir())})
	if info.IsDir() {
		return filesys.ConfirmedDir(p), "", nil
	}
	return filesys.ConfirmedDir(filepath.Dir(p)), filepath.Base(p), nil
}

// Glob returns the files matching pattern, sorted.
func (c *confinedFS) Glob(pattern string) ([]string, error) {
	name, ok, err := c.rel(pattern)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, nil
	}
	matches, err := fs.Glob(c.fsys, name)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(matches))
	for i, m := range matches {
		out[i] = path.Join(rootDir, m)
	}
	c.record(input{op: opGlob, path: pattern, sum: sum([]byte(strings.Join(out, "\x00")))})
	return out, nil
}

// ReadFile reads p, refusing files over the size limit, kustomization
// files that ask for what the renderer does not allow or declare nothing,
// and resources converge cannot apply. The refusals come before
// kustomize's own, whose messages name the wrong file or none.
func (c *confinedFS) ReadFile(p string) ([]byte, error) {
	data, err := c.readFile(p)
	if err != nil {
		c.record(input{op: opRead, path: p, sum: failed})
		return nil, err
	}
	c.record(input{op: opRead, path: p, sum: sum(data)})
	abs := cleanAbs(p)
	if isKustomizationFile(p) {
		if err := checkKustomization(data); err != nil {
			return nil, c.refuse(&render.Error{Path: displayPath(abs), Err: err})
		}
		if err := checkNotEmpty(data); err != nil {
			return nil, c.refuse(&render.Error{Path: displayPath(abs), Err: err})
		}
		c.noteResources(abs, data)
	} else if c.isResource(abs) {
		if err := checkGenerateName(data, c.maxAlias); err != nil {
			return nil, c.refuse(&render.Error{Path: displayPath(abs), Err: err})
		}
	}
	return data, nil
}

func (c *confinedFS) readFile(p string) ([]byte, error) {
	if data, isFile := c.virtual[cleanAbs(p)]; isFile {
		return data, nil
	}
	name, ok, err := c.rel(p)
	if err != nil {
		return nil, err
	}
	if !ok {
		data, isFile := c.virtual[filepath.ToSlash(filepath.Clean(p))]
		if !isFile {
			return nil, &fs.PathError{Op: "read", Path: displayPath(p), Err: fs.ErrNotExist}
		}
		return data, nil
	}
	f, err := c.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, c.maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > c.maxBytes {
		return nil, c.refuse(&render.Error{Path: name, Err: fmt.Errorf("%w of %d bytes", render.ErrTooLarge, c.maxBytes)})
	}
	if err := checkAliases(name, data, c.maxAlias); err != nil {
		return nil, c.refuse(err)
	}
	return data, nil
}

// Walk walks the tree at p in lexical order.
func (c *confinedFS) Walk(p string, walkFn filepath.WalkFunc) error {
	name, ok, err := c.rel(p)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("walk %s: not supported on the virtual layer", displayPath(p))
	}
	return fs.WalkDir(c.fsys, name, func(n string, d fs.DirEntry, err error) error {
		abs := path.Join(rootDir, n)
		if err != nil {
			return walkFn(abs, nil, err)
		}
		info, err := d.Info()
		if err != nil {
			return walkFn(abs, nil, err)
		}
		c.record(input{op: opExists, path: abs, sum: boolSum(true)})
		return walkFn(abs, info, nil)
	})
}

func isKustomizationFile(p string) bool {
	switch filepath.Base(p) {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	return false
}

// memFile is a read-only filesys.File over bytes already read.
type memFile struct {
	*strings.Reader
	info fs.FileInfo
}

func (f *memFile) Write([]byte) (int, error)  { return 0, errReadOnly }
func (f *memFile) Close() error               { return nil }
func (f *memFile) Stat() (os.FileInfo, error) { return f.info, nil }

// virtualInfo describes a file or directory of the virtual layer.
type virtualInfo struct {
	name string
	size int64
	dir  bool
}

func (v virtualInfo) Name() string { return v.name }
func (v virtualInfo) Size() int64  { return v.size }
func (v virtualInfo) Mode() fs.FileMode {
	if v.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (v virtualInfo) ModTime() time.Time { return time.Time{} }
func (v virtualInfo) IsDir() bool        { return v.dir }
func (v virtualInfo) Sys() any           { return nil }

// input is one observation a build made of the file system; replaying the
// observations against another tree tells whether the build would read
// the same bytes, and so give the same output.
type input struct {
	op   inputOp
	path string
	sum  [sha256.Size]byte
}

type inputOp uint8

const (
	opRead inputOp = iota
	opExists
	opIsDir
	opReadDir
	opGlob
)

func (c *confinedFS) record(in input) {
	c.mu.Lock()
	c.inputs = append(c.inputs, in)
	c.mu.Unlock()
}

func sum(data []byte) [sha256.Size]byte { return sha256.Sum256(data) }

func boolSum(b bool) [sha256.Size]byte {
	if b {
		return sum([]byte{1})
	}
	return sum([]byte{0})
}

// replay reports whether every observation in inputs still holds on c.
func (c *confinedFS) replay(inputs []input) bool {
	for _, in := range inputs {
		var got [sha256.Size]byte
		switch in.op {
		case opRead:
			data, err := c.readFile(in.path)
			if err != nil {
				got = failed
			} else {
				got = sum(data)
			}
		case opExists:
			_, err := c.stat(in.path)
			got = boolSum(err == nil)
		case opIsDir:
			info, err := c.stat(in.path)
			got = boolSum(err == nil && info.IsDir())
		case opReadDir:
			names, err := c.readDir(in.path)
			if err != nil {
				got = failed
			} else {
				got = sum([]byte(strings.Join(names, "\x00")))
			}
		case opGlob:
			name, ok, err := c.rel(in.path)
			if err != nil || !ok {
				return false
			}
			matches, err := fs.Glob(c.fsys, name)
			if err != nil {
				return false
			}
			for i, m := range matches {
				matches[i] = path.Join(rootDir, m)
			}
			got = sum([]byte(strings.Join(matches, "\x00")))
		}
		if got != in.sum {
			return false
		}
	}
	return true
}
