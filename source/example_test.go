package source_test

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	"github.com/converge-dev/converge/source"
	"github.com/converge-dev/converge/source/git"
)

// A Source can be any function; the Builder gives it a confined file
// system.
func ExampleSourceFunc() {
	src := source.SourceFunc(func(ctx context.Context) (*source.Snapshot, error) {
		b := source.NewBuilder(source.DefaultLimits(), time.Time{})
		content := []byte("kind: ConfigMap\n")
		if err := b.AddFile("apps/cm.yaml", int64(len(content)), false, func() ([]byte, error) { return content, nil }); err != nil {
			return nil, err
		}
		fsys, files, size, err := b.FS()
		if err != nil {
			return nil, err
		}
		return &source.Snapshot{Revision: "static", FS: fsys, Files: files, Bytes: size}, nil
	})
	snap, err := src.Fetch(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	data, _ := fs.ReadFile(snap.FS, "apps/cm.yaml")
	_, escape := fs.ReadFile(snap.FS, "../etc/passwd")
	fmt.Print(snap.Revision, " ", snap.Files, " ", string(data))
	fmt.Println(escape != nil)
	// Output:
	// static 1 kind: ConfigMap
	// true
}

func ExampleCheckPath() {
	for _, p := range []string{"apps/api.yaml", "../secret", ".GIT/hooks/pre-commit", "git~1/config"} {
		fmt.Println(p, source.CheckPath(p) == nil)
	}
	// Output:
	// apps/api.yaml true
	// ../secret false
	// .GIT/hooks/pre-commit false
	// git~1/config false
}

// Fetch a Git repository and read a file of the snapshot, as the package
// overview does. (Compiled, not run: it needs the network.)
func Example() {
	ctx := context.Background()
	src, err := git.New("https://example.com/deploy.git", git.Reference{Branch: "main"})
	if err != nil {
		fmt.Println(err)
		return
	}
	snap, err := src.Fetch(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	data, err := fs.ReadFile(snap.FS, "apps/api/kustomization.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(snap.Revision, len(data))
}
