package helm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/ignore"

	"github.com/converge-dev/converge/render"
)

// maxDirDepth bounds how deeply a chart's directories nest, which also
// stops a loop of directory links inside the root.
const maxDirDepth = 64

// maxArchiveDepth bounds archives inside archives (charts/a.tgz holding
// charts/b.tgz ...).
const maxArchiveDepth = 8

// budget is what one render may still load.
type budget struct {
	files   int
	bytes   int64
	perFile int64
}

func (b *budget) take(name string, n int64) error {
	if n > b.perFile {
		return &render.Error{Path: name, Err: fmt.Errorf("%w of %d bytes", render.ErrTooLarge, b.perFile)}
	}
	b.files--
	b.bytes -= n
	if b.files < 0 {
		return &render.Error{Path: name, Err: fmt.Errorf("%w: the chart has more files than the limit", render.ErrTooLarge)}
	}
	if b.bytes < 0 {
		return &render.Error{Path: name, Err: fmt.Errorf("%w: the chart exceeds the limit on bytes loaded", render.ErrTooLarge)}
	}
	return nil
}

// readFile reads name from fsys within the budget, never holding more than
// the per-file limit.
func (b *budget) readFile(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, &render.Error{Path: name, Err: cleanFSError(err)}
	}
	defer f.Close()
	limit := min(b.perFile, b.bytes)
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &render.Error{Path: name, Err: cleanFSError(err)}
	}
	if err := b.take(name, int64(len(data))); err != nil {
		return nil, err
	}
	return data, nil
}

// loadChartFiles reads the chart directory dir of fsys the way Helm's
// LoadDir reads a directory: .helmignore and Helm's default ignores apply,
// symbolic links are followed (fsys is confined, so only inside the
// root), and an irregular file is an error. Names are relative to dir.
// Archives in charts/ are checked (see checkArchive) before Helm's loader
// expands them.
func loadChartFiles(ctx context.Context, fsys fs.FS, dir string, extra []string, b *budget) ([]*loader.BufferedFile, error) {
	info, err := fs.Stat(fsys, dir)
	if err != nil {
		return nil, &render.Error{Path: dir, Err: cleanFSError(err)}
	}
	if !info.IsDir() {
		return nil, &render.Error{Path: dir, Err: fmt.Errorf("%w: not a chart directory", render.ErrSyntax)}
	}
	rules := ignore.Empty()
	ignoreFile := path.Join(dir, ignore.HelmIgnore)
	if _, err := fs.Stat(fsys, ignoreFile); err == nil {
		data, err := b.readFile(fsys, ignoreFile)
		if err != nil {
			return nil, err
		}
		if rules, err = ignore.Parse(bytes.NewReader(data)); err != nil {
			return nil, &render.Error{Path: ignoreFile, Err: fmt.Errorf("%w: %s", render.ErrSyntax, redact(err.Error()))}
		}
	}
	rules.AddDefaults()
	extraRules, err := render.NewIgnore(extra)
	if err != nil {
		return nil, &render.Error{Path: dir, Err: err}
	}

	var files []*loader.BufferedFile
	var walk func(rel string, depth int) error
	walk = func(rel string, depth int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if depth > maxDirDepth {
			return &render.Error{Path: path.Join(dir, rel), Err: fmt.Errorf("%w: directories nest deeper than %d", render.ErrTooLarge, maxDirDepth)}
		}
		full := path.Join(dir, rel)
		entries, err := fs.ReadDir(fsys, full)
		if err != nil {
			return &render.Error{Path: full, Err: cleanFSError(err)}
		}
		for _, e := range entries {
			name := path.Join(rel, e.Name())
			full := path.Join(dir, name)
			info, err := e.Info()
			if err != nil {
				return &render.Error{Path: full, Err: cleanFSError(err)}
			}
			if info.Mode()&fs.ModeSymlink != 0 {
				// Helm follows links; the confined fs.FS checks that they
				// stay inside the root.
				if info, err = fs.Stat(fsys, full); err != nil {
					return &render.Error{Path: full, Err: cleanFSError(err)}
				}
			}
			if info.IsDir() {
				if rules.Ignore(name, info) || extraRules.Match(name, true) {
					continue
				}
				if err := b.take(full, 0); err != nil { // a directory counts as a file
					return err
				}
				if err := walk(name, depth+1); err != nil {
					return err
				}
				continue
			}
			if rules.Ignore(name, info) || extraRules.Match(name, false) {
				continue
			}
			if !info.Mode().IsRegular() {
				return &render.Error{Path: full, Err: fmt.Errorf("%w: not a regular file", render.ErrSyntax)}
			}
			data, err := b.readFile(fsys, full)
			if err != nil {
				return err
			}
			if isSubchartArchive(name) {
				if err := checkArchive(data, full, b, 0); err != nil {
					return err
				}
			}
			files = append(files, &loader.BufferedFile{Name: name, Data: bytes.TrimPrefix(data, utf8BOM)})
		}
		return nil
	}
	if err := walk("", 0); err != nil {
		return nil, err
	}
	return files, nil
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// isSubchartArchive reports whether name, relative to a chart, is an
// archive Helm's loader expands: charts/NAME.tgz.
func isSubchartArchive(name string) bool {
	dir, file := path.Split(name)
	return dir == "charts/" && strings.HasSuffix(file, ".tgz")
}

// ErrArchive: a subchart archive is malformed or hostile (entries leaving
// the chart, links, a decompression bomb).
var ErrArchive = errors.New("bad chart archive")

// checkArchive reads a gzip-compressed tar archive of a chart the way
// Helm's loader will, without keeping it, and refuses it before Helm
// expands it in memory: every entry counts against b (so a decompression
// bomb stops at the byte limit), entries must stay inside the chart's
// folder, links and devices are refused, and archives nested in its
// charts/ are checked the same way.
func checkArchive(data []byte, name string, b *budget, depth int) error {
	if depth >= maxArchiveDepth {
		return &render.Error{Path: name, Err: fmt.Errorf("%w: archives nest deeper than %d", ErrArchive, maxArchiveDepth)}
	}
	fail := func(format string, args ...any) error {
		return &render.Error{Path: name, Err: fmt.Errorf("%w: "+format, append([]any{ErrArchive}, args...)...)}
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return fail("not gzip-compressed")
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for i := 1; ; i++ {
		hd, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if b.bytes <= 0 {
				return &render.Error{Path: name, Err: fmt.Errorf("%w: the chart exceeds the limit on bytes loaded", render.ErrTooLarge)}
			}
			return fail("entry %d: malformed tar", i)
		}
		switch hd.Typeflag {
		case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeDir:
			continue
		case tar.TypeReg, tar.TypeRegA:
		default:
			return fail("entry %d: not a regular file (links and devices are refused)", i)
		}
		n := strings.ReplaceAll(hd.Name, "\\", "/")
		parts := strings.SplitN(n, "/", 2)
		if len(parts) != 2 || path.IsAbs(n) {
			return fail("entry %d: outside the chart's folder", i)
		}
		inner := path.Clean(parts[1])
		if inner == "." || inner == ".." || strings.HasPrefix(inner, "../") || path.IsAbs(inner) || strings.Contains(inner, ":") {
			return fail("entry %d: leaves the chart's folder", i)
		}
		// Read at most what the budget allows, whatever the header claims.
		limit := min(b.perFile, b.bytes)
		var sink io.Writer = io.Discard
		var nested bytes.Buffer
		if isSubchartArchive(inner) {
			sink = &nested
		}
		got, err := io.Copy(sink, io.LimitReader(tr, limit+1))
		if err != nil {
			if b.bytes <= 0 || got > limit {
				return &render.Error{Path: name, Err: fmt.Errorf("%w: the chart exceeds the limit on bytes loaded", render.ErrTooLarge)}
			}
			return fail("entry %d: corrupt data", i)
		}
		if err := b.take(name, got); err != nil {
			return err
		}
		if isSubchartArchive(inner) {
			if err := checkArchive(nested.Bytes(), name+"/"+inner, b, depth+1); err != nil {
				return err
			}
		}
	}
}

// cleanFSError keeps an fs error's meaning without its path, which the
// render.Error around it names already, relative to the root.
func cleanFSError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
