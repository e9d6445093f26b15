package kustomize_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/kustomize"
	"github.com/converge-dev/converge/render/kustomize/kustomizetest"
)

// Image overrides are `kustomize edit set image` on the rendered
// directory, as Argo CD runs it: an overlay that already renames the
// image gets its entry replaced, not a second transformer that no longer
// matches. The kustomize CLI is the oracle.
func TestImagesAreKustomizeEditSetImage(t *testing.T) {
	cli, err := kustomizetest.CLI()
	require.NoError(t, err)
	files := map[string]string{
		"base/deployment.yaml":       "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: backend\nspec:\n  template:\n    spec:\n      containers:\n      - name: backend\n        image: backend\n      - name: proxy\n        image: envoy:1.0@sha256:" + sha + "\n      - name: sidecar\n        image: sidecar:1.0\n",
		"base/kustomization.yaml":    "resources:\n- deployment.yaml\n",
		"overlay/kustomization.yaml": "resources:\n- ../base\nimages:\n- name: backend\n  newName: ghcr.io/myorg/backend\n  newTag: v1.0.0\n- name: envoy\n  digest: sha256:" + sha + "\n",
	}
	for name, tc := range map[string]struct {
		images []render.Image
		args   []string
	}{
		"an entry of the same name is replaced": {[]render.Image{{Name: "backend", NewName: "ghcr.io/myorg/backend", NewTag: "v1.2.3"}}, []string{"backend=ghcr.io/myorg/backend:v1.2.3"}},
		"a tag replaces a digest":               {[]render.Image{{Name: "envoy", NewTag: "1.1"}}, []string{"envoy:1.1"}},
		"a new name is appended":                {[]render.Image{{Name: "sidecar", NewTag: "2.0"}}, []string{"sidecar:2.0"}},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for p, content := range files {
				require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644))
			}
			opts := render.DefaultOptions()
			opts.Images = tc.images
			got, err := kustomize.New().Build(context.Background(), os.DirFS(dir), "overlay", opts)
			require.NoError(t, err)

			edit := exec.Command(cli, append([]string{"edit", "set", "image"}, tc.args...)...)
			edit.Dir = filepath.Join(dir, "overlay")
			out, err := edit.CombinedOutput()
			require.NoError(t, err, "%s", out)
			want, err := kustomizetest.Build(context.Background(), cli, filepath.Join(dir, "overlay"))
			require.NoError(t, err)
			require.Equal(t, string(want), string(got))
		})
	}
}

const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
