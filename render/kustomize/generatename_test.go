package kustomize_test

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/kustomize"
)

const generateNameJob = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: migrate-\n  annotations:\n" +
	"    argocd.argoproj.io/hook: PreSync\n    note: TOP-SECRET\nspec: {}\n"

// TestGenerateNameRefused: an object with generateName and no name fails
// with converge's own error, naming the file and the kind, instead of
// kustomize's "missing metadata.name in object ...: file is not directory",
// which also prints the object's annotations (issue 19).
func TestGenerateNameRefused(t *testing.T) {
	tests := map[string]struct {
		fsys tree
		dir  string
		file string
	}{
		"listed in a kustomization": {
			fsys: tree{"app/kustomization.yaml": "resources:\n- cm.yaml\n- hooks/migrate.yaml\n", "app/cm.yaml": cm, "app/hooks/migrate.yaml": generateNameJob},
			dir:  "app", file: "app/hooks/migrate.yaml",
		},
		"in a base": {
			fsys: tree{"app/kustomization.yaml": "resources:\n- ../base\n", "base/kustomization.yaml": "resources:\n- ./job.yaml\n", "base/job.yaml": generateNameJob},
			dir:  "app", file: "base/job.yaml",
		},
		"in a directory without a kustomization": {
			fsys: tree{"app/cm.yaml": cm, "app/job.yaml": cm + "---\n" + generateNameJob},
			dir:  "app", file: "app/job.yaml",
		},
		"in a List": {
			fsys: tree{"app/kustomization.yaml": "resources:\n- list.yaml\n",
				"app/list.yaml": "apiVersion: v1\nkind: List\nitems:\n- apiVersion: batch/v1\n  kind: Job\n  metadata:\n    generateName: migrate-\n"},
			dir: "app", file: "app/list.yaml",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := kustomize.New().Render(context.Background(), tc.fsys.mapFS(), tc.dir, render.DefaultOptions())
			require.ErrorIs(t, err, object.ErrGenerateName)
			var ge *object.GenerateNameError
			require.ErrorAs(t, err, &ge)
			assert.Equal(t, object.GenerateNameError{Kind: "Job", GenerateName: "migrate-"}, *ge)
			assert.Equal(t, "render "+tc.file+`: Job with generateName "migrate-" and no name: generateName is not supported (converge tracks every object by its name)`, err.Error())
			assert.NotContains(t, err.Error(), "TOP-SECRET")
		})
	}

	t.Run("generateName beside a name is fine", func(t *testing.T) {
		job := "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  generateName: migrate-\n"
		set, err := kustomize.New().Render(context.Background(), tree{"app/kustomization.yaml": "resources:\n- job.yaml\n", "app/job.yaml": job}.mapFS(), "app", render.DefaultOptions())
		require.NoError(t, err)
		assert.Equal(t, []string{"Job.batch/migrate"}, ids(set))
	})

	t.Run("generateName in generator input is data", func(t *testing.T) {
		set, err := kustomize.New().Render(context.Background(), tree{
			"app/kustomization.yaml": "configMapGenerator:\n- name: templates\n  files:\n  - job.yaml\n",
			"app/job.yaml":           generateNameJob,
		}.mapFS(), "app", render.DefaultOptions())
		require.NoError(t, err, "a file a generator reads is not a resource")
		assert.Equal(t, 1, set.Len())
	})
}

// tree is a file tree by path and content.
type tree map[string]string

func (f tree) mapFS() fstest.MapFS {
	m := fstest.MapFS{}
	for p, c := range f {
		m[p] = kfile(c)
	}
	return m
}
