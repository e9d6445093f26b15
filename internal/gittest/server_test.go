package gittest_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/gittest"
)

// TestCloneAtTag clones from the real smart-HTTP server with go-git and
// reads a file as it was at a tag, after main has moved on.
func TestCloneAtTag(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "deploy")
	tagged := repo.Commit(t, "v1", map[string]string{"apps/api/image.txt": "api:1.0.0\n"})
	repo.Tag(t, "v1.0.0", "release 1.0.0")
	repo.Commit(t, "v2", map[string]string{"apps/api/image.txt": "api:2.0.0\n"})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{
		URL:           repo.URL,
		ReferenceName: plumbing.NewTagReferenceName("v1.0.0"),
		SingleBranch:  true,
		Depth:         1,
		Tags:          git.NoTags,
	})
	require.NoError(t, err)
	head, err := r.Head()
	require.NoError(t, err)
	// An annotated tag peels to the commit it tags.
	commit, err := r.CommitObject(head.Hash())
	if err != nil {
		tag, terr := r.TagObject(head.Hash())
		require.NoError(t, terr)
		commit, err = tag.Commit()
	}
	require.NoError(t, err)
	assert.Equal(t, tagged, commit.Hash.String())

	file, err := commit.File("apps/api/image.txt")
	require.NoError(t, err)
	rd, err := file.Reader()
	require.NoError(t, err)
	defer rd.Close()
	content, err := io.ReadAll(rd)
	require.NoError(t, err)
	assert.Equal(t, "api:1.0.0\n", string(content))
}

func TestBasicAuth(t *testing.T) {
	srv := gittest.NewServer(t, gittest.WithBasicAuth("alice", "s3cret"))
	repo := srv.NewRepo(t, "private")
	repo.Commit(t, "first", map[string]string{"a.txt": "a"})

	_, err := git.Clone(memory.NewStorage(), nil, &git.CloneOptions{URL: repo.URL})
	assert.ErrorIs(t, err, transport.ErrAuthenticationRequired)

	_, err = git.Clone(memory.NewStorage(), nil, &git.CloneOptions{
		URL:  repo.URL,
		Auth: &githttp.BasicAuth{Username: "alice", Password: "s3cret"},
	})
	assert.NoError(t, err)
	assert.Greater(t, srv.Requests(), int64(2))
}

func TestForcePushRewritesHistory(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "rewrite")
	first := repo.Commit(t, "first", map[string]string{"a.txt": "1"})
	second := repo.Commit(t, "second", map[string]string{"a.txt": "2"})
	require.NotEqual(t, first, second)

	repo.ForcePush(t, first)

	remote, err := gittest.Git(repo.Bare, "rev-parse", "refs/heads/main")
	require.NoError(t, err)
	assert.Equal(t, first, remote)
}
