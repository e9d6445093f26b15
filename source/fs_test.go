package source_test

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/source"
)

func data(s string) func() ([]byte, error) { return func() ([]byte, error) { return []byte(s), nil } }

func TestCheckPath(t *testing.T) {
	tests := map[string]struct {
		path string
		ok   bool
	}{
		"plain":          {"apps/api/deploy.yaml", true},
		"dotfile":        {".sourceignore", true},
		"gitignore":      {"apps/.gitignore", true},
		"gitkeep dir":    {".github/workflows/ci.yaml", true},
		"git prefix":     {".gitfoo/x", true},
		"empty":          {"", false},
		"dot dot":        {"../etc/passwd", false},
		"inner dot dot":  {"apps/../../x", false},
		"dot":            {"./x", false},
		"absolute":       {"/etc/passwd", false},
		"drive":          {"C:/x", false},
		"backslash":      {`apps\..\..\x`, false},
		"double slash":   {"apps//x", false},
		"trailing slash": {"apps/", false},
		".git":           {".git/config", false},
		".GIT":           {".GIT/config", false},
		"nested .Git":    {"apps/.Git/hooks/x", false},
		"git~1":          {"GIT~1/config", false},
		".git trailing":  {".git. /config", false},
		".git stream":    {".git::$INDEX_ALLOCATION/config", false},
		"hfs ignorable":  {".g\u200cit/config", false},
		"control":        {"a\x00b", false},
		"invalid utf8":   {"a\xffb", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := source.CheckPath(tc.path)
			if tc.ok {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, source.ErrUnsafePath)
			var pe *source.PathError
			assert.ErrorAs(t, err, &pe)
		})
	}
}

func TestBuilderLinks(t *testing.T) {
	tests := map[string]struct {
		links   map[string]string
		read    map[string]string // path → content through links
		wantErr bool
	}{
		"file link":           {links: map[string]string{"l": "base/a"}, read: map[string]string{"l": "a"}},
		"relative up inside":  {links: map[string]string{"overlay/l": "../base/a"}, read: map[string]string{"overlay/l": "a"}},
		"dir link":            {links: map[string]string{"b": "base"}, read: map[string]string{"b/a": "a"}},
		"chain":               {links: map[string]string{"l1": "l2", "l2": "base/a"}, read: map[string]string{"l1": "a"}},
		"absolute":            {links: map[string]string{"l": "/etc/passwd"}, wantErr: true},
		"escape":              {links: map[string]string{"l": "../x"}, wantErr: true},
		"escape through dir":  {links: map[string]string{"d": ".", "base/l": "../../x"}, wantErr: true},
		"dot link then climb": {links: map[string]string{"d": "base", "l": "d/../../x"}, wantErr: true},
		"loop":                {links: map[string]string{"l1": "l2", "l2": "l1"}, wantErr: true},
		"ancestor":            {links: map[string]string{"base/up": ".."}, wantErr: true},
		"root":                {links: map[string]string{"r": "."}, wantErr: true},
		"into git":            {links: map[string]string{"l": ".git/config"}, wantErr: true},
		"empty target":        {links: map[string]string{"l": ""}, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := source.NewBuilder(source.DefaultLimits(), time.Time{})
			require.NoError(t, b.AddFile("base/a", 1, false, data("a")))
			for p, target := range tc.links {
				require.NoError(t, b.AddSymlink(p, target))
			}
			fsys, _, _, err := b.FS()
			if tc.wantErr {
				require.ErrorIs(t, err, source.ErrUnsafePath)
				return
			}
			require.NoError(t, err)
			for p, want := range tc.read {
				got, err := fs.ReadFile(fsys, p)
				require.NoError(t, err, p)
				assert.Equal(t, want, string(got))
			}
		})
	}
}

func TestBuilderLimitsBeforeRead(t *testing.T) {
	b := source.NewBuilder(source.Limits{Files: 1, FileBytes: 10, Bytes: 15}, time.Time{})
	called := false
	never := func() ([]byte, error) { called = true; return nil, nil }

	err := b.AddFile("big", 11, false, never)
	require.ErrorIs(t, err, source.ErrLimit)
	var le *source.LimitError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, "file size", le.What)
	require.NoError(t, b.AddFile("a", 10, false, data("0123456789")))
	assert.ErrorIs(t, b.AddFile("b", 1, false, never), source.ErrLimit)
	assert.False(t, called, "content over a limit is never read")

	b = source.NewBuilder(source.Limits{Bytes: 15}, time.Time{})
	require.NoError(t, b.AddFile("a", 10, false, data("0123456789")))
	assert.ErrorIs(t, b.AddFile("b", 6, false, never), source.ErrLimit)
	assert.False(t, called)

	b = source.NewBuilder(source.Limits{}, time.Time{})
	assert.Error(t, b.AddFile("lies", 5, false, data("abc")), "a reader that returns another size is refused")
	assert.ErrorIs(t, b.AddFile("a/b", 1, false, data("x")), nil)
	assert.ErrorIs(t, b.AddFile("a/b", 1, false, data("x")), source.ErrUnsafePath, "duplicate")
	assert.ErrorIs(t, b.AddFile("a/b/c", 1, false, data("x")), source.ErrUnsafePath, "file as a directory")
}

func TestFSIsAValidFS(t *testing.T) {
	b := source.NewBuilder(source.DefaultLimits(), time.Unix(1700000000, 0))
	require.NoError(t, b.AddFile("apps/api/deploy.yaml", 5, false, data("hello")))
	require.NoError(t, b.AddFile("run.sh", 2, true, data("#!")))
	require.NoError(t, b.AddSymlink("apps/link.yaml", "api/deploy.yaml"))
	fsys, files, size, err := b.FS()
	require.NoError(t, err)
	assert.Equal(t, 2, files)
	assert.Equal(t, int64(7), size)
	require.NoError(t, fstest.TestFS(fsys, "apps/api/deploy.yaml", "run.sh", "apps/link.yaml"))
	info, err := fs.Stat(fsys, "run.sh")
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o555), info.Mode())

	for _, bad := range []string{"../x", "/apps", "apps/../run.sh", "", "apps/", `apps\api`} {
		_, err := fsys.Open(bad)
		assert.ErrorIs(t, err, fs.ErrInvalid, bad)
	}
	got, err := fs.ReadFile(fsys, "apps/api/deploy.yaml")
	require.NoError(t, err)
	got[0] = 'X'
	again, _ := fs.ReadFile(fsys, "apps/api/deploy.yaml")
	assert.Equal(t, "hello", string(again), "ReadFile returns a copy")
}

func TestIgnore(t *testing.T) {
	ig := source.NewIgnore([]string{"apps/api", "/infra/"}, []string{"*.md", "!KEEP.md"}).
		WithFile([]byte("# comment\n\ntmp/\r\n"))
	tests := map[string]struct {
		path string
		dir  bool
		skip bool
	}{
		"included file":    {path: "apps/api/deploy.yaml"},
		"included dir":     {path: "infra", dir: true},
		"ancestor of incl": {path: "apps", dir: true},
		"not included":     {path: "apps/web/deploy.yaml", skip: true},
		"top level":        {path: "README.txt", skip: true},
		"ignored pattern":  {path: "apps/api/NOTES.md", skip: true},
		"negated pattern":  {path: "apps/api/KEEP.md"},
		"ignored by file":  {path: "apps/api/tmp", dir: true, skip: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.skip, ig.Skip(tc.path, tc.dir))
		})
	}
	var none *source.Ignore
	assert.False(t, none.Skip("anything", false))
	assert.True(t, strings.HasPrefix(source.IgnoreFile, "."))
}
