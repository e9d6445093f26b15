package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/converge-dev/converge/object"
)

// Limits bound what a [Target] reads.
type Limits struct {
	// MaxFiles is how many files are read; the rest are not, and the
	// report says so.
	MaxFiles int
	// MaxFileSize is the size above which a file is skipped, with a note.
	MaxFileSize int64
}

// DefaultLimits returns 20,000 files of up to 4 MiB each.
func DefaultLimits() Limits { return Limits{MaxFiles: 20000, MaxFileSize: 4 << 20} }

// Target is what rules check: a repository snapshot at a revision.
// Build one with [NewTarget]; its files are read and parsed once, on
// first use, and shared by every rule. A Target is safe for concurrent
// use.
type Target struct {
	// FS is the snapshot, read-only; paths are slash-separated from its
	// root (a source.Snapshot's FS).
	FS fs.FS
	// Revision is the commit or tag the snapshot is at, for reports.
	Revision string

	limits Limits
	once   sync.Once
	files  []*File
	notes  []string
	err    error
}

// NewTarget returns the target of fsys at revision, read within limits.
func NewTarget(fsys fs.FS, revision string, limits Limits) *Target {
	return &Target{FS: fsys, Revision: revision, limits: limits}
}

// File is one text file of the target.
type File struct {
	// Path is slash-separated from the target's root.
	Path string
	// Data is the file's content. Rules must not modify it.
	Data []byte
	// Docs are the file's YAML documents, for .yaml and .yml files
	// that parse; nil otherwise.
	Docs []*Document
	// YAMLError is the parse error of a YAML file that does not parse,
	// and YAMLErrorLine its line (0: unknown).
	YAMLError     error
	YAMLErrorLine int
}

// Document is one YAML document of a file.
type Document struct {
	// File is the file's path; Index the document's place in it.
	File  string
	Index int
	// Root is the document's top node (a mapping for a manifest).
	Root *yaml.Node
	// Line and EndLine are the first and last lines of the document.
	Line, EndLine int
	// APIVersion, Kind, Name and Namespace are the manifest's, when it
	// is one.
	APIVersion, Kind, Name, Namespace string
	// Annotations are metadata.annotations.
	Annotations map[string]string
}

// ID returns the document's object ID (zero if it is not a manifest).
func (d *Document) ID() object.ID {
	if d.Kind == "" {
		return object.ID{}
	}
	group, _, found := strings.Cut(d.APIVersion, "/")
	if !found {
		group = ""
	}
	return object.ID{Group: group, Kind: d.Kind, Namespace: d.Namespace, Name: d.Name}
}

// Files returns the target's text files, sorted by path, read and
// parsed on first call. Binary files, symlinks, files over the size
// bound and files past the count bound are left out with a note.
func (t *Target) Files(ctx context.Context) ([]*File, error) {
	t.once.Do(func() { t.files, t.notes, t.err = load(ctx, t.FS, t.limits) })
	return t.files, t.err
}

// Notes returns what reading the target left out, once Files has run.
func (t *Target) Notes() []string { return t.notes }

// Documents returns every YAML document of the target's files.
func (t *Target) Documents(ctx context.Context) ([]*Document, error) {
	files, err := t.Files(ctx)
	var docs []*Document
	for _, f := range files {
		docs = append(docs, f.Docs...)
	}
	return docs, err
}

func load(ctx context.Context, fsys fs.FS, lim Limits) ([]*File, []string, error) {
	if fsys == nil {
		return nil, nil, errors.New("check: target has no FS")
	}
	if lim.MaxFiles <= 0 || lim.MaxFileSize <= 0 {
		d := DefaultLimits()
		if lim.MaxFiles <= 0 {
			lim.MaxFiles = d.MaxFiles
		}
		if lim.MaxFileSize <= 0 {
			lim.MaxFileSize = d.MaxFileSize
		}
	}
	var (
		files                []*File
		notes                []string
		binary, links, extra int
	)
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s: not read: %v", p, err))
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			links++
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if len(files) >= lim.MaxFiles {
			extra++
			return nil
		}
		info, err := d.Info()
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s: not read: %v", p, err))
			return nil
		}
		if info.Size() > lim.MaxFileSize {
			notes = append(notes, fmt.Sprintf("%s: skipped, %d bytes is over the %d-byte bound", p, info.Size(), lim.MaxFileSize))
			return nil
		}
		data, err := readFile(fsys, p, lim.MaxFileSize)
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s: %v", p, err))
			return nil
		}
		if isBinary(data) {
			binary++
			return nil
		}
		f := &File{Path: p, Data: data}
		if isYAML(p) && !inHelmTemplates(fsys, p) {
			f.Docs, f.YAMLError, f.YAMLErrorLine = parseYAML(p, data)
		}
		files = append(files, f)
		return nil
	})
	if binary > 0 {
		notes = append(notes, fmt.Sprintf("%d binary files skipped", binary))
	}
	if links > 0 {
		notes = append(notes, fmt.Sprintf("%d symlinks not followed", links))
	}
	if extra > 0 {
		notes = append(notes, fmt.Sprintf("%d files not read: the bound is %d files", extra, lim.MaxFiles))
	}
	return files, notes, err
}

func readFile(fsys fs.FS, p string, max int64) ([]byte, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, fmt.Errorf("not read: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("not read: %w", err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("skipped, over the %d-byte bound", max)
	}
	return data, nil
}

func isBinary(data []byte) bool {
	head := data
	if len(head) > 8000 {
		head = head[:8000]
	}
	return bytes.IndexByte(head, 0) >= 0 || !utf8.Valid(data)
}

func isYAML(p string) bool { return strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml") }

// inHelmTemplates reports whether p is a Helm chart's template, which is
// not YAML until rendered.
func inHelmTemplates(fsys fs.FS, p string) bool {
	for dir := path.Dir(p); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if path.Base(dir) == "templates" {
			if _, err := fs.Stat(fsys, path.Join(path.Dir(dir), "Chart.yaml")); err == nil {
				return true
			}
		}
	}
	return false
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

func parseYAML(p string, data []byte) ([]*Document, error, int) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*Document
	for i := 0; ; i++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			msg := err.Error()
			line := 0
			if m := yamlLine.FindStringSubmatch(msg); m != nil {
				line, _ = strconv.Atoi(m[1])
				msg = msg[len(m[0]):]
			}
			return docs, errors.New(strings.TrimPrefix(msg, "yaml: ")), line
		}
		root := &n
		if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
			root = root.Content[0]
		}
		if root.Kind == 0 || root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue // an empty document
		}
		d := &Document{File: p, Index: i, Root: root, Line: root.Line, EndLine: endLine(root, 0)}
		d.APIVersion = scalar(root, "apiVersion")
		d.Kind = scalar(root, "kind")
		if md := lookup(root, "metadata"); md != nil {
			d.Name = scalar(md, "name")
			d.Namespace = scalar(md, "namespace")
			if an := lookup(md, "annotations"); an != nil && an.Kind == yaml.MappingNode {
				d.Annotations = map[string]string{}
				for j := 0; j+1 < len(an.Content); j += 2 {
					d.Annotations[an.Content[j].Value] = an.Content[j+1].Value
				}
			}
		}
		docs = append(docs, d)
	}
	return docs, nil, 0
}

// endLine returns the last line a node spans, as far as its scalars say.
func endLine(n *yaml.Node, depth int) int {
	last := n.Line
	if depth > 200 {
		return last
	}
	for _, c := range n.Content {
		if l := endLine(c, depth+1); l > last {
			last = l
		}
	}
	if n.Kind == yaml.ScalarNode {
		last += strings.Count(n.Value, "\n")
	}
	return last
}

// lookup returns the value of key in mapping n, or nil.
func lookup(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Kind == yaml.ScalarNode && n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// lookupPath looks up keys in turn.
func lookupPath(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		n = lookup(n, k)
	}
	return n
}

// scalar returns the scalar value of key in mapping n, or "".
func scalar(n *yaml.Node, key string) string {
	v := lookup(n, key)
	if v == nil || v.Kind != yaml.ScalarNode {
		return ""
	}
	return v.Value
}

// keyNode returns the key node of key in mapping n, or nil.
func keyNode(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i]
		}
	}
	return nil
}
