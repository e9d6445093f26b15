package check

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSeverity(t *testing.T) {
	for _, s := range []Severity{SeverityInfo, SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical} {
		got, err := ParseSeverity(strings.ToUpper(s.String()))
		require.NoError(t, err)
		assert.Equal(t, s, got)
	}
	_, err := ParseSeverity("severe")
	assert.Error(t, err)
	assert.Equal(t, "unset", Severity(0).String())
}

func TestRunOptionsAndScores(t *testing.T) {
	files := map[string]string{
		"d.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: nginx}]\n" +
			"---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: b\n  annotations: {check.converge.dev/disable: image-latest}\nspec:\n  template:\n    spec:\n      containers: [{name: b, image: nginx}]\n",
	}
	host := NewRule(Meta{ID: "host-rule", Title: "a host's rule", Severity: SeverityLow, Section: "Host section"},
		func(ctx context.Context, t *Target) ([]Finding, error) {
			return []Finding{{Message: "one"}, {Message: "two", Severity: SeverityCritical}}, errors.New("half done")
		})
	tgt := NewTarget(mapFS(files), "abc", DefaultLimits())
	rep, err := Run(context.Background(), tgt, []Rule{ImageTags(), host}, DefaultOptions())
	require.NoError(t, err)
	require.Len(t, rep.Sections, 2)
	assert.Equal(t, 1, rep.Suppressed, "the annotation on b turns image-latest off for b only")
	assert.Equal(t, 75, rep.Sections[0].Score, "one high finding")
	assert.Equal(t, []string{"host-rule", "host-rule"}, []string{rep.Sections[1].Findings[0].Rule, rep.Sections[1].Findings[1].Rule})
	assert.Equal(t, 100-50-5, rep.Sections[1].Score)
	assert.Contains(t, rep.Notes, "rule host-rule did not finish: half done")
	assert.True(t, rep.Fails(SeverityCritical))

	rep, err = Run(context.Background(), tgt, []Rule{ImageTags(), host}, Options{Disabled: []string{"host-rule"}})
	require.NoError(t, err)
	assert.Len(t, rep.Rules, 1)
	assert.False(t, rep.Fails(SeverityCritical))
	assert.True(t, rep.Fails(SeverityHigh))
}

func TestBounds(t *testing.T) {
	fsys := fstest.MapFS{
		"big.yaml":               {Data: bytes.Repeat([]byte("a: b\n"), 100)},
		"bin.yaml":               {Data: []byte("apiVersion: v1\x00\x01")},
		"bad.yaml":               {Data: []byte("a: b\nc: [\n")},
		"a-tabs.yaml":            {Data: []byte("a:\n\tb: c\n")},
		"chart/Chart.yaml":       {Data: []byte("name: c\n")},
		"chart/templates/d.yaml": {Data: []byte("{{- if .Values.x }}\nkind: {{ .Values.kind }}\n{{- end }}\n")},
	}
	for i := range 5 {
		fsys["many/"+string(rune('a'+i))+".txt"] = &fstest.MapFile{Data: []byte("x")}
	}
	tgt := NewTarget(fsys, "", Limits{MaxFiles: 7, MaxFileSize: 100})
	rep, err := Run(context.Background(), tgt, []Rule{InvalidYAML()}, DefaultOptions())
	require.NoError(t, err)
	var got []string
	for _, f := range rep.Findings() {
		got = append(got, f.Location.String())
	}
	assert.Equal(t, []string{"a-tabs.yaml:2", "bad.yaml:2"}, got, "invalid YAML is a finding; a Helm template is not YAML")
	assert.Contains(t, rep.Notes, "big.yaml: skipped, 500 bytes is over the 100-byte bound")
	assert.Contains(t, rep.Notes, "1 binary files skipped")
	assert.Contains(t, rep.Notes, "2 files not read: the bound is 7 files")
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, NewTarget(mapFS(map[string]string{"a.yaml": "a: b\n"}), "", DefaultLimits()), RepositoryRules(DefaultRepositoryOptions()), DefaultOptions())
	assert.ErrorIs(t, err, context.Canceled)
}

// TestSymlinksAreNotRead: a link out of the snapshot (to a file holding a
// Secret) is never followed, and the report says it was skipped.
func TestSymlinksAreNotRead(t *testing.T) {
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret.yaml"), []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData: {password: outside-value}\n"), 0o644))
	dir := t.TempDir()
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(dir, "link.yaml")))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "linked-dir")))
	rep, err := Run(context.Background(), NewTarget(os.DirFS(dir), "", DefaultLimits()), RepositoryRules(DefaultRepositoryOptions()), DefaultOptions())
	require.NoError(t, err)
	for _, f := range rep.Findings() {
		assert.NotContains(t, f.Location.File, "link", "a finding in a linked file: %+v", f)
	}
	assert.Contains(t, strings.Join(rep.Notes, "\n"), "2 symlinks not followed")
}
