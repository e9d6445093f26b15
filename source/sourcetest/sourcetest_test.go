package sourcetest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/source/dir"
	"github.com/converge-dev/converge/source/sourcetest"
)

// TestDefaultIgnoreCaseIsACopy: the suite's fixture cannot be changed
// behind its back (issue 19: it was a mutable package variable).
func TestDefaultIgnoreCaseIsACopy(t *testing.T) {
	a := sourcetest.DefaultIgnoreCase()
	require.NotEmpty(t, a.Files)
	require.NotEmpty(t, a.Kept)
	a.Files["apps/api/deploy.yaml"] = "changed"
	delete(a.Files, ".sourceignore")
	a.Kept[0] = "changed"
	b := sourcetest.DefaultIgnoreCase()
	assert.Equal(t, "kept\n", b.Files["apps/api/deploy.yaml"])
	assert.Contains(t, b.Files, ".sourceignore")
	assert.Equal(t, ".sourceignore", b.Kept[0])
}

// TestWithIgnoreCase runs the suite on package dir with a case of its own:
// that case, not the default, is what the harness is asked to write, and
// changing it after the option is made changes nothing.
func TestWithIgnoreCase(t *testing.T) {
	own := sourcetest.IgnoreCase{
		Files: map[string]string{
			".sourceignore":      "*.bak\n",
			"own-marker.yaml":    "kept\n",
			"apps/a.yaml.bak":    "ignored\n",
			"apps/a.yaml":        "kept\n",
			"apps/.sourceignore": "!keep.bak\n",
			"apps/keep.bak":      "kept: negated below\n",
		},
		Kept: []string{".sourceignore", "own-marker.yaml", "apps/a.yaml", "apps/.sourceignore", "apps/keep.bak"},
	}
	opt := sourcetest.WithIgnoreCase(own)
	own.Files["late.yaml"] = "added after the option: must not be written"
	own.Kept = append(own.Kept, "late.yaml")

	var written []string
	sourcetest.Run(t, func(t *testing.T) sourcetest.Harness {
		root := t.TempDir()
		return sourcetest.Harness{
			Source: dir.New(root),
			Write: func(t testing.TB, files map[string]string) {
				for p, c := range files {
					written = append(written, p)
					full := filepath.Join(root, filepath.FromSlash(p))
					if c == "" {
						require.NoError(t, os.Remove(full))
						continue
					}
					require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
					require.NoError(t, os.WriteFile(full, []byte(c), 0o644))
				}
			},
		}
	}, opt)
	all := strings.Join(written, " ")
	assert.Contains(t, all, "own-marker.yaml", "the case given was run")
	assert.NotContains(t, all, "late.yaml")
	assert.NotContains(t, all, "apps/web/NOTES.md", "the default case was not run")
}
