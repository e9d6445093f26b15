package kustomize_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/kustomize"
	"github.com/converge-dev/converge/render/kustomize/kustomizetest"
)

// BenchmarkRenderOverlay renders one overlay of a generated tree; the
// bench module compares whole trees with the CLI.
func BenchmarkRenderOverlay(b *testing.B) {
	dir := b.TempDir()
	topts := kustomizetest.TreeOptions{Apps: 10}
	require.NoError(b, kustomizetest.WriteTree(dir, topts))
	paths := kustomizetest.OverlayPaths(topts)
	r := kustomize.New()
	fsys := os.DirFS(dir)
	i := 0
	for b.Loop() {
		_, err := r.Render(context.Background(), fsys, paths[i%len(paths)], render.DefaultOptions())
		require.NoError(b, err)
		i++
	}
}
