package check

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

func mapFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for p, c := range files {
		fsys[p] = &fstest.MapFile{Data: []byte(c)}
	}
	return fsys
}

// findings runs rules over files and returns "rule file:line" strings.
func findings(t *testing.T, files map[string]string, rules ...Rule) []string {
	t.Helper()
	rep, err := Run(context.Background(), NewTarget(mapFS(files), "test", DefaultLimits()), rules, DefaultOptions())
	require.NoError(t, err)
	out := []string{}
	for _, f := range rep.Findings() {
		out = append(out, f.Rule+" "+f.Location.String())
	}
	return out
}
