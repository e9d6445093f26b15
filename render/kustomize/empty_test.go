package kustomize_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/kustomize"
	"github.com/converge-dev/converge/render/kustomize/kustomizetest"
)

// TestDirectoryWithoutManifests: a directory with no kustomization file
// and no manifests (a new environment's README or .gitkeep) renders as an
// empty set, as in Flux, with or without host overrides, and Build prints
// what the kustomize CLI prints for "resources: []": nothing (issue 19).
func TestDirectoryWithoutManifests(t *testing.T) {
	cli, err := kustomizetest.CLI()
	require.NoError(t, err)
	ctx := context.Background()
	listed := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(listed, "kustomization.yaml"), []byte("resources: []\n"), 0o644))
	want, err := kustomizetest.Build(ctx, cli, listed)
	require.NoError(t, err)

	tests := map[string]fs.FS{
		".gitkeep":             fstest.MapFS{"envs/new/.gitkeep": kfile("")},
		"README":               fstest.MapFS{"envs/new/README.md": kfile("# new environment\n")},
		"empty subdirectories": fstest.MapFS{"envs/new/apps/.gitkeep": kfile(""), "envs/new/infra/README.md": kfile("")},
		"ignored manifests":    fstest.MapFS{"envs/new/draft.yaml": kfile(cm)},
	}
	for name, fsys := range tests {
		t.Run(name, func(t *testing.T) {
			opts := render.DefaultOptions()
			opts.Ignore = []string{"draft.yaml"}
			set, err := kustomize.New().Render(ctx, fsys, "envs/new", opts)
			require.NoError(t, err)
			assert.Equal(t, 0, set.Len())

			got, err := kustomize.New().Build(ctx, fsys, "envs/new", opts)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got))

			opts.Namespace = "new"
			opts.CommonLabels = map[string]string{"env": "new"}
			set, err = kustomize.New().Render(ctx, fsys, "envs/new", opts)
			require.NoError(t, err, "host overrides over an empty directory")
			assert.Equal(t, 0, set.Len())
		})
	}

	t.Run("as a base of an overlay", func(t *testing.T) {
		fsys := fstest.MapFS{
			"envs/new/.gitkeep":          kfile(""),
			"overlay/kustomization.yaml": kfile("resources:\n- ../envs/new\n- cm.yaml\n"),
			"overlay/cm.yaml":            kfile(cm),
		}
		set, err := kustomize.New().Render(ctx, fsys, "overlay", render.DefaultOptions())
		require.Error(t, err, "kustomize needs a kustomization in a base, as the CLI does")
		assert.Nil(t, set)
		assert.Contains(t, err.Error(), "envs/new")
	})
}

// TestEmptyKustomization: a kustomization file that declares nothing is
// refused, as the kustomize CLI refuses it, but the error names the file
// by its own name and says what to do, instead of kustomize's
// "kustomization.yaml is empty".
func TestEmptyKustomization(t *testing.T) {
	cli, err := kustomizetest.CLI()
	require.NoError(t, err)
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		for content, what := range map[string]string{
			"":                     "blank",
			"# nothing here yet\n": "comments only",
			"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n": "type only",
			"apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n":    "empty component",
		} {
			t.Run(name+" "+what, func(t *testing.T) {
				root := t.TempDir()
				require.NoError(t, os.MkdirAll(filepath.Join(root, "envs", "new"), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(root, "envs", "new", name), []byte(content), 0o644))
				_, cliErr := kustomizetest.Build(context.Background(), cli, filepath.Join(root, "envs", "new"))
				require.Error(t, cliErr, "the CLI refuses it too")

				_, err := kustomize.New().Render(context.Background(), os.DirFS(root), "envs/new", render.DefaultOptions())
				require.Error(t, err)
				assert.Contains(t, err.Error(), "render envs/new/"+name+": the kustomization declares nothing")
				assert.NotContains(t, err.Error(), "kustomization.yaml is empty")
			})
		}
	}

	t.Run("an empty base names the base's file", func(t *testing.T) {
		fsys := fstest.MapFS{
			"app/kustomization.yaml":  kfile("resources:\n- ../base\n"),
			"base/kustomization.yml":  kfile("kind: Kustomization\n"),
			"base/unused-config.yaml": kfile(cm),
		}
		_, err := kustomize.New().Render(context.Background(), fsys, "app", render.DefaultOptions())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "render base/kustomization.yml: the kustomization declares nothing")
	})

	t.Run("resources: [] renders nothing, as in the CLI", func(t *testing.T) {
		set, err := kustomize.New().Render(context.Background(), fstest.MapFS{"a/kustomization.yaml": kfile("resources: []\n")}, "a", render.DefaultOptions())
		require.NoError(t, err)
		assert.Equal(t, 0, set.Len())
	})
}
