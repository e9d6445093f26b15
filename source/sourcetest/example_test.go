package sourcetest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/converge-dev/converge/source/dir"
	"github.com/converge-dev/converge/source/sourcetest"
)

// The suite run against source/dir, as the package overview runs it
// against a host's own implementation. (Compiled, not run: it is a test.)
func Example() {
	testConformance := func(t *testing.T) {
		sourcetest.Run(t, func(t *testing.T) sourcetest.Harness {
			root := t.TempDir()
			return sourcetest.Harness{
				Source: dir.New(root),
				Write: func(t testing.TB, files map[string]string) {
					for p, content := range files {
						full := filepath.Join(root, filepath.FromSlash(p))
						if content == "" {
							_ = os.Remove(full)
							continue
						}
						if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
							t.Fatal(err)
						}
						if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
							t.Fatal(err)
						}
					}
				},
			}
		})
	}
	_ = testConformance
}
