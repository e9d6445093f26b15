package cli

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// downKubeconfig writes a kubeconfig for an API server that is not there.
func downKubeconfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	writeFile(t, filepath.Dir(p), "kubeconfig", `apiVersion: v1
kind: Config
clusters:
- name: down
  cluster:
    server: https://127.0.0.1:1
    insecure-skip-tls-verify: true
contexts:
- name: down
  context:
    cluster: down
    user: nobody
current-context: down
users:
- name: nobody
  user:
    token: not-a-real-token
`)
	return p
}

func TestBadInputPrintsOneLineAndExitsNonZero(t *testing.T) {
	dir := filepath.Join("..", "..", "gitops-deploy")
	repo, _ := exampleRepo(t)
	down := downKubeconfig(t)
	kc := env.Kubeconfig
	cases := []struct {
		name   string
		args   []string
		code   int
		says   string
		reason string
	}{
		{"no command", nil, ExitUsage, "missing command", "a bare converge names the commands"},
		{"unknown command", []string{"deploy"}, ExitUsage, `unknown command "deploy"`, ""},
		{"unknown flag", []string{"plan", "--repo", dir, "--path", "clusters/dev", "--colour"}, ExitUsage, "unknown flag: --colour", ""},
		{"flag without its value", []string{"apply", "--repo"}, ExitUsage, "flag needs an argument: --repo", ""},
		{"stray argument", []string{"plan", "--repo", dir, "--path", "clusters/dev", "now"}, ExitUsage, `unknown command "now"`, ""},
		{"missing --path", []string{"apply", "--repo", dir, "--kubeconfig", kc}, ExitUsage, "--path is required", ""},
		{"missing --repo", []string{"plan", "--path", "clusters/dev", "--kubeconfig", kc}, ExitUsage, "--repo is required", ""},
		{"path outside the repository", []string{"plan", "--repo", dir, "--path", "../secrets", "--kubeconfig", kc}, ExitUsage, "inside it", ""},
		{"interval that is not a duration", []string{"sync", "--repo", dir, "--path", "clusters/dev", "--interval", "soon"}, ExitUsage, `invalid argument "soon" for "--interval"`, ""},
		{"--once with more passes", []string{"sync", "--repo", dir, "--path", "clusters/dev", "--once", "--max-ticks", "3"}, ExitUsage, "exclude each other", ""},
		{"--local with --kubeconfig", []string{"plan", "--repo", dir, "--path", "clusters/dev", "--local", "--kubeconfig", kc}, ExitUsage, "exclude each other", "never start a plane the user did not ask for"},
		{"owner that is not a label value", []string{"plan", "--repo", dir, "--path", "clusters/dev", "--owner", "Team_A", "--kubeconfig", kc}, ExitUsage, `--owner "Team_A"`, ""},
		{"an output format converge does not have", []string{"plan", "--repo", dir, "--path", "clusters/dev", "-o", "yaml", "--kubeconfig", kc}, ExitUsage, `--output "yaml"`, ""},
		{"a range as a remote revision", []string{"plan", "--repo", repo.URL, "--ref", "a..b", "--path", "clusters/dev", "--kubeconfig", kc}, ExitUsage, "is a range", "and it says which forms work on a remote"},
		{"HEAD~1 of a remote", []string{"plan", "--repo", repo.URL, "--ref", "HEAD~1", "--path", "clusters/dev", "--kubeconfig", kc}, ExitUsage, "a local clone can resolve it", ""},
		{"a revision a local repository does not have", []string{"diff", "--repo", repo.Work, "--base", "HEAD~5", "--head", "HEAD"}, ExitFailed, `revision not found: "HEAD~5"`, ""},
		{"repository URL with credentials", []string{"plan", "--repo", "https://user:hunter2@example.com/deploy.git", "--path", "clusters/dev", "--kubeconfig", kc}, ExitUsage, "credentials in the URL", "credentials belong in options; the password is never echoed"},
		{"-f with --repo", []string{"plan", "-f", "app.yaml", "--repo", dir, "--kubeconfig", kc}, ExitUsage, "-f runs the file as it is", ""},
		{"-f of a file that is not there", []string{"plan", "-f", "/nonexistent/app.yaml", "--kubeconfig", kc}, ExitFailed, "read /nonexistent/app.yaml", ""},
		{"a bad --health-override", []string{"apply", "--repo", dir, "--path", "clusters/dev", "--health-override", "Widget=Great", "--kubeconfig", kc}, ExitUsage, "--health-override", ""},
		{"diff without --head", []string{"diff", "--repo", repo.URL, "--base", "main"}, ExitUsage, "--base and --head are both required", ""},
		{"repository directory that does not exist", []string{"plan", "--repo", "/nonexistent/deploy", "--path", "clusters/dev", "--kubeconfig", kc}, ExitFailed, "repository /nonexistent/deploy does not exist", ""},
		{"unreachable repository", []string{"plan", "--repo", "http://127.0.0.1:1/deploy.git", "--path", "clusters/dev", "--kubeconfig", kc}, ExitFailed, "cannot fetch http://127.0.0.1:1/deploy.git at main: connect: connection refused", ""},
		{"branch the repository does not have", []string{"apply", "--repo", repo.URL, "--ref", "release", "--path", "clusters/dev", "--kubeconfig", kc}, ExitFailed, `no branch or tag "release"`, ""},
		{"path the repository does not have", []string{"apply", "--repo", repo.URL, "--path", "clusters/qa", "--kubeconfig", kc}, ExitFailed, "path clusters/qa does not exist in the repository at main@sha1:", ""},
		{"diff of a path at neither revision", []string{"diff", "--repo", repo.URL, "--base", "main", "--head", "main", "--path", "clusters/qa"}, ExitFailed, "path clusters/qa exists at neither main@sha1:", ""},
		{"diff of a directory that is not a Git repository", []string{"diff", "--repo", dir, "--base", "main", "--head", "main"}, ExitFailed, "is not the root of a Git repository", ""},
		{"kubeconfig that does not exist", []string{"plan", "--repo", dir, "--path", "clusters/dev", "--kubeconfig", "/nonexistent/kubeconfig"}, ExitFailed, "kubeconfig /nonexistent/kubeconfig does not exist", ""},
		{"cluster that is down", []string{"apply", "--repo", dir, "--path", "clusters/dev", "--kubeconfig", down}, ExitFailed, "cannot reach the cluster at https://127.0.0.1:1: connect: connection refused", ""},
		{"no default namespace names the flag", []string{"apply", "--repo", nsless(t), "--path", "app", "--kubeconfig", kc}, ExitFailed, "--namespace", "the message names the flag, not an SDK option"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := converge(t, tc.args...)
			assert.Equal(t, tc.code, r.code)
			requireOneLine(t, r, "converge")
			assert.Contains(t, r.stderr, tc.says)
			assert.NotContains(t, r.stderr, "hunter2")
		})
	}
}

// nsless is a repository whose ConfigMap names no namespace.
func nsless(t *testing.T) string {
	dir := t.TempDir()
	writeFile(t, dir, "app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
	return dir
}

func TestNoClusterConfiguredAsksForKubeconfigOrLocal(t *testing.T) {
	// A home without ~/.kube/config, whatever this machine has.
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBECONFIG", "")
	r := converge(t, "plan", "--repo", filepath.Join("..", "..", "gitops-deploy"), "--path", "clusters/dev")
	assert.Equal(t, ExitUsage, r.code)
	requireOneLine(t, r, "converge plan: no cluster: pass --kubeconfig, set KUBECONFIG, or use --local")
}

// TestBinaryReportsFailuresInOneLine builds cmd/converge and runs it, so
// that what client-go or kustomize might print on their own (klog, the
// standard logger) counts too.
func TestBinaryReportsFailuresInOneLine(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "converge")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/converge")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	down := downKubeconfig(t)
	for name, args := range map[string][]string{
		"cluster that is down":  {"apply", "--repo", "../../gitops-deploy", "--path", "clusters/dev", "--kubeconfig", down},
		"unreachable repo":      {"sync", "--repo", "http://127.0.0.1:1/deploy.git", "--path", "clusters/dev", "--kubeconfig", down},
		"missing path":          {"plan", "--repo", "../../gitops-deploy", "--path", "clusters/qa", "--kubeconfig", down},
		"unknown flag":          {"diff", "--bogus"},
		"help is not an error":  {"--help"},
		"command help is plain": {"sync", "--help"},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var stdout, stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			r := result{stdout: stdout.String(), stderr: stderr.String()}
			if strings.HasSuffix(name, "help is not an error") || strings.HasSuffix(name, "help is plain") {
				require.NoError(t, err)
				assert.Contains(t, r.stdout, "Usage:")
				assert.Empty(t, r.stderr)
				return
			}
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee)
			assert.NotZero(t, ee.ExitCode())
			requireOneLine(t, r, "converge "+args[0]+": ")
		})
	}
}
