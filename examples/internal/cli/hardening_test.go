package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/reconcile"
)

// The defect of issue 19: converge diff printed the plaintext of a
// Secret's last-applied annotation. A marker planted in every place a
// Secret's value can hide appears in no output of any command.
func TestNoOutputShowsASecretValue(t *testing.T) {
	const marker = "m4rker-s3cret-value"
	ns := env.Namespace(t)
	secret := func(version string) string {
		lastApplied := `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db"},"stringData":{"password":"` + marker + version + `"}}`
		return "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  annotations:\n" +
			"    kubectl.kubernetes.io/last-applied-configuration: '" + lastApplied + "'\n" +
			"    example.com/copy: 'the password is " + marker + version + "'\n" +
			"data:\n  token: " + base64.StdEncoding.EncodeToString([]byte(marker+version)) + "\n" +
			"stringData:\n  password: " + marker + version + "\n"
	}
	repo := gittest.NewServer(t).NewRepo(t, "secrets")
	first := repo.Commit(t, "v1", map[string]string{"clusters/dev/secret.yaml": secret("1")})
	base := []string{"--repo", repo.URL, "--path", "clusters/dev", "--namespace", ns, "--kubeconfig", env.Kubeconfig}
	runs := [][]string{
		append([]string{"plan"}, base...),
		append([]string{"apply"}, base...),
		append([]string{"plan", "-o", "json"}, base...),
	}
	var outputs []result
	for _, args := range runs {
		outputs = append(outputs, converge(t, args...))
	}
	repo.Commit(t, "v2", map[string]string{"clusters/dev/secret.yaml": secret("2")})
	for _, args := range [][]string{
		append([]string{"plan"}, base...),
		append([]string{"plan", "-o", "json"}, base...),
		{"diff", "--repo", repo.URL, "--base", first, "--head", "main"},
		{"diff", "--repo", repo.URL, "--base", first, "--head", "main", "-o", "json"},
		append([]string{"sync", "--once"}, base...),
		append([]string{"apply", "-o", "json"}, base...),
	} {
		outputs = append(outputs, converge(t, args...))
	}
	for i, r := range outputs {
		require.NotEqual(t, ExitFailed, r.code, "run %d failed: %s", i, r.stderr)
		for _, v := range []string{marker, base64.StdEncoding.EncodeToString([]byte(marker + "1")), base64.StdEncoding.EncodeToString([]byte(marker + "2"))} {
			assert.NotContains(t, r.stdout+r.stderr, v, "run %d shows a secret value", i)
		}
	}
	assert.Contains(t, outputs[3].stdout, "~ update   Secret/"+ns+"/db", "the plan still says the Secret changes")
}

// The defect of issue 19: apply --create-namespace, then the same
// command without it, pruned the namespace and everything in it.
func TestCreateNamespaceThenWithoutKeepsTheNamespaceAndItsObjects(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "guestbook/ui.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: guestbook-ui\ndata:\n  a: b\n")
	target := "guestbook-" + strings.ToLower(t.Name()[len(t.Name())-5:])
	t.Cleanup(func() {
		_ = env.Client.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: target}})
	})
	args := []string{"apply", "--repo", dir, "--path", "guestbook", "--namespace", target, "--kubeconfig", env.Kubeconfig}
	r := converge(t, append(args, "--create-namespace")...)
	require.Equal(t, ExitOK, r.code)
	r = converge(t, args...)
	require.Equal(t, ExitOK, r.code)
	assert.NotContains(t, r.stdout, "pruned")
	var ns corev1.Namespace
	require.NoError(t, env.Client.Get(context.Background(), types.NamespacedName{Name: target}, &ns))
	assert.Nil(t, ns.DeletionTimestamp, "the namespace is not being deleted")
	require.NoError(t, env.Client.Get(context.Background(), types.NamespacedName{Namespace: target, Name: "guestbook-ui"}, &corev1.ConfigMap{}))
}

// The defect of issue 19: two repositories with a guestbook/ folder were
// one owner, so the second one's apply pruned the first one's objects.
func TestTwoRepositoriesWithOneFolderNameAreTwoApplications(t *testing.T) {
	ns := env.Namespace(t)
	a, b := t.TempDir(), t.TempDir()
	writeFile(t, a, "guestbook/ui.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: team-a-ui\ndata:\n  a: b\n")
	writeFile(t, b, "guestbook/ui.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: team-b-ui\ndata:\n  a: b\n")
	for _, repo := range []string{a, b} {
		r := converge(t, "apply", "--repo", repo, "--path", "guestbook", "--namespace", ns, "--kubeconfig", env.Kubeconfig)
		require.Equal(t, ExitOK, r.code)
		assert.NotContains(t, r.stdout, "pruned")
	}
	for _, name := range []string{"team-a-ui", "team-b-ui"} {
		require.NoError(t, env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &corev1.ConfigMap{}), name)
	}
	// The objects already there belong to those two applications: a third
	// that defines one of them is refused, naming its owner.
	r := converge(t, "apply", "--repo", a, "--path", "guestbook", "--namespace", ns, "--owner", "guestbook", "--kubeconfig", env.Kubeconfig)
	require.Equal(t, ExitFailed, r.code)
	assert.Contains(t, r.stderr, "owned by another owner by default/"+reconcile.DefaultName(a, "guestbook"))

	// One owner name given to both by hand, in a fresh namespace: the
	// second one's prune refuses, naming the other repository, and deletes
	// nothing.
	other := env.Namespace(t)
	for _, repo := range []string{a, b} {
		r := converge(t, "apply", "--repo", repo, "--path", "guestbook", "--namespace", other, "--owner", "same-name", "--kubeconfig", env.Kubeconfig)
		if repo == b {
			require.Equal(t, ExitFailed, r.code)
			assert.Contains(t, r.stdout, "prune refused, nothing was deleted")
			assert.Contains(t, r.stderr, "last applied from another source")
		}
	}
	require.NoError(t, env.Client.Get(context.Background(), types.NamespacedName{Namespace: other, Name: "team-a-ui"}, &corev1.ConfigMap{}))
}

func TestDeleteRemovesTheApplicationAfterAsking(t *testing.T) {
	ns := env.Namespace(t)
	dir := t.TempDir()
	writeFile(t, dir, "app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: doomed\ndata:\n  a: b\n")
	args := []string{"--repo", dir, "--path", "app", "--namespace", ns, "--owner", "doomed", "--kubeconfig", env.Kubeconfig}
	require.Equal(t, ExitOK, converge(t, append([]string{"apply"}, args...)...).code)

	r := converge(t, append([]string{"delete"}, args...)...) // no terminal: nothing confirms
	assert.Equal(t, ExitFailed, r.code)
	assert.Contains(t, r.stderr, "not confirmed")
	require.NoError(t, env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "doomed"}, &corev1.ConfigMap{}))

	r = converge(t, append([]string{"delete", "--yes"}, args...)...)
	require.Equal(t, ExitOK, r.code)
	assert.Contains(t, r.stdout, "pruned   ConfigMap/"+ns+"/doomed")
	err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "doomed"}, &corev1.ConfigMap{})
	assert.True(t, apierrors.IsNotFound(err), "the object is gone: %v", err)
	err = env.Client.Get(context.Background(), types.NamespacedName{Namespace: "default", Name: "converge-doomed"}, &corev1.ConfigMap{})
	assert.True(t, apierrors.IsNotFound(err), "the inventory is removed last: %v", err)
}

func TestPlanAsJSON(t *testing.T) {
	ns := env.Namespace(t)
	dir := t.TempDir()
	writeFile(t, dir, "app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: j\ndata:\n  a: b\n")
	r := converge(t, "plan", "-o", "json", "--repo", dir, "--path", "app", "--namespace", ns, "--kubeconfig", env.Kubeconfig)
	require.Equal(t, ExitOK, r.code)
	var doc []struct {
		Unit    string
		Sync    string
		Objects []struct{ ID, Action, Diff string }
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc), r.stdout)
	require.Len(t, doc, 1)
	assert.Equal(t, "OutOfSync", doc[0].Sync)
	require.Len(t, doc[0].Objects, 1)
	assert.Equal(t, "ConfigMap/"+ns+"/j", doc[0].Objects[0].ID)
	assert.Equal(t, "Created", doc[0].Objects[0].Action)
}

func TestCompletionScripts(t *testing.T) {
	for shell, says := range map[string]string{"bash": "complete -o default", "zsh": "#compdef converge", "fish": "complete -c converge"} {
		r := converge(t, "completion", shell)
		require.Equal(t, ExitOK, r.code, shell)
		assert.Contains(t, r.stdout, says, shell)
	}
}

// The defects of issue 19: --base HEAD~1 was refused, and an environment
// that holds no manifests yet failed to render.
func TestDiffOfALocalRepositoryAtGitRevisionsWithANewEmptyEnvironment(t *testing.T) {
	t.Setenv("KUBECONFIG", "/nonexistent")
	repo := gittest.NewServer(t).NewRepo(t, "envs")
	repo.Commit(t, "dev", map[string]string{"clusters/dev/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dev\n  namespace: dev\n", "clusters/qa/.gitkeep": "x"})
	repo.Commit(t, "qa", map[string]string{"clusters/qa/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: qa\n  namespace: qa\n"})
	r := converge(t, "diff", "--repo", repo.Work, "--base", "HEAD~1", "--head", "HEAD")
	require.Equal(t, ExitOK, r.code)
	assert.Contains(t, r.stdout, "clusters/dev: no changes (1 object)")
	assert.Contains(t, r.stdout, "clusters/qa: 1 to add, 0 to update, 0 to remove")
	assert.Contains(t, r.stdout, "+ add     ConfigMap/qa/qa")
}

func TestAnEmptyRenderNamesTheFlagThatAllowsIt(t *testing.T) {
	ns := env.Namespace(t)
	repo := gittest.NewServer(t).NewRepo(t, "emptied")
	repo.Commit(t, "app", map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: e\ndata:\n  a: b\n"})
	args := []string{"apply", "--repo", repo.URL, "--path", "app", "--namespace", ns, "--owner", "emptied", "--kubeconfig", env.Kubeconfig}
	require.Equal(t, ExitOK, converge(t, args...).code)
	repo.Commit(t, "emptied", map[string]string{"app/cm.yaml": "", "app/.gitkeep": "x"})
	r := converge(t, args...)
	require.Equal(t, ExitFailed, r.code)
	requireOneLine(t, r, "converge apply: ")
	assert.Contains(t, r.stderr, "--allow-empty")
	r = converge(t, append(args, "--allow-empty")...)
	require.Equal(t, ExitOK, r.code)
	assert.Contains(t, r.stdout, "pruned      ConfigMap/"+ns+"/e")
}

func TestSyncAsJSONPrintsOneObjectPerPass(t *testing.T) {
	ns := env.Namespace(t)
	dir := t.TempDir()
	writeFile(t, dir, "app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\ndata:\n  a: b\n")
	r := converge(t, "sync", "-o", "json", "--max-ticks", "2", "--interval", "100ms", "--repo", dir, "--path", "app", "--namespace", ns, "--kubeconfig", env.Kubeconfig)
	require.Equal(t, ExitOK, r.code)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 2, "one line per pass, nothing else: %q", r.stdout)
	for _, line := range lines {
		var pass struct{ Unit, Sync string }
		require.NoError(t, json.Unmarshal([]byte(line), &pass), line)
		assert.Equal(t, "Synced", pass.Sync)
	}
}
