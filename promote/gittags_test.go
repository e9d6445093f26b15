package promote_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/promote"
)

// TestGitTags lists a real Git server's tags with one ref listing:
// annotated ones peeled to their commits, odd names skipped, exclusions
// applied, and a policy picks from them.
func TestGitTags(t *testing.T) {
	srv := gittest.NewServer(t, gittest.WithBasicAuth("ci", "git-s3cret-pass"))
	repo := srv.NewRepo(t, "app")
	first := repo.Commit(t, "one", map[string]string{"a": "1"})
	repo.Tag(t, "v1.0.0", "release 1.0.0") // annotated
	second := repo.Commit(t, "two", map[string]string{"a": "2"})
	repo.Tag(t, "v1.1.0", "") // lightweight
	repo.Tag(t, "v2.0.0-rc.1", "")
	repo.Tag(t, `v1.2.0"quote`, "")
	repo.Tag(t, "v1.3.0{yaml}", "")
	repo.Tag(t, "nightly-"+strings.Repeat("x", 200), "")

	src, err := promote.NewGitTags(repo.URL, promote.GitTagsOptions{Username: "ci", Password: "git-s3cret-pass", Exclusions: []string{`^nightly-`}})
	require.NoError(t, err)
	tags, err := src.Tags(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"v1.0.0", "v1.1.0", "v2.0.0-rc.1"}, tags)
	assert.Equal(t, 2, src.Skipped(), "the quote and the YAML syntax")
	c, err := src.Commit("v1.0.0")
	require.NoError(t, err)
	assert.Equal(t, first, c, "an annotated tag is peeled to its commit")
	c, err = src.Commit("v1.1.0")
	require.NoError(t, err)
	assert.Equal(t, second, c)
	_, err = src.Commit("v9")
	assert.ErrorIs(t, err, promote.ErrNotFound)

	tag, err := promote.Policy{Kind: promote.SemVer, Range: "^1"}.Latest(tags)
	require.NoError(t, err)
	assert.Equal(t, "v1.1.0", tag)

	// Wrong credentials, no repository, bounds; no error shows a secret.
	bad, err := promote.NewGitTags(repo.URL, promote.GitTagsOptions{Username: "ci", Password: "wrong-pass-123"})
	require.NoError(t, err)
	_, err = bad.Tags(context.Background())
	require.ErrorIs(t, err, promote.ErrUnauthorized)
	assert.NotContains(t, err.Error(), "wrong-pass-123")
	missing, err := promote.NewGitTags(strings.Replace(repo.URL, "app.git", "nope.git", 1), promote.GitTagsOptions{Username: "ci", Password: "git-s3cret-pass"})
	require.NoError(t, err)
	_, err = missing.Tags(context.Background())
	assert.Error(t, err)
	few, err := promote.NewGitTags(repo.URL, promote.GitTagsOptions{Username: "ci", Password: "git-s3cret-pass", MaxTags: 2})
	require.NoError(t, err)
	_, err = few.Tags(context.Background())
	assert.ErrorIs(t, err, promote.ErrTooManyTags)
}

func TestGitTagsBadURLs(t *testing.T) {
	for _, u := range []string{"", "not a url", "ftp://example.com/x", "file:///tmp/x", "https://user:pa55word@example.com/x.git", "ssh://git@example.com/x"} {
		_, err := promote.NewGitTags(u, promote.GitTagsOptions{})
		require.Error(t, err, u)
		assert.NotContains(t, err.Error(), "pa55word")
	}
	_, err := promote.NewGitTags("https://example.com/x.git", promote.GitTagsOptions{Exclusions: []string{"("}})
	assert.ErrorContains(t, err, "exclusion pattern")
}
