package source_test

import (
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/converge-dev/converge/source"
)

// FuzzConfinement builds a file system from a fuzzed path and link target
// and checks that nothing it opens lies outside the root or inside .git.
func FuzzConfinement(f *testing.F) {
	for _, seed := range [][2]string{
		{"a/b", "../a/b"}, {"../x", "x"}, {".git/config", "x"}, {"l", "/etc/passwd"},
		{"l", "../../../etc"}, {"d/l", "../.GIT/hooks"}, {"GIT~1", "."}, {"a", "a"},
		{"x/y", "../../x"}, {".g\u200cit/x", ".."}, {`a\b`, `..\..`},
	} {
		f.Add(seed[0], seed[1], "l/"+seed[0])
	}
	f.Fuzz(func(t *testing.T, p, target, open string) {
		b := source.NewBuilder(source.Limits{Files: 10, FileBytes: 10, Bytes: 100}, time.Time{})
		if err := b.AddFile("base/f", 1, false, func() ([]byte, error) { return []byte("f"), nil }); err != nil {
			t.Fatal(err)
		}
		fileErr := b.AddFile(p, 1, false, func() ([]byte, error) { return []byte("p"), nil })
		if fileErr == nil && source.CheckPath(p) != nil {
			t.Fatalf("unsafe path %q accepted", p)
		}
		_ = b.AddSymlink("l", target)
		fsys, _, _, err := b.FS()
		if err != nil {
			return
		}
		_ = fs.WalkDir(fsys, ".", func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if q != "." && source.CheckPath(q) != nil {
				t.Fatalf("walk reached unsafe path %q", q)
			}
			return nil
		})
		if data, err := fs.ReadFile(fsys, open); err == nil {
			if !fs.ValidPath(open) || strings.Contains(open, "..") {
				t.Fatalf("opened invalid path %q", open)
			}
			if s := string(data); s != "f" && s != "p" {
				t.Fatalf("read unexpected content %q", s)
			}
		}
	})
}

func FuzzCheckPath(f *testing.F) {
	for _, s := range []string{"a/b", "../a", ".git/x", ".GIT", "git~1", ".git.", ".git::$DATA", "a\\b", "/a", "C:x", "a//b", ".g\u200dit"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		err := source.CheckPath(p)
		if err != nil {
			return
		}
		if !fs.ValidPath(p) || p == "." {
			t.Fatalf("CheckPath accepted %q, which fs.ValidPath refuses", p)
		}
		for _, c := range strings.Split(p, "/") {
			if strings.EqualFold(strings.TrimRight(c, ". "), ".git") {
				t.Fatalf("CheckPath accepted a .git component in %q", p)
			}
		}
	})
}
