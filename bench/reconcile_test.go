package main

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/kustomize"
)

func TestReconcileTreeRendersTheCountsTheLinesPrint(t *testing.T) {
	fsys := fstest.MapFS{}
	for p, content := range reconcileTree() {
		fsys[p] = &fstest.MapFile{Data: []byte(content)}
	}
	r := kustomize.New()
	count := func(path string) int {
		t.Helper()
		set, err := r.Render(context.Background(), fsys, path, render.DefaultOptions())
		require.NoError(t, err, path)
		return set.Len()
	}
	assert.Equal(t, noopObjects, count(noopPath))
	assert.Equal(t, fleetPerUnit, count(fleetPath(0)))
	assert.Equal(t, fleetPerUnit, count(fleetPath(fleetUnits-1)))
	assert.Equal(t, fleetUnits*fleetPerUnit, count(fleetAllPath))
	for _, parts := range fleetSplits {
		assert.Equal(t, fleetUnits/parts*fleetPerUnit, count(fleetSplitPath(parts, parts-1)), "split %d", parts)
	}
}
