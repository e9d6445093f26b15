package promote

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// ErrNotFound: an edit's target (a file, a YAML path) does not exist.
var ErrNotFound = errors.New("not found")

// Edit changes files of a tree. Apply reads fsys and returns the files the
// edit changes, with their old and new contents; it writes nothing (see
// [Result.Write]) and is safe to call again on the same tree. A file the
// edit does not change is not in the Result, and a file it changes differs
// from the original only where the edit meant it to: comments, key order,
// quoting and indentation stay as they were.
type Edit interface {
	Apply(ctx context.Context, fsys fs.FS) (Result, error)
}

// EditFunc adapts a function to an [Edit].
type EditFunc func(ctx context.Context, fsys fs.FS) (Result, error)

// Apply calls f.
func (f EditFunc) Apply(ctx context.Context, fsys fs.FS) (Result, error) { return f(ctx, fsys) }

var _ Edit = EditFunc(nil)

// Result is what an Edit changed.
type Result struct {
	// Files are the changed files, in the order the edit changed them.
	Files []FileChange
	// Skipped names files the edit passed over, with the reason (a file
	// that does not parse, a setter marker naming an unknown policy).
	Skipped []string
}

// FileChange is one changed file.
type FileChange struct {
	// Path is slash-separated, relative to the tree's root.
	Path     string
	Old, New []byte
}

// Diff returns a unified diff of the change, three lines of context.
func (c FileChange) Diff() string {
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        diffLines(c.Old),
		B:        diffLines(c.New),
		FromFile: "a/" + c.Path,
		ToFile:   "b/" + c.Path,
		Context:  3,
	})
	if err != nil { // difflib only fails writing to a failing writer
		return ""
	}
	return d
}

// diffLines splits a file into the lines of a unified diff. difflib's
// SplitLines counts a phantom empty line after a final newline, which
// makes every hunk that reaches the end of a file one line too long for
// git apply; a last line without a newline gets the marker diff and git
// write.
func diffLines(data []byte) []string {
	if len(data) == 0 {
		return nil
	}
	lines := strings.SplitAfter(string(data), "\n")
	if last := len(lines) - 1; lines[last] == "" {
		lines = lines[:last]
	} else {
		lines[last] += "\n\\ No newline at end of file\n"
	}
	return lines
}

// Diff returns the unified diffs of every changed file.
func (r Result) Diff() string {
	var b strings.Builder
	for _, f := range r.Files {
		b.WriteString(f.Diff())
	}
	return b.String()
}

// Paths returns the changed files' paths.
func (r Result) Paths() []string {
	out := make([]string, len(r.Files))
	for i, f := range r.Files {
		out[i] = f.Path
	}
	return out
}

// Writer writes a file of a tree; [Dir] is one.
type Writer interface {
	WriteFile(name string, data []byte) error
}

// Write writes the changed files to w.
func (r Result) Write(w Writer) error {
	for _, f := range r.Files {
		if err := w.WriteFile(f.Path, f.New); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
	}
	return nil
}

// Dir is a directory tree that edits read and write, confined to its root:
// no path, symlinks included, reaches outside it.
type Dir struct {
	root *os.Root
}

// OpenDir opens the directory dir. Close it when done.
func OpenDir(dir string) (*Dir, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &Dir{root: r}, nil
}

// Open implements fs.FS.
func (d *Dir) Open(name string) (fs.File, error) { return d.root.FS().Open(name) }

// ReadFile implements fs.ReadFileFS.
func (d *Dir) ReadFile(name string) ([]byte, error) { return d.root.ReadFile(name) }

// WriteFile replaces the file name, keeping its permissions.
func (d *Dir) WriteFile(name string, data []byte) error {
	perm := fs.FileMode(0o644)
	if st, err := d.root.Stat(name); err == nil {
		perm = st.Mode().Perm()
	}
	return d.root.WriteFile(name, data, perm)
}

// Close releases the directory.
func (d *Dir) Close() error { return d.root.Close() }

var (
	_ fs.ReadFileFS = (*Dir)(nil)
	_ Writer        = (*Dir)(nil)
)

// readFile reads name from fsys for an edit.
func readFile(fsys fs.FS, name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, fmt.Errorf("%s: not a valid slash-separated path inside the tree", name)
	}
	data, err := fs.ReadFile(fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	return data, err
}
