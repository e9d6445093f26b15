package check

import (
	"context"
	"errors"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/promote"
)

// TestMovedTags pushes a tag to a real (in-process) registry, pins it,
// pushes the tag again with another image, and checks that the rule sees
// the tag move; the digests come from promote's registry client.
func TestMovedTags(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(discard{}, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	image := host + "/shop/web"
	push := func(tag string) string {
		img, err := random.Image(256, 1)
		require.NoError(t, err)
		ref, err := name.NewTag(image+":"+tag, name.Insecure)
		require.NoError(t, err)
		require.NoError(t, remote.Write(ref, img))
		d, err := img.Digest()
		require.NoError(t, err)
		return d.String()
	}
	resolve := func(ctx context.Context, image, tag string) (string, error) {
		repo, err := promote.NewImageRepository(image, promote.WithInsecure())
		if err != nil {
			return "", err
		}
		return repo.Digest(ctx, tag)
	}
	first := push("1.4.0")
	stable := push("1.3.0")
	files := map[string]string{
		"deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n" +
			"        - {name: web, image: " + image + ":1.4.0@" + first + "}\n" +
			"        - {name: sidecar, image: " + image + ":1.3.0@" + stable + "}\n",
		"overlay/kustomization.yaml": "images:\n  - name: web\n    newName: " + image + "\n    newTag: 1.4.0\n    digest: " + first + "\n",
		"other.yaml":                 "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - {name: c, image: " + image + ":1.5.0}\n",
	}
	opts := MovedTagsOptions{Registries: []string{host}}
	assert.Equal(t, []string{}, findings(t, files, MovedTags(resolve, opts)), "nothing moved yet")

	moved := push("1.4.0") // someone re-pushes the release tag
	require.NotEqual(t, first, moved)
	assert.Equal(t, []string{"image-tag-moved deploy.yaml:8:30", "image-tag-moved overlay/kustomization.yaml:4:13"}, findings(t, files, MovedTags(resolve, opts)))

	rep, err := Run(context.Background(), NewTarget(mapFS(files), "test", DefaultLimits()), []Rule{MovedTags(resolve, opts)}, DefaultOptions())
	require.NoError(t, err)
	assert.Contains(t, rep.Findings()[0].Message, "tag 1.4.0 of "+image+" moved: it points at "+shortDigest(moved)+" now, not at "+shortDigest(first)+", which the manifest pins")

	// By tag alone, with a digest seen before.
	push("1.5.0")
	known := MovedTagsOptions{Known: map[string]string{image + ":1.5.0": first}, Registries: []string{host}}
	assert.Contains(t, findings(t, files, MovedTags(resolve, known)), "image-tag-moved other.yaml:6:24")

	// Another registry's images are not resolved; an error is a note.
	failing := func(context.Context, string, string) (string, error) { return "", errors.New("registry down") }
	assert.Equal(t, []string{}, findings(t, files, MovedTags(failing, MovedTagsOptions{Registries: []string{"ghcr.io"}})))
	rep, err = Run(context.Background(), NewTarget(mapFS(files), "test", DefaultLimits()), []Rule{MovedTags(failing, opts)}, DefaultOptions())
	require.NoError(t, err)
	assert.Empty(t, rep.Findings())
	assert.Contains(t, rep.Notes, "rule image-tag-moved: "+image+":1.4.0 not resolved: registry down")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
