package git_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/source"
	"github.com/converge-dev/converge/source/git"
	"github.com/converge-dev/converge/source/sourcetest"
)

// TestNestedIgnoreAgreesWithGit checks the conformance suite's expectation
// for ignore files in subdirectories against the git CLI: with the files
// named .gitignore, git lists exactly the files a snapshot keeps.
func TestNestedIgnoreAgreesWithGit(t *testing.T) {
	work := t.TempDir()
	rename := func(p string) string {
		if d, f := filepath.Split(p); f == source.IgnoreFile {
			return d + ".gitignore"
		}
		return p
	}
	ignore := sourcetest.DefaultIgnoreCase()
	for p, c := range ignore.Files {
		full := filepath.Join(work, filepath.FromSlash(rename(p)))
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, []byte(c), 0o644))
	}
	_, err := gittest.Git(work, "init", "--quiet")
	require.NoError(t, err)
	out, err := gittest.Git(work, "ls-files", "--others", "--exclude-standard")
	require.NoError(t, err)
	got := strings.Split(out, "\n")
	var want []string
	for _, p := range ignore.Kept {
		want = append(want, rename(p))
	}
	sort.Strings(got)
	sort.Strings(want)
	assert.Equal(t, want, got)
}

// TestIgnoreFileEdgeCases: an ignore file that is a symbolic link or a
// directory is not read; one over the size bound fails the fetch.
func TestIgnoreFileEdgeCases(t *testing.T) {
	srv := gittest.NewServer(t)

	t.Run("link and directory named like the ignore file", func(t *testing.T) {
		repo := srv.NewRepo(t, "ignore-links")
		repo.Commit(t, "files", map[string]string{
			"apps/rules":               "*\n",
			"apps/a.yaml":              "a",
			"web/.sourceignore/x.yaml": "x",
			"web/w.yaml":               "w",
		})
		require.NoError(t, os.Symlink("rules", filepath.Join(repo.Work, "apps", ".sourceignore")))
		repo.Commit(t, "link", nil)
		snap, err := newSource(t, repo.URL, git.Reference{}).Fetch(ctx(t))
		require.NoError(t, err)
		assert.Equal(t, "a", read(t, snap, "apps/a.yaml"), "a linked ignore file is not applied")
		assert.Equal(t, "w", read(t, snap, "web/w.yaml"))
		assert.Equal(t, "x", read(t, snap, "web/.sourceignore/x.yaml"))
	})

	t.Run("oversized ignore file in a subdirectory", func(t *testing.T) {
		repo := srv.NewRepo(t, "ignore-big")
		repo.Commit(t, "files", map[string]string{
			"apps/.sourceignore": strings.Repeat("# padding\n", source.MaxIgnoreFileBytes/10+1),
			"apps/a.yaml":        "a",
		})
		snap, err := newSource(t, repo.URL, git.Reference{}).Fetch(ctx(t))
		require.ErrorIs(t, err, source.ErrLimit)
		assert.Nil(t, snap)
		assert.Contains(t, err.Error(), "apps/.sourceignore")
	})

	t.Run("ignored directory's ignore file is never read", func(t *testing.T) {
		repo := srv.NewRepo(t, "ignore-skip")
		repo.Commit(t, "files", map[string]string{
			".sourceignore":        "vendor/\n",
			"vendor/.sourceignore": strings.Repeat("# padding\n", source.MaxIgnoreFileBytes/10+1),
			"a.yaml":               "a",
		})
		snap, err := newSource(t, repo.URL, git.Reference{}).Fetch(ctx(t))
		require.NoError(t, err)
		_, err = fs.Stat(snap.FS, "vendor")
		assert.ErrorIs(t, err, fs.ErrNotExist)
	})
}
