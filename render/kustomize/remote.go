package kustomize

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/converge-dev/converge/render"
)

// Fetcher fetches a remote base for a build. Fetch returns the file system
// of the repository url designates and the base's directory in it
// (slash-separated, "." for its root): for
// "https://github.com/org/repo//deploy/base?ref=v1" the tree of org/repo
// at v1 and "deploy/base". The base may refer to other directories of that
// file system ("../common"), never outside it. A host can serve it from
// converge's source/git, with its own cache and credentials; converge
// never runs git.
type Fetcher interface {
	Fetch(ctx context.Context, url string) (fsys fs.FS, dir string, err error)
}

// FetcherFunc adapts a function to a [Fetcher].
type FetcherFunc func(ctx context.Context, url string) (fs.FS, string, error)

// Fetch calls f.
func (f FetcherFunc) Fetch(ctx context.Context, url string) (fs.FS, string, error) {
	return f(ctx, url)
}

var _ Fetcher = FetcherFunc(nil)

// WithRemoteBases allows remote bases (entries of resources, bases and
// components that kustomize would clone) whose reference starts with one
// of the prefixes in allow, fetched with f. A prefix matches at a path
// boundary ("https://github.com/acme" matches ".../acme/app" and
// ".../acme?ref=x", not ".../acme-evil"), and a reference holding a ".."
// segment or a percent-escape never matches. Other remote references are
// still refused with [render.ErrNotAllowed], before any I/O: f is not
// called for them. Remote files (patch and generator URLs) stay refused.
//
// Each fetched base is mounted read-only under a reserved folder of the
// build's root, ".converge-remote/", and the reference rewritten to it;
// a tree that has a ".converge-remote" entry of its own cannot use remote
// bases (it builds as usual while it names none). A build fetches at most 32 remote bases. With a [Cache], checking
// whether an earlier output still holds fetches the bases again, so f
// should be cheap for an unchanged remote (source/git costs one ref
// listing). f must be safe for concurrent use when builds run
// concurrently.
func WithRemoteBases(allow []string, f Fetcher) Option {
	return func(r *Renderer) {
		r.remote = &remotePolicy{allow: append([]string(nil), allow...), fetch: f}
	}
}

type remotePolicy struct {
	allow []string
	fetch Fetcher
}

// allows reports whether ref may be fetched.
func (p *remotePolicy) allows(ref string) bool {
	ref = strings.TrimSpace(ref)
	if strings.Contains(ref, "%") {
		return false
	}
	noQuery, _, _ := strings.Cut(ref, "?")
	for _, seg := range strings.Split(noQuery, "/") {
		if seg == ".." {
			return false
		}
	}
	for _, prefix := range p.allow {
		if prefix == "" || !strings.HasPrefix(ref, prefix) {
			continue
		}
		rest := ref[len(prefix):]
		if strings.HasSuffix(prefix, "/") || rest == "" || strings.ContainsAny(rest[:1], "/?#") {
			return true
		}
	}
	return false
}

// remoteDir is the reserved folder where fetched bases are mounted.
const remoteDir = ".converge-remote"

// maxRemoteBases bounds the fetches of one build.
const maxRemoteBases = 32

// remoteFS serves a build's tree with allowed remote bases mounted under
// remoteDir: kustomization files that name one are served rewritten to
// point at its mount. It implements fs.StatFS and fs.ReadDirFS.
type remoteFS struct {
	ctx      context.Context
	base     fs.FS
	policy   *remotePolicy
	maxBytes int64

	mu     sync.Mutex
	mounts map[string]mounted // mount name -> the fetched repository
	err    error              // the first refusal or fetch failure
}

// fail records the first error of the build and returns it: kustomize
// reads a failure to open a kustomization as its absence, so the build
// reports this one instead.
func (r *remoteFS) fail(err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
	}
	return err
}

// failure returns the first recorded error.
func (r *remoteFS) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

type mounted struct {
	fsys fs.FS
	dir  string // the base's directory in fsys
}

func newRemoteFS(ctx context.Context, base fs.FS, p *remotePolicy, maxBytes int64) *remoteFS {
	return &remoteFS{ctx: ctx, base: base, policy: p, maxBytes: maxBytes, mounts: map[string]mounted{}}
}

// route maps name to the file system that holds it.
func (r *remoteFS) route(name string) (fs.FS, string, error) {
	r.mu.Lock()
	n := len(r.mounts)
	r.mu.Unlock()
	if n == 0 {
		return r.base, name, nil // nothing mounted: the tree as it is
	}
	rest, ok := strings.CutPrefix(name, remoteDir+"/")
	if !ok {
		if name == remoteDir {
			return nil, "", nil // the virtual folder itself
		}
		return r.base, name, nil
	}
	mount, inner, _ := strings.Cut(rest, "/")
	r.mu.Lock()
	m, ok := r.mounts[mount]
	r.mu.Unlock()
	if !ok {
		return nil, "", fs.ErrNotExist
	}
	if inner == "" {
		inner = "."
	}
	return m.fsys, inner, nil
}

// Open implements fs.FS.
func (r *remoteFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	fsys, inner, err := r.route(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if fsys == nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("is a directory")}
	}
	if !isKustomizationFile(name) {
		return fsys.Open(inner)
	}
	f, err := fsys.Open(inner)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, r.maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > r.maxBytes {
		return nil, r.fail(&render.Error{Path: name, Err: fmt.Errorf("%w of %d bytes", render.ErrTooLarge, r.maxBytes)})
	}
	data, err = r.rewrite(name, data)
	if err != nil {
		return nil, r.fail(err)
	}
	return &bytesFile{Reader: bytes.NewReader(data), info: sizedInfo{FileInfo: info, size: int64(len(data))}}, nil
}

// Stat implements fs.StatFS.
func (r *remoteFS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	fsys, inner, err := r.route(name)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	if fsys == nil {
		return virtualInfo{name: remoteDir, dir: true}, nil
	}
	if isKustomizationFile(name) {
		f, err := r.Open(name) // its size is the rewritten one
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return f.Stat()
	}
	return fs.Stat(fsys, inner)
}

// ReadDir implements fs.ReadDirFS.
func (r *remoteFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	fsys, inner, err := r.route(name)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	if fsys == nil {
		return nil, nil // mounts are reached by their path, never listed
	}
	return fs.ReadDir(fsys, inner)
}

// rewrite replaces the allowed remote bases of the kustomization at name
// with relative paths to their mounts, fetching each. Inside a mount, it
// also refuses local references that leave the fetched repository.
func (r *remoteFS) rewrite(name string, data []byte) ([]byte, error) {
	var k map[string]any
	if err := yaml.Unmarshal(data, &k); err != nil {
		return data, nil // kustomize reports syntax errors itself, with positions
	}
	kdir := path.Dir(name)
	if mount, ok := mountOf(kdir); ok {
		if err := checkInside(k, kdir, mount); err != nil {
			return nil, &render.Error{Path: name, Err: err}
		}
	}
	changed := false
	for _, field := range []string{"resources", "bases", "components"} {
		list, _ := k[field].([]any)
		for i, item := range list {
			ref, ok := item.(string)
			if !ok || !isRemote(ref) || !r.policy.allows(ref) {
				continue // a refused remote stays, for checkKustomization to refuse
			}
			local, err := r.mount(ref)
			if err != nil {
				return nil, &render.Error{Path: name, Err: fmt.Errorf("%s[%d]: %w", field, i, err)}
			}
			list[i] = relTo(kdir, local)
			changed = true
		}
	}
	if !changed {
		return data, nil
	}
	return yaml.Marshal(k)
}

// mount fetches ref, once per build, and returns the path of its base.
func (r *remoteFS) mount(ref string) (string, error) {
	h := sha256.Sum256([]byte(ref))
	name := hex.EncodeToString(h[:8])
	r.mu.Lock()
	m, ok := r.mounts[name]
	n := len(r.mounts)
	r.mu.Unlock()
	if !ok {
		if _, err := fs.Stat(r.base, remoteDir); err == nil {
			return "", fmt.Errorf("%w: the tree has a %s entry, the folder reserved for remote bases", render.ErrNotAllowed, remoteDir)
		}
		if n >= maxRemoteBases {
			return "", fmt.Errorf("%w: more than %d remote bases", render.ErrTooLarge, maxRemoteBases)
		}
		ctx, cancel := context.WithTimeout(r.ctx, 5*time.Minute)
		defer cancel()
		fsys, dir, err := r.policy.fetch.Fetch(ctx, ref)
		if err != nil {
			return "", fmt.Errorf("fetch remote base: %w", err)
		}
		if fsys == nil {
			return "", errors.New("fetch remote base: no file system")
		}
		dir = path.Clean(dir)
		if !fs.ValidPath(dir) {
			return "", fmt.Errorf("%w: the fetched base's directory", render.ErrOutsideRoot)
		}
		m = mounted{fsys: render.Confine(fsys), dir: dir}
		r.mu.Lock()
		r.mounts[name] = m
		r.mu.Unlock()
	}
	return path.Join(remoteDir, name, m.dir), nil
}

// mountOf returns the mount folder that dir is in, if any.
func mountOf(dir string) (string, bool) {
	rest, ok := strings.CutPrefix(dir, remoteDir+"/")
	if !ok {
		return "", false
	}
	name, _, _ := strings.Cut(rest, "/")
	return remoteDir + "/" + name, true
}

// checkInside refuses local references of a fetched kustomization that
// leave its repository's mount.
func checkInside(k map[string]any, kdir, mount string) error {
	var refs []string
	for _, field := range rootFields {
		refs = append(refs, strings1(k[field])...)
	}
	for _, field := range []string{"patches", "patchesJson6902", "replacements"} {
		for _, p := range maps(k[field]) {
			if s, ok := p["path"].(string); ok {
				refs = append(refs, s)
			}
		}
	}
	refs = append(refs, strings1(k["patchesStrategicMerge"])...)
	for _, field := range []string{"configMapGenerator", "secretGenerator"} {
		for _, g := range maps(k[field]) {
			for _, s := range append(strings1(g["files"]), strings1(g["envs"])...) {
				if _, file, ok := strings.Cut(s, "="); ok {
					s = file
				}
				refs = append(refs, s)
			}
			if s, ok := g["env"].(string); ok {
				refs = append(refs, s)
			}
		}
	}
	for _, ref := range refs {
		if isRemote(ref) || isURL(ref) || strings.Contains(ref, "\n") {
			continue // remote: the policy decides; inline patch: no path
		}
		if path.IsAbs(ref) {
			return fmt.Errorf("%w: a fetched base refers to an absolute path", render.ErrOutsideRoot)
		}
		p := path.Join(kdir, ref)
		if p != mount && !strings.HasPrefix(p, mount+"/") {
			return fmt.Errorf("%w: a fetched base refers outside its repository", render.ErrOutsideRoot)
		}
	}
	return nil
}

// relTo is target (a path from the root) as seen from directory dir.
func relTo(dir, target string) string {
	if dir == "." {
		return target
	}
	up := strings.Repeat("../", strings.Count(dir, "/")+1)
	return up + target
}

type bytesFile struct {
	*bytes.Reader
	info fs.FileInfo
}

func (f *bytesFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *bytesFile) Close() error               { return nil }

type sizedInfo struct {
	fs.FileInfo
	size int64
}

func (s sizedInfo) Size() int64 { return s.size }
