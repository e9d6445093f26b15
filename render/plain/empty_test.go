package plain_test

import (
	"context"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/plain"
)

// TestDirectoryWithoutManifests: a path that holds no manifests yet, such
// as a new environment's directory with only a README or a .gitkeep,
// renders as an empty set, so that the pull request filling it can be
// previewed (issue 19). A path that does not exist is still an error.
func TestDirectoryWithoutManifests(t *testing.T) {
	tests := map[string]struct {
		fsys fs.FS
		dir  string
	}{
		".gitkeep only":           {fstest.MapFS{"envs/new/.gitkeep": file("")}, "envs/new"},
		"README only":             {fstest.MapFS{"envs/new/README.md": file("# new environment\n")}, "envs/new"},
		"empty subdirectories":    {fstest.MapFS{"envs/new/apps/.gitkeep": file(""), "envs/new/infra/.gitkeep": file("")}, "envs/new"},
		"an empty directory":      {fstest.MapFS{"envs/new": &fstest.MapFile{Mode: fs.ModeDir | 0o755}}, "envs/new"},
		"only ignored manifests":  {fstest.MapFS{"envs/new/draft.yaml": file("not: an object\n"), "envs/new/.sourceignore": file("*\n")}, "envs/new"},
		"root of an empty source": {fstest.MapFS{"README.md": file("# deploy\n")}, "."},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opts := render.DefaultOptions()
			opts.Ignore = []string{"draft.yaml"}
			set, err := plain.New().Render(context.Background(), tc.fsys, tc.dir, opts)
			require.NoError(t, err)
			require.NotNil(t, set)
			assert.Equal(t, 0, set.Len())
		})
	}

	t.Run("a missing path is an error", func(t *testing.T) {
		_, err := plain.New().Render(context.Background(), fstest.MapFS{"envs/dev/a.yaml": file(cm("a"))}, "envs/new", render.DefaultOptions())
		require.ErrorIs(t, err, fs.ErrNotExist)
		assert.Contains(t, err.Error(), "envs/new")
	})
}

// TestGenerateNameRefused: converge needs a name on every object; a hook
// written with generateName fails with converge's own error naming the
// file and the kind (issue 19).
func TestGenerateNameRefused(t *testing.T) {
	fsys := fstest.MapFS{
		"app/cm.yaml": file(cm("a")),
		"app/hooks/migrate.yaml": file("apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: migrate-\n  annotations:\n" +
			"    argocd.argoproj.io/hook: PreSync\n    note: TOP-SECRET\nspec: {}\n"),
	}
	_, err := plain.New().Render(context.Background(), fsys, "app", render.DefaultOptions())
	require.ErrorIs(t, err, object.ErrGenerateName)
	var ge *object.GenerateNameError
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, "Job", ge.Kind)
	assert.Equal(t, `render app/hooks/migrate.yaml: Job with generateName "migrate-" and no name: generateName is not supported (converge tracks every object by its name)`, err.Error())
	assert.NotContains(t, err.Error(), "TOP-SECRET")
}
