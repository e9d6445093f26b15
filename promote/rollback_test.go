package promote_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	gitobject "github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/promote"
)

const (
	prodV1 = "images:\n  - name: web\n    newTag: 1.0.0 # prod\n"
	prodV2 = "images:\n  - name: web\n    newTag: 1.1.0 # prod\n"
)

// TestRevertAndRestore: a promotion commit is undone by an edit that the
// real git agrees with (git revert gives the same tree), a later change
// to the same file is a conflict, and Restore puts a directory back as
// it was at a revision.
func TestRevertAndRestore(t *testing.T) {
	ctx := context.Background()
	repo := gittest.NewServer(t).NewRepo(t, "deploy")
	first := repo.Commit(t, "prod at 1.0.0", map[string]string{"prod/kustomization.yaml": prodV1, "staging/kustomization.yaml": prodV1})
	promotion := repo.Commit(t, "promote web 1.1.0 to prod", map[string]string{"prod/kustomization.yaml": prodV2})

	r, err := git.PlainOpen(repo.Work)
	require.NoError(t, err)
	found, err := promote.FindCommit(r, "HEAD", 100, func(c *gitobject.Commit) bool { return strings.HasPrefix(c.Message, "promote web") })
	require.NoError(t, err)
	assert.Equal(t, promotion, found.Hash.String())

	edit, err := promote.Revert(r, promotion)
	require.NoError(t, err)
	res, err := edit.Apply(ctx, os.DirFS(repo.Work))
	require.NoError(t, err)
	require.Equal(t, []string{"prod/kustomization.yaml"}, res.Paths())
	assert.Equal(t, prodV1, string(res.Files[0].New))

	// The real git's revert of the same commit leaves the same bytes.
	_, err = gittest.Git(repo.Work, "revert", "--no-edit", promotion)
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(repo.Work, "prod", "kustomization.yaml"))
	require.NoError(t, err)
	assert.Equal(t, string(res.Files[0].New), string(data))

	// Now the file is as before the promotion: reverting it again is a
	// conflict, as is reverting after a later change.
	_, err = edit.Apply(ctx, os.DirFS(repo.Work))
	require.ErrorIs(t, err, promote.ErrConflict)
	assert.ErrorContains(t, err, "prod/kustomization.yaml: changed again since")

	restore, err := promote.Restore(r, promotion, "prod")
	require.NoError(t, err)
	res, err = restore.Apply(ctx, os.DirFS(repo.Work))
	require.NoError(t, err)
	require.Equal(t, []string{"prod/kustomization.yaml"}, res.Paths())
	assert.Equal(t, prodV2, string(res.Files[0].New))

	// Bad input: merges, adds, bad revisions, paths outside.
	added := repo.Commit(t, "add a file", map[string]string{"prod/hpa.yaml": "kind: HorizontalPodAutoscaler\n"})
	r, err = git.PlainOpen(repo.Work)
	require.NoError(t, err)
	_, err = promote.Revert(r, added)
	assert.ErrorContains(t, err, "it adds, deletes or renames prod/hpa.yaml")
	restore, err = promote.Restore(r, first, "prod")
	require.NoError(t, err)
	_, err = restore.Apply(ctx, os.DirFS(repo.Work))
	assert.ErrorContains(t, err, "prod/hpa.yaml is not in "+first[:12]+": a rollback does not delete files")
	for _, rev := range []string{"", "-f", "main;rm", "a\nb", "no-such-ref"} {
		_, err := promote.Revert(r, rev)
		assert.Error(t, err, rev)
	}
	_, err = promote.Restore(r, first, "../x")
	assert.ErrorContains(t, err, "is not a directory inside the repository")
}
