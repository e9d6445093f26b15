package cli

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/examples/internal/quiet"
	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/internal/testenv"
)

// env is the living control plane every test of the package shares.
var env *testenv.Env

func TestMain(m *testing.M) {
	quiet.Loggers()
	testenv.Main(m, testenv.Options{Mode: testenv.Living}, &env)
}

// result is one run of the converge command.
type result struct {
	code           int
	stdout, stderr string
}

// converge runs the command in-process, as cmd/converge does.
func converge(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := Main(ctx, args, &stdout, &stderr)
	r := result{code: code, stdout: stdout.String(), stderr: stderr.String()}
	t.Logf("converge %s\nexit %d\n--- stdout\n%s--- stderr\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	return r
}

// exampleFiles reads examples/gitops-deploy as path → content.
func exampleFiles(t *testing.T) map[string]string {
	t.Helper()
	root := filepath.Join("..", "..", "gitops-deploy")
	files := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = string(data)
		return err
	})
	require.NoError(t, err)
	require.Contains(t, files, "clusters/dev/kustomization.yaml")
	return files
}

// exampleRepo serves examples/gitops-deploy over Git's smart HTTP protocol
// and returns the repository with its first commit.
func exampleRepo(t *testing.T) (*gittest.Repo, string) {
	t.Helper()
	repo := gittest.NewServer(t).NewRepo(t, "gitops-deploy")
	return repo, repo.Commit(t, "gitops-deploy as in examples/", exampleFiles(t))
}

// edit returns the content of path in the repository's work tree with old
// replaced by new, failing when old is not there.
func edit(t *testing.T, repo *gittest.Repo, path, old, new string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repo.Work, filepath.FromSlash(path)))
	require.NoError(t, err)
	require.Contains(t, string(data), old, "%s", path)
	return map[string]string{path: strings.Replace(string(data), old, new, 1)}
}

// requireOneLine checks the contract for failures: nothing on stdout and
// one line on stderr, naming the command.
func requireOneLine(t *testing.T, r result, prefix string) {
	t.Helper()
	require.Empty(t, r.stdout, "a failure prints nothing on stdout")
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	require.Len(t, lines, 1, "a failure is one line on stderr: %q", r.stderr)
	require.True(t, strings.HasPrefix(lines[0], prefix), "%q starts with %q", lines[0], prefix)
	require.NotContains(t, r.stderr, "goroutine ")
	require.NotContains(t, r.stderr, "panic")
}

// writeFile writes content at the slash-separated path rel under dir.
func writeFile(t *testing.T, dir, rel, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
}

// mergeFiles merges edits into one commit's files.
func mergeFiles(edits ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, e := range edits {
		for k, v := range e {
			out[k] = v
		}
	}
	return out
}

func toObj(m map[string]any) *unstructured.Unstructured { return &unstructured.Unstructured{Object: m} }
