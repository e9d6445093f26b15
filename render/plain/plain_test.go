package plain_test

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/plain"
)

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func cm(name string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  namespace: ns\n"
}

func ids(set *object.Set) []string {
	var out []string
	for _, id := range set.IDs() {
		out = append(out, id.String())
	}
	return out
}

func TestRender(t *testing.T) {
	fsys := fstest.MapFS{
		"m/b.yaml":             file(cm("b") + "---\n" + cm("b2")),
		"m/a.json":             file(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"ns"}}`),
		"m/sub/c.yml":          file(cm("c")),
		"m/sub/deeper/d.yaml":  file(cm("d")),
		"m/README.md":          file("# not yaml"),
		"m/.github/ci.yaml":    file("on: push\n"),
		"m/docs/example.yaml":  file("not: an object\n"),
		"m/sub/skip.test.yaml": file("not: an object\n"),
		"other/e.yaml":         file(cm("e")),
	}
	tests := map[string]struct {
		dir    string
		ignore []string
		want   []string
		errs   string
	}{
		"lexical and recursive": {
			dir: "m", ignore: []string{"docs/", "*.test.yaml"},
			want: []string{"ConfigMap/ns/a", "ConfigMap/ns/b", "ConfigMap/ns/b2", "ConfigMap/ns/c", "ConfigMap/ns/d"},
		},
		"anchored ignore": {
			dir: "m", ignore: []string{"/docs", "sub/*.yaml", "sub/deeper/"},
			want: []string{"ConfigMap/ns/a", "ConfigMap/ns/b", "ConfigMap/ns/b2", "ConfigMap/ns/c"},
		},
		"negated ignore": {
			dir: "m/sub", ignore: []string{"*.yaml", "!d.yaml", "skip.test.yaml"},
			want: []string{"ConfigMap/ns/c", "ConfigMap/ns/d"},
		},
		"not ignored is an error naming the file": {
			dir: "m", ignore: []string{"*.test.yaml"},
			errs: "m/docs/example.yaml",
		},
		"root": {
			dir: ".", ignore: []string{"m/"},
			want: []string{"ConfigMap/ns/e"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opts := render.DefaultOptions()
			opts.Ignore = tc.ignore
			set, err := plain.New().Render(context.Background(), fsys, tc.dir, opts)
			if tc.errs != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.errs)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, ids(set))
		})
	}
}

func TestBadInput(t *testing.T) {
	deep := cm("deep") + "data:\n  x: " + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + "\n"
	laughs := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n  a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" +
		"  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n" +
		"  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
	tests := map[string]struct {
		fsys fs.FS
		dir  string
		is   error
		errs string
	}{
		"duplicate keys":      {fstest.MapFS{"m/d.yaml": file(cm("x") + "  name: y\n")}, "m", object.ErrDuplicateKey, "m/d.yaml"},
		"duplicate objects":   {fstest.MapFS{"m/a.yaml": file(cm("x")), "m/b.yaml": file(cm("x"))}, "m", object.ErrDuplicate, "m/b.yaml"},
		"billion laughs":      {fstest.MapFS{"m/l.yaml": file(laughs)}, "m", object.ErrAliasExpansion, "m/l.yaml"},
		"nested lists":        {fstest.MapFS{"m/n.yaml": file(deep)}, "m", object.ErrTooDeep, "m/n.yaml"},
		"huge manifest":       {hugeFS{size: 200 << 20}, "m", object.ErrTooLarge, "m/huge.yaml"},
		"escaping path":       {fstest.MapFS{}, "../x", render.ErrOutsideRoot, "../x"},
		"missing":             {fstest.MapFS{}, "nope", fs.ErrNotExist, "nope"},
		"unterminated string": {fstest.MapFS{"m/s.yaml": file("apiVersion: \"v1\nkind: x\n")}, "m", object.ErrSyntax, "m/s.yaml"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := plain.New().Render(context.Background(), tc.fsys, tc.dir, render.DefaultOptions())
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.is)
			assert.Contains(t, err.Error(), tc.errs)
		})
	}

	t.Run("overrides are refused", func(t *testing.T) {
		opts := render.DefaultOptions()
		opts.Namespace = "x"
		_, err := plain.New().Render(context.Background(), fstest.MapFS{"m/a.yaml": file(cm("a"))}, "m", opts)
		require.ErrorIs(t, err, render.ErrUnsupported)
	})
}

// TestSymlinksLeavingRoot reads a real tree through os.Root's fs.FS: a
// symlink and a chain of them that point outside fail, naming the file,
// and nothing of the outside file reaches the message.
func TestSymlinksLeavingRoot(t *testing.T) {
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "s.yaml"), []byte(cm("TOP-SECRET")), 0o644))
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "m"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(outside, "s.yaml"), filepath.Join(root, "m", "link.yaml")))
	require.NoError(t, os.Symlink("../hop.yaml", filepath.Join(root, "m", "chain.yaml")))
	require.NoError(t, os.Symlink(filepath.Join(outside, "s.yaml"), filepath.Join(root, "hop.yaml")))
	r, err := os.OpenRoot(root)
	require.NoError(t, err)
	defer r.Close()
	for name, ignore := range map[string][]string{"direct": {"chain.yaml"}, "chain": {"link.yaml"}} {
		for fsName, fsys := range map[string]fs.FS{"os.Root": r.FS(), "os.DirFS": os.DirFS(root)} {
			t.Run(name+" "+fsName, func(t *testing.T) {
				opts := render.DefaultOptions()
				opts.Ignore = ignore
				_, err := plain.New().Render(context.Background(), fsys, "m", opts)
				require.Error(t, err)
				assert.Contains(t, err.Error(), "m/")
				assert.NotContains(t, err.Error(), "TOP-SECRET")
				assert.NotContains(t, err.Error(), outside)
			})
		}
	}
}

// hugeFS holds m/huge.yaml, size bytes generated as they are read.
type hugeFS struct{ size int64 }

func (h hugeFS) Open(name string) (fs.File, error) {
	m := fstest.MapFS{"m/huge.yaml": &fstest.MapFile{}}
	f, err := m.Open(name)
	if err != nil || name != "m/huge.yaml" {
		return f, err
	}
	return &hugeFile{File: f, r: io.LimitReader(filler{}, h.size)}, nil
}

type hugeFile struct {
	fs.File
	r io.Reader
}

func (f *hugeFile) Read(p []byte) (int, error) { return f.r.Read(p) }

type filler struct{}

func (filler) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '#'
	}
	return len(p), nil
}
