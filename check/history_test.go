package check

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/gittest"
)

// plantedHistoryValue is the secret value the crafted histories commit;
// no output may hold it.
const plantedHistoryValue = "hunter2-planted-in-history"

func secretYAML(name, value string) string {
	return "apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + name + "\n  namespace: shop\nstringData:\n  password: " + value + "\n"
}

// historyReport runs SecretHistory over the repository at dir.
func historyReport(t *testing.T, dir string, opts HistoryOptions) *Report {
	t.Helper()
	repo, err := OpenRepository(dir)
	require.NoError(t, err)
	rep, err := Run(context.Background(), NewTarget(mapFS(nil), "HEAD", DefaultLimits()), []Rule{SecretHistory(repo, opts)}, DefaultOptions())
	require.NoError(t, err)
	for _, write := range []func(*bytes.Buffer) error{
		func(b *bytes.Buffer) error { return rep.WriteText(b) },
		func(b *bytes.Buffer) error { return rep.WriteJSON(b) },
		func(b *bytes.Buffer) error { return rep.WriteSARIF(b, DefaultSARIFOptions()) },
	} {
		var b bytes.Buffer
		require.NoError(t, write(&b))
		assert.NotContains(t, b.String(), plantedHistoryValue)
	}
	return rep
}

func TestSecretHistoryRemoved(t *testing.T) {
	repo := gittest.NewServer(t).NewRepo(t, "deploy")
	repo.Commit(t, "app", map[string]string{"apps/api/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n"})
	added := repo.Commit(t, "db secret", map[string]string{"apps/api/secret.yaml": secretYAML("db", plantedHistoryValue)})
	removed := repo.Commit(t, "oops: remove the secret", map[string]string{"apps/api/secret.yaml": ""})
	kept := repo.Commit(t, "another secret, kept", map[string]string{"apps/web/secret.yaml": secretYAML("web", "kept-"+plantedHistoryValue)})

	rep := historyReport(t, repo.Work, DefaultHistoryOptions())
	fs := rep.Findings()
	require.Len(t, fs, 2, "%+v", fs)
	byFile := map[string]Finding{}
	for _, f := range fs {
		byFile[f.Location.File] = f
	}
	gone := byFile["apps/api/secret.yaml"]
	assert.Equal(t, "secret-history", gone.Rule)
	assert.Equal(t, SeverityCritical, gone.Severity)
	assert.Equal(t, added, gone.Location.Commit)
	assert.Equal(t, 7, gone.Location.Line) // the key, "password:"
	assert.Contains(t, gone.Message, "Secret/shop/db holds 1 key in plaintext (password)")
	assert.Contains(t, gone.Message, "added in commit "+added[:12])
	assert.Contains(t, gone.Message, "removed since, but still in the history")
	assert.NotContains(t, gone.Message, removed[:12], "the removing commit did not add it")

	still := byFile["apps/web/secret.yaml"]
	assert.Equal(t, kept, still.Location.Commit)
	assert.Contains(t, still.Message, "still at HEAD")
	assert.Empty(t, rep.Notes)
}

// TestSecretHistoryReAdded: the same blob added twice is read once and
// reported once, with both commits.
func TestSecretHistoryReAdded(t *testing.T) {
	repo := gittest.NewServer(t).NewRepo(t, "deploy")
	first := repo.Commit(t, "add", map[string]string{"s.yaml": secretYAML("db", plantedHistoryValue)})
	repo.Commit(t, "remove", map[string]string{"s.yaml": ""})
	again := repo.Commit(t, "add again", map[string]string{"s.yaml": secretYAML("db", plantedHistoryValue)})

	fs := historyReport(t, repo.Work, DefaultHistoryOptions()).Findings()
	require.Len(t, fs, 1)
	assert.Equal(t, first, fs[0].Location.Commit)
	assert.Contains(t, fs[0].Message, "and again in "+again[:12])
	assert.Contains(t, fs[0].Message, "still at HEAD")
}

// TestSecretHistoryForcePush: a commit with a Secret, dropped from the
// branch by a force push. What is found depends on where the history is
// read:
//   - the clone that force-pushed keeps the commit in its reflog and
//     object store: found, as a commit no branch reaches;
//   - the server's bare repository keeps the object until git gc: found
//     the same way;
//   - a fresh clone never receives it: not found, and the report cannot
//     know (only the server's operators can expire and gc it).
//
// With SkipUnreachable, neither of the first two finds it.
func TestSecretHistoryForcePush(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "deploy")
	base := repo.Commit(t, "base", map[string]string{"README.md": "deploy\n"})
	dropped := repo.Commit(t, "secret", map[string]string{"apps/api/secret.yaml": secretYAML("db", plantedHistoryValue)})
	repo.ForcePush(t, base)
	repo.Commit(t, "after", map[string]string{"README.md": "deploy, again\n"})

	fresh := filepath.Join(t.TempDir(), "fresh")
	_, err := gittest.Git("", "clone", "--quiet", repo.URL, fresh)
	require.NoError(t, err)

	for name, tc := range map[string]struct {
		dir   string
		opts  HistoryOptions
		found bool
	}{
		"the clone that force-pushed":  {dir: repo.Work, opts: DefaultHistoryOptions(), found: true},
		"the server's bare repository": {dir: repo.Bare, opts: DefaultHistoryOptions(), found: true},
		"a fresh clone":                {dir: fresh, opts: DefaultHistoryOptions(), found: false},
		"the clone, skip unreachable":  {dir: repo.Work, opts: HistoryOptions{SkipUnreachable: true}, found: false},
		"the server, skip unreachable": {dir: repo.Bare, opts: HistoryOptions{SkipUnreachable: true}, found: false},
	} {
		t.Run(name, func(t *testing.T) {
			fs := historyReport(t, tc.dir, tc.opts).Findings()
			if !tc.found {
				assert.Empty(t, fs)
				return
			}
			require.Len(t, fs, 1)
			assert.Equal(t, dropped, fs[0].Location.Commit)
			assert.Contains(t, fs[0].Message, "which no branch or tag reaches")
			assert.Contains(t, fs[0].Message, "removed since")
		})
	}
}

// TestSecretHistoryCommitBound: a history longer than MaxCommits is read
// newest first to the bound, with a note naming the first commit not
// read; a Secret only in older commits is not found.
func TestSecretHistoryCommitBound(t *testing.T) {
	repo := gittest.NewServer(t).NewRepo(t, "deploy")
	old := repo.Commit(t, "old secret", map[string]string{"old.yaml": secretYAML("old", plantedHistoryValue)})
	repo.Commit(t, "remove", map[string]string{"old.yaml": ""})
	for i := range 6 {
		repo.Commit(t, "change", map[string]string{"n.txt": strings.Repeat("x", i+1)})
	}
	rep := historyReport(t, repo.Work, HistoryOptions{MaxCommits: 5})
	assert.Empty(t, rep.Findings())
	require.Len(t, rep.Notes, 1)
	assert.Contains(t, rep.Notes[0], "rule secret-history: stopped at the 5-commit bound: older commits, from ")
	assert.Contains(t, rep.Notes[0], "were not read")

	rep = historyReport(t, repo.Work, HistoryOptions{MaxCommits: 8})
	require.Len(t, rep.Findings(), 1)
	assert.Equal(t, old, rep.Findings()[0].Location.Commit)
	assert.Empty(t, rep.Notes)
}

// TestSecretHistoryByteBounds: a 10 MB secret value is over the blob
// bound: skipped, noted, not read; a total budget smaller than the
// history stops the walk with a note.
func TestSecretHistoryByteBounds(t *testing.T) {
	repo := gittest.NewServer(t).NewRepo(t, "deploy")
	repo.Commit(t, "small", map[string]string{"small.yaml": secretYAML("small", plantedHistoryValue)})
	repo.Commit(t, "huge", map[string]string{"huge.yaml": secretYAML("huge", strings.Repeat("h", 10<<20))})
	repo.Commit(t, "binary", map[string]string{"bin.yaml": "kind: Secret\x00\xff"})

	rep := historyReport(t, repo.Work, DefaultHistoryOptions())
	fs := rep.Findings()
	require.Len(t, fs, 1)
	assert.Equal(t, "small.yaml", fs[0].Location.File)
	assert.Equal(t, []string{
		"rule secret-history: 1 blob skipped, over the 4194304-byte bound (huge.yaml)",
		"rule secret-history: 1 binary blob skipped",
	}, rep.Notes)

	rep = historyReport(t, repo.Work, HistoryOptions{MaxBytes: 20})
	assert.Empty(t, rep.Findings())
	require.NotEmpty(t, rep.Notes)
	assert.Contains(t, rep.Notes[0], "stopped at the 20-byte bound of blobs read")
}

// TestBranchLayout: branches named for two environments are a
// branch-per-environment layout; one dev branch beside main is not.
func TestBranchLayout(t *testing.T) {
	repo := gittest.NewServer(t).NewRepo(t, "deploy")
	repo.Commit(t, "app", map[string]string{"app/kustomization.yaml": "resources: []\n"})
	run := func() []Finding {
		r, err := OpenRepository(repo.Work)
		require.NoError(t, err)
		rep, err := Run(context.Background(), NewTarget(mapFS(nil), "", DefaultLimits()), []Rule{BranchLayout(r)}, DefaultOptions())
		require.NoError(t, err)
		return rep.Findings()
	}
	repo.Branch(t, "dev")
	assert.Empty(t, run())
	repo.Branch(t, "env/prod")
	repo.Branch(t, "feature/prod-banner")
	got := run()
	require.Len(t, got, 1)
	assert.Equal(t, "branch per environment: dev, env/prod; their states diverge and promotion is a merge", got[0].Message)
}
