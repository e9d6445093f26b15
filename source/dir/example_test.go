package dir_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/converge-dev/converge/source/dir"
)

func Example() {
	root, _ := os.MkdirTemp("", "deploy")
	defer os.RemoveAll(root)
	_ = os.MkdirAll(filepath.Join(root, "apps"), 0o755)
	_ = os.WriteFile(filepath.Join(root, "apps", "api.yaml"), []byte("kind: Deployment\n"), 0o644)
	_ = os.WriteFile(filepath.Join(root, "NOTES.md"), []byte("draft\n"), 0o644)

	ctx := context.Background()
	src := dir.New(root, dir.WithIgnore("*.md"))
	snap, err := src.Fetch(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	data, _ := fs.ReadFile(snap.FS, "apps/api.yaml")
	fmt.Println(strings.HasPrefix(snap.Revision, "sha256:"), snap.Files)
	fmt.Print(string(data))
	// Output:
	// true 1
	// kind: Deployment
}
