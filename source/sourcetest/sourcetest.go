// Package sourcetest is a conformance suite for [source.Source]
// implementations. It lives outside _test.go files so that any host or
// third-party implementation can run it:
//
//	func TestConformance(t *testing.T) {
//		sourcetest.Run(t, func(t *testing.T) sourcetest.Harness {
//			dir := t.TempDir()
//			return sourcetest.Harness{
//				Source: mysource.New(dir),
//				Write:  func(t testing.TB, files map[string]string) { ... },
//			}
//		})
//	}
//
// Options change what the suite checks where an implementation's rules
// differ from converge's own, such as [WithIgnoreCase]. The package keeps
// no state: its fixtures come from functions that return fresh copies.
package sourcetest

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/source"
)

// Harness is one implementation under test, fresh for each subtest.
type Harness struct {
	// Source is the source under test; it must serve what Write wrote last.
	Source source.Source
	// Write changes the upstream content: each path gets its content, and
	// an empty content deletes the path. Paths are slash-separated.
	Write func(t testing.TB, files map[string]string)
}

// Option configures [Run].
type Option func(*config)

type config struct {
	ignore IgnoreCase
}

// WithIgnoreCase runs the "ignore files in subdirectories" subtest on c
// instead of [DefaultIgnoreCase], for an implementation whose ignore files
// have another name or other rules. Run keeps its own copy of c.
func WithIgnoreCase(c IgnoreCase) Option {
	c = c.clone()
	return func(cfg *config) { cfg.ignore = c }
}

// Run runs the suite. newHarness is called once per subtest.
func Run(t *testing.T, newHarness func(t *testing.T) Harness, opts ...Option) {
	t.Helper()
	cfg := config{ignore: DefaultIgnoreCase()}
	for _, o := range opts {
		o(&cfg)
	}
	files := map[string]string{
		"README.md":                   "# deploy\n",
		"apps/api/kustomization.yaml": "resources: [deploy.yaml]\n",
		"apps/api/deploy.yaml":        "kind: Deployment\n",
		"apps/web/deploy.yaml":        "kind: Deployment\nname: web\n",
	}
	ctx := func(t *testing.T) context.Context {
		c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		t.Cleanup(cancel)
		return c
	}

	t.Run("content", func(t *testing.T) {
		h := newHarness(t)
		h.Write(t, maps.Clone(files))
		snap, err := h.Source.Fetch(ctx(t))
		require.NoError(t, err)
		require.NotNil(t, snap)
		require.NotNil(t, snap.FS)
		assert.NotEmpty(t, snap.Revision)
		assert.Equal(t, len(files), snap.Files)
		var want int64
		for p, c := range files {
			want += int64(len(c))
			got, err := fs.ReadFile(snap.FS, p)
			if assert.NoError(t, err, p) {
				assert.Equal(t, c, string(got), p)
			}
		}
		assert.Equal(t, want, snap.Bytes)
		var walked []string
		require.NoError(t, fs.WalkDir(snap.FS, ".", func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				walked = append(walked, p)
			}
			return err
		}))
		assert.ElementsMatch(t, keys(files), walked)
		assert.NoError(t, fstest.TestFS(snap.FS, keys(files)...))
	})

	t.Run("confined", func(t *testing.T) {
		h := newHarness(t)
		h.Write(t, maps.Clone(files))
		snap, err := h.Source.Fetch(ctx(t))
		require.NoError(t, err)
		for _, p := range []string{"../README.md", "/README.md", "apps/../README.md", "./README.md",
			"apps/api/../../../etc/passwd", ".git/config", ".git/HEAD", "apps\\api\\deploy.yaml", ""} {
			_, err := fs.ReadFile(snap.FS, p)
			assert.Error(t, err, "%q must not open", p)
			_, err = snap.FS.Open(p)
			assert.Error(t, err, "%q must not open", p)
		}
		f, err := snap.FS.Open("README.md")
		require.NoError(t, err)
		defer f.Close()
		_, isWriter := f.(interface{ Write([]byte) (int, error) })
		assert.False(t, isWriter, "snapshot files must be read-only")
	})

	t.Run("stable and changing", func(t *testing.T) {
		h := newHarness(t)
		h.Write(t, maps.Clone(files))
		first, err := h.Source.Fetch(ctx(t))
		require.NoError(t, err)
		again, err := h.Source.Fetch(ctx(t))
		require.NoError(t, err)
		assert.Equal(t, first.Revision, again.Revision, "unchanged content keeps its revision")

		h.Write(t, map[string]string{"apps/web/deploy.yaml": "", "apps/db/deploy.yaml": "kind: StatefulSet\n"})
		next, err := h.Source.Fetch(ctx(t))
		require.NoError(t, err)
		assert.NotEqual(t, first.Revision, next.Revision)
		_, err = fs.Stat(next.FS, "apps/web/deploy.yaml")
		assert.ErrorIs(t, err, fs.ErrNotExist)
		got, err := fs.ReadFile(next.FS, "apps/db/deploy.yaml")
		require.NoError(t, err)
		assert.Equal(t, "kind: StatefulSet\n", string(got))
		// The earlier snapshot does not change.
		got, err = fs.ReadFile(first.FS, "apps/web/deploy.yaml")
		require.NoError(t, err)
		assert.Equal(t, files["apps/web/deploy.yaml"], string(got))
	})

	t.Run("ignore files in subdirectories", func(t *testing.T) {
		h := newHarness(t)
		c := cfg.ignore.clone() // the harness may keep what it is given
		h.Write(t, c.Files)
		snap, err := h.Source.Fetch(ctx(t))
		require.NoError(t, err)
		var walked []string
		require.NoError(t, fs.WalkDir(snap.FS, ".", func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				walked = append(walked, p)
			}
			return err
		}))
		assert.ElementsMatch(t, c.Kept, walked)
	})

	t.Run("canceled context", func(t *testing.T) {
		h := newHarness(t)
		h.Write(t, maps.Clone(files))
		c, cancel := context.WithCancel(context.Background())
		cancel()
		snap, err := h.Source.Fetch(c)
		require.Error(t, err)
		assert.Nil(t, snap)
		assert.True(t, errors.Is(err, context.Canceled), "error %v must wrap context.Canceled", err)
	})
}

// IgnoreCase is the content of the "ignore files in subdirectories"
// subtest and what a snapshot of it must hold.
type IgnoreCase struct {
	// Files maps slash-separated paths to content.
	Files map[string]string
	// Kept lists the files a snapshot of Files holds.
	Kept []string
}

func (c IgnoreCase) clone() IgnoreCase {
	return IgnoreCase{Files: maps.Clone(c.Files), Kept: slices.Clone(c.Kept)}
}

// DefaultIgnoreCase returns the suite's own case: a [source.IgnoreFile] at
// the root and in subdirectories, and the files a snapshot keeps under
// gitignore semantics (the same files `git ls-files --others
// --exclude-standard` lists when the ignore files are named .gitignore).
// Each call returns a new copy, which the caller may change.
func DefaultIgnoreCase() IgnoreCase {
	return IgnoreCase{
		Files: map[string]string{
			".sourceignore":            "*.tmp\nignored/\n",
			"README.md":                "root readme: apps' *.md does not reach here\n",
			"local.yaml":               "root: apps' /local.yaml is anchored in apps\n",
			"secret/s.yaml":            "root: apps' secret/ applies only under apps\n",
			"a.tmp":                    "ignored by the root file\n",
			"apps/.sourceignore":       "# apps\n/local.yaml\nsecret/\n*.md\n!keep.tmp\n",
			"apps/local.yaml":          "ignored: anchored pattern of apps\n",
			"apps/keep.tmp":            "kept: the deeper negation wins over the root's *.tmp\n",
			"apps/x.tmp":               "ignored by the root file\n",
			"apps/api/local.yaml":      "kept: /local.yaml is anchored to apps/ itself\n",
			"apps/api/NOTES.md":        "ignored: apps' *.md applies in every subdirectory\n",
			"apps/api/deploy.yaml":     "kept\n",
			"apps/secret/s.yaml":       "ignored: the directory is\n",
			"apps/web/.sourceignore":   "!NOTES.md\ndeploy.yaml\n",
			"apps/web/NOTES.md":        "kept: web's negation wins over apps' *.md\n",
			"apps/web/deploy.yaml":     "ignored by web's file\n",
			"apps/web/svc/deploy.yaml": "ignored: web's pattern applies below web too\n",
			"ignored/.sourceignore":    "!*\n",
			"ignored/x.yaml":           "ignored: a file cannot come back from an ignored directory\n",
		},
		Kept: []string{
			".sourceignore", "README.md", "local.yaml", "secret/s.yaml",
			"apps/.sourceignore", "apps/keep.tmp", "apps/api/local.yaml", "apps/api/deploy.yaml",
			"apps/web/.sourceignore", "apps/web/NOTES.md",
		},
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		if !strings.HasSuffix(k, "/") {
			out = append(out, k)
		}
	}
	return out
}
