package kustomizetest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/converge-dev/converge/render/kustomize/kustomizetest"
)

// A generated tree built by the pinned kustomize CLI, the oracle
// render/kustomize is compared with. (Compiled, not run: CLI may build
// kustomize first.)
func Example() {
	dir, _ := os.MkdirTemp("", "tree")
	defer os.RemoveAll(dir)

	cli, err := kustomizetest.CLI()
	if err != nil {
		fmt.Println(err)
		return
	}
	err = kustomizetest.WriteTree(dir, kustomizetest.DefaultTreeOptions())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, overlay := range kustomizetest.OverlayPaths(kustomizetest.DefaultTreeOptions()) {
		out, err := kustomizetest.Build(context.Background(), cli, filepath.Join(dir, overlay))
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(overlay, len(out))
	}
}
