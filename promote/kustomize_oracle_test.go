package promote

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/converge-dev/converge/internal/peers"
)

var kustomizePath = sync.OnceValues(func() (string, error) { return peers.CLI("kustomize") })

// TestSetImageMatchesKustomize runs `kustomize edit set image` (the CLI at
// kustomize v5.8.2, built by hack/peers/build.sh) on a copy of the
// fixture, and SetImage on another, and wants the same images: list (as
// data; kustomize rewrites the file sorted, SetImage keeps it) and the
// same `kustomize build` output.
func TestSetImageMatchesKustomize(t *testing.T) {
	bin, err := kustomizePath()
	require.NoError(t, err)
	for name, args := range map[string][]string{
		"tag clears digest":   {"web:1.2.3"},
		"digest clears tag":   {"worker@sha256:2222222222222222222222222222222222222222222222222222222222222222"},
		"first key removed":   {"api:1.10"},
		"flow entry":          {"db:2"},
		"new entry":           {"cache=redis:7"},
		"preserve":            {"web=*:9@*"},
		"preserve missing":    {"cache=*:*@sha256:2222222222222222222222222222222222222222222222222222222222222222"},
		"rename tag digest":   {"web=registry.example/web:2@sha256:3333333333333333333333333333333333333333333333333333333333333333"},
		"rename only":         {"api=ghcr.io/acme/api"},
		"tag and digest":      {"db:3@sha256:4444444444444444444444444444444444444444444444444444444444444444"},
		"several":             {"web:1.2.3", "api=ghcr.io/acme/api:2.0.0", "cache:7"},
		"numeric-looking tag": {"worker:1.10", "cache:007"},
	} {
		t.Run(name, func(t *testing.T) {
			theirs, ours := copyFixture(t), copyFixture(t)
			cmd := exec.Command(bin, append([]string{"edit", "set", "image"}, args...)...)
			cmd.Dir = theirs
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)

			var imgs []Image
			for _, a := range args {
				imgs = append(imgs, mustImage(t, a))
			}
			d, err := OpenDir(ours)
			require.NoError(t, err)
			defer d.Close()
			res, err := SetImage{File: ".", Images: imgs}.Apply(context.Background(), d)
			require.NoError(t, err)
			require.NoError(t, res.Write(d))

			assert.Equal(t, imagesOf(t, theirs), imagesOf(t, ours))
			assert.Equal(t, build(t, bin, theirs), build(t, bin, ours))
		})
	}
}

func copyFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"kustomization.yaml", "deployment.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", "setimage", f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), data, 0o644))
	}
	return dir
}

// imagesOf reads a kustomization's images, sorted by name, as kustomize
// types.
func imagesOf(t *testing.T, dir string) []types.Image {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	require.NoError(t, err)
	var k types.Kustomization
	require.NoError(t, yaml.UnmarshalStrict(data, &k))
	sort.SliceStable(k.Images, func(i, j int) bool { return k.Images[i].Name < k.Images[j].Name })
	return k.Images
}

func build(t *testing.T, bin, dir string) string {
	t.Helper()
	out, err := exec.Command(bin, "build", dir).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return string(out)
}
