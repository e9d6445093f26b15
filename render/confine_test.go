package render_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/render"
)

func TestConfine(t *testing.T) {
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("TOP-SECRET"), 0o644))
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "a", "b"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "a", "file"), []byte("inside"), 0o644))
	links := map[string]string{
		"a/b/up":     "../file",                         // inside
		"a/b/chain":  "up",                              // link to a link, inside
		"a/dir":      "b",                               // a directory, inside
		"a/abs":      filepath.Join(outside, "secret"),  // absolute
		"a/escape":   "../../" + filepath.Base(outside), // relative, out
		"a/b/hop":    "../escape",                       // chain leading out
		"loop1":      "loop2",
		"loop2":      "loop1",
		"a/b/outdir": outside, // a directory outside
	}
	for name, target := range links {
		require.NoError(t, os.Symlink(target, filepath.Join(root, filepath.FromSlash(name))))
	}
	fsys := render.Confine(os.DirFS(root))

	tests := map[string]struct {
		name string
		want string // content, or "" for an error
	}{
		"plain file":            {"a/file", "inside"},
		"link inside":           {"a/b/up", "inside"},
		"chain inside":          {"a/b/chain", "inside"},
		"through a dir link":    {"a/dir/up", "inside"},
		"absolute link":         {"a/abs", ""},
		"relative link out":     {"a/escape/secret", ""},
		"chain out":             {"a/b/hop/secret", ""},
		"loop":                  {"loop1", ""},
		"file in a dir outside": {"a/b/outdir/secret", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			data, err := fs.ReadFile(fsys, tc.name)
			if tc.want != "" {
				require.NoError(t, err)
				assert.Equal(t, tc.want, string(data))
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, render.ErrOutsideRoot)
			assert.Contains(t, err.Error(), tc.name)
			assert.NotContains(t, err.Error(), outside)
			assert.NotContains(t, err.Error(), "TOP-SECRET")
			_, err = fs.Stat(fsys, tc.name)
			assert.ErrorIs(t, err, render.ErrOutsideRoot)
		})
	}

	_, err := fs.ReadDir(fsys, "a/b/outdir")
	assert.ErrorIs(t, err, render.ErrOutsideRoot)
	entries, err := fs.ReadDir(fsys, "a/dir")
	require.NoError(t, err)
	assert.NotEmpty(t, entries)

	noLinks := struct{ fs.FS }{fstest.MapFS{}}
	assert.Equal(t, fs.FS(noLinks), render.Confine(noLinks), "a file system without links is returned as it is")
	assert.Equal(t, fsys, render.Confine(fsys), "confining twice is confining once")
}
