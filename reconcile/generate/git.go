package generate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Repos gives the content of a Git repository at a revision. The package
// does no I/O of its own: a host fetches (with source/git, or
// reconcile.NewFetcher) and hands the snapshot's FS over.
type Repos interface {
	FS(ctx context.Context, repoURL, revision string) (fs.FS, error)
}

// ReposFunc adapts a function to [Repos].
type ReposFunc func(ctx context.Context, repoURL, revision string) (fs.FS, error)

// FS calls f.
func (f ReposFunc) FS(ctx context.Context, repoURL, revision string) (fs.FS, error) {
	return f(ctx, repoURL, revision)
}

var _ Repos = ReposFunc(nil)

// StaticFS is [Repos] for one snapshot already fetched: every repository
// and revision is fsys.
func StaticFS(fsys fs.FS) Repos {
	return ReposFunc(func(context.Context, string, string) (fs.FS, error) { return fsys, nil })
}

// PathItem is a glob of a Git generator; Exclude removes what it matches,
// whatever the order of the items.
type PathItem struct {
	Path    string
	Exclude bool
}

// Git names a repository at a revision and the parameters Git generators
// add to each set.
type Git struct {
	// Repos gives the repository's content.
	Repos Repos
	// RepoURL and Revision are passed to Repos (and may hold a matrix's
	// first generator's parameters).
	RepoURL  string
	Revision string
	// PathParamPrefix puts the path parameters under "<prefix>.path"
	// instead of "path".
	PathParamPrefix string
	// Values are rendered with each set's parameters and added as
	// "values.<key>" (a "values" map in Go template mode).
	Values map[string]string
}

// GitDirectories is Argo CD's Git directory generator: one parameter set
// per directory of the repository that a non-Exclude item matches and no
// Exclude item does. Items are path.Match globs over slash-separated
// paths from the root ("apps/*"); directories whose names start with "."
// and the root itself are never listed, as in Argo CD.
//
// The parameters are path ("apps/api"), path.basename ("api"),
// path.basenameNormalized ([SanitizeName] of it) and path[N], one per
// segment; in Go template mode a "path" map holds path, basename,
// basenameNormalized and segments.
type GitDirectories struct {
	Git
	Directories []PathItem
}

// GitFiles is Argo CD's Git files generator: every YAML or JSON file a
// non-Exclude item matches and no Exclude item does gives one parameter
// set, or one per element when it holds a list. Items are globs in which
// "*" matches within one path segment and "**" any number of segments
// (Argo CD's doublestar globbing): "clusters/**/config.json".
//
// In the default mode a file's content is flattened into dotted string
// parameters ("cluster.address", "list.0"), scalars written as Go's %v
// writes them, as Argo CD does. Both modes add path (the file's
// directory), path.basename, path.filename, path.basenameNormalized,
// path.filenameNormalized and path[N] (a "path" map with segments in Go
// template mode).
type GitFiles struct {
	Git
	Files []PathItem
}

var (
	_ Generator    = GitDirectories{}
	_ Generator    = GitFiles{}
	_ Interpolator = GitDirectories{}
	_ Interpolator = GitFiles{}
)

func (g Git) open(ctx context.Context, what string) (fs.FS, error) {
	if g.Repos == nil {
		return nil, fmt.Errorf("%s: %w: no repository content (Repos is nil)", what, ErrInvalid)
	}
	fsys, err := g.Repos.FS(ctx, g.RepoURL, g.Revision)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return fsys, nil
}

// Generate lists the matching directories, in lexical order.
func (g GitDirectories) Generate(ctx context.Context, o Options) ([]Params, error) {
	o = o.withDefaults()
	for i, it := range g.Directories {
		if _, err := path.Match(it.Path, ""); err != nil {
			return nil, fmt.Errorf("git directories: directories[%d]: %w: bad glob %q", i, ErrInvalid, trunc(it.Path))
		}
	}
	if len(g.Directories) == 0 {
		return nil, fmt.Errorf("git directories: %w: no directories", ErrInvalid)
	}
	fsys, err := g.open(ctx, "git directories")
	if err != nil {
		return nil, err
	}
	var out []Params
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if p == "." {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			return fs.SkipDir
		}
		in, ex := false, false
		for _, it := range g.Directories {
			if ok, _ := path.Match(it.Path, p); ok {
				if it.Exclude {
					ex = true
				} else {
					in = true
				}
			}
		}
		if !in || ex {
			return nil
		}
		if len(out) == o.MaxParams {
			return fmt.Errorf("%w: more than %d directories match", ErrLimit, o.MaxParams)
		}
		params := Params{}
		g.pathParams(params, p, "", o)
		if err := g.values(params, o); err != nil {
			return err
		}
		out = append(out, params)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("git directories: %w", err)
	}
	return out, nil
}

// pathParams adds the parameters of dir (and of file, for Git files).
func (g Git) pathParams(params Params, dir, file string, o Options) {
	base := path.Base(dir)
	if o.GoTemplate {
		m := map[string]any{
			"path":               dir,
			"basename":           base,
			"basenameNormalized": SanitizeName(base),
			"segments":           strings.Split(dir, "/"),
		}
		if file != "" {
			m["filename"] = file
			m["filenameNormalized"] = SanitizeName(file)
		}
		if g.PathParamPrefix != "" {
			params[g.PathParamPrefix] = map[string]any{"path": m}
		} else {
			params["path"] = m
		}
		return
	}
	name := "path"
	if g.PathParamPrefix != "" {
		name = g.PathParamPrefix + ".path"
	}
	params[name] = dir
	params[name+".basename"] = base
	params[name+".basenameNormalized"] = SanitizeName(base)
	if file != "" {
		params[name+".filename"] = file
		params[name+".filenameNormalized"] = SanitizeName(file)
	}
	for i, s := range strings.Split(dir, "/") {
		if s != "" {
			params[name+"["+strconv.Itoa(i)+"]"] = s
		}
	}
}

// values renders Values with the set's own parameters, as Argo CD does:
// into a separate map first, so that a value cannot see another.
func (g Git) values(params Params, o Options) error {
	return addValues(params, g.Values, o)
}

func addValues(params Params, values map[string]string, o Options) error {
	if len(values) == 0 {
		return nil
	}
	rendered := map[string]string{}
	for _, k := range sortedStringKeys(values) {
		s, err := String(values[k], params, o)
		if err != nil {
			return fmt.Errorf("values.%s: %w", k, err)
		}
		rendered[k] = s
	}
	if o.GoTemplate {
		m := map[string]any{}
		for k, v := range rendered {
			m[k] = v
		}
		params["values"] = m
		return nil
	}
	for k, v := range rendered {
		params["values."+k] = v
	}
	return nil
}

func sortedStringKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Generate reads the matching files, in lexical order of their paths.
func (g GitFiles) Generate(ctx context.Context, o Options) ([]Params, error) {
	o = o.withDefaults()
	if len(g.Files) == 0 {
		return nil, fmt.Errorf("git files: %w: no files", ErrInvalid)
	}
	globs := make([][]string, len(g.Files))
	for i, it := range g.Files {
		segs, err := compileGlob(it.Path)
		if err != nil {
			return nil, fmt.Errorf("git files: files[%d]: %w", i, err)
		}
		globs[i] = segs
	}
	fsys, err := g.open(ctx, "git files")
	if err != nil {
		return nil, err
	}
	var files []string
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		in, ex := false, false
		for i, it := range g.Files {
			if matchGlob(globs[i], strings.Split(p, "/")) {
				if it.Exclude {
					ex = true
				} else {
					in = true
				}
			}
		}
		if in && !ex {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("git files: %w", err)
	}
	sort.Strings(files)
	var out []Params
	for _, f := range files {
		data, err := readBounded(fsys, f, o.MaxFileBytes)
		if err != nil {
			return nil, fmt.Errorf("git files: %s: %w", f, err)
		}
		objs, err := ParseFile(data, o)
		if err != nil {
			return nil, fmt.Errorf("git files: %s: %w", f, err)
		}
		for _, obj := range objs {
			if len(out) == o.MaxParams {
				return nil, fmt.Errorf("git files: %w: more than %d parameter sets", ErrLimit, o.MaxParams)
			}
			params, err := fileParams(obj, o)
			if err != nil {
				return nil, fmt.Errorf("git files: %s: %w", f, err)
			}
			g.pathParams(params, path.Dir(f), path.Base(f), o)
			if err := g.values(params, o); err != nil {
				return nil, fmt.Errorf("git files: %s: %w", f, err)
			}
			out = append(out, params)
		}
	}
	return out, nil
}

func readBounded(fsys fs.FS, name string, limit int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: the file exceeds %d bytes", ErrLimit, limit)
	}
	return data, nil
}

// fileParams turns one parsed object into parameters: itself in Go
// template mode, flattened into dotted strings otherwise.
func fileParams(obj map[string]any, o Options) (Params, error) {
	if o.GoTemplate {
		return Params(obj), nil
	}
	p := Params{}
	flatten(p, "", obj)
	return p, nil
}

// flatten is jeremywohl/flatten's DotStyle as Argo CD uses it: maps and
// lists are walked ("a.b", "a.0"), empty ones vanish, and every scalar is
// written with %v (so null is "<nil>" and 1000000 is "1e+06", as in Argo
// CD).
func flatten(p Params, prefix string, v any) {
	key := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			switch e.(type) {
			case map[string]any, []any:
				flatten(p, key(k), e)
			default:
				p[key(k)] = fmt.Sprintf("%v", e)
			}
		}
	case []any:
		for i, e := range v {
			k := key(strconv.Itoa(i))
			switch e.(type) {
			case map[string]any, []any:
				flatten(p, k, e)
			default:
				p[k] = fmt.Sprintf("%v", e)
			}
		}
	}
}

// compileGlob splits a files glob into segments and checks each.
func compileGlob(glob string) ([]string, error) {
	if glob == "" {
		return nil, fmt.Errorf("%w: an empty glob", ErrInvalid)
	}
	segs := strings.Split(strings.TrimPrefix(glob, "/"), "/")
	for _, s := range segs {
		if s == "**" {
			continue
		}
		if _, err := path.Match(s, ""); err != nil {
			return nil, fmt.Errorf("%w: bad glob %q", ErrInvalid, trunc(glob))
		}
	}
	return segs, nil
}

// matchGlob matches path segments against glob segments, "**" standing
// for any number of segments. Memoized, so "**/**/**…" costs
// len(glob)×len(path).
func matchGlob(glob, segs []string) bool {
	memo := make(map[[2]int]bool)
	var m func(i, j int) bool
	m = func(i, j int) bool {
		if r, ok := memo[[2]int{i, j}]; ok {
			return r
		}
		var r bool
		switch {
		case i == len(glob):
			r = j == len(segs)
		case glob[i] == "**":
			r = m(i+1, j) || (j < len(segs) && m(i, j+1))
		case j == len(segs):
			r = false
		default:
			ok, _ := path.Match(glob[i], segs[j])
			r = ok && m(i+1, j+1)
		}
		memo[[2]int{i, j}] = r
		return r
	}
	return m(0, 0)
}

// Interpolate renders the repository, revision and globs with p. Values
// are not: they are rendered later with each set's own parameters.
func (g GitDirectories) Interpolate(p Params, o Options) (Generator, error) {
	out := g
	var err error
	if out.Git, err = g.Git.interpolate(p, o); err != nil {
		return nil, fmt.Errorf("git directories: %w", err)
	}
	if out.Directories, err = interpolateItems(g.Directories, p, o); err != nil {
		return nil, fmt.Errorf("git directories: %w", err)
	}
	return out, nil
}

// Interpolate renders the repository, revision and globs with p.
func (g GitFiles) Interpolate(p Params, o Options) (Generator, error) {
	out := g
	var err error
	if out.Git, err = g.Git.interpolate(p, o); err != nil {
		return nil, fmt.Errorf("git files: %w", err)
	}
	if out.Files, err = interpolateItems(g.Files, p, o); err != nil {
		return nil, fmt.Errorf("git files: %w", err)
	}
	return out, nil
}

func (g Git) interpolate(p Params, o Options) (Git, error) {
	var err error
	if g.RepoURL, err = String(g.RepoURL, p, o); err != nil {
		return g, fmt.Errorf("repoURL: %w", err)
	}
	if g.Revision, err = String(g.Revision, p, o); err != nil {
		return g, fmt.Errorf("revision: %w", err)
	}
	return g, nil
}

func interpolateItems(items []PathItem, p Params, o Options) ([]PathItem, error) {
	out := make([]PathItem, len(items))
	for i, it := range items {
		s, err := String(it.Path, p, o)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out[i] = PathItem{Path: s, Exclude: it.Exclude}
	}
	return out, nil
}

var errNotObject = errors.New("each element must be a mapping")
