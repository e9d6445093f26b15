package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/internal/testenv"
	"github.com/converge-dev/converge/reconcile"
)

// TestReconcileGitopsDeployDevEndToEnd drives the converge command through
// the life of the clusters/dev environment of examples/gitops-deploy,
// served over Git's HTTP protocol, on a living control plane: each step
// starts from the state the previous one left, as a user's session would.
func TestReconcileGitopsDeployDevEndToEnd(t *testing.T) {
	repo, first := exampleRepo(t)
	ctx := context.Background()
	base := []string{"--repo", repo.URL, "--path", "clusters/dev", "--kubeconfig", env.Kubeconfig}
	args := func(cmd string, extra ...string) []string {
		return append(append([]string{cmd}, base...), extra...)
	}
	web := types.NamespacedName{Namespace: "shop", Name: "web"}
	owner := reconcile.DefaultName(repo.URL, "clusters/dev")
	unit := "default/" + owner
	t.Cleanup(func() {
		// Leave the shared plane as it was: the namespace and the
		// cluster-scoped objects gitops-deploy creates.
		_ = env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}})
		_ = env.Client.Delete(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "slo-viewer"}})
		_ = env.Client.Delete(ctx, &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: "servicelevelobjectives.observability.example.com"}})
		_ = env.Client.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "converge-" + owner}})
		waitNamespaceGone(t, "shop")
	})

	ok := t.Run("plan on an empty cluster lists every object to create and exits 3 with --exit-code", func(t *testing.T) {
		r := converge(t, args("plan", "--exit-code")...)
		require.Equal(t, ExitChanges, r.code)
		assert.Contains(t, r.stdout, "+ create   Namespace/shop")
		assert.Contains(t, r.stdout, "+ create   CustomResourceDefinition.apiextensions.k8s.io/servicelevelobjectives.observability.example.com")
		assert.Contains(t, r.stdout, "+ create   ServiceLevelObjective.observability.example.com/shop/shop-availability")
		assert.Contains(t, r.stdout, "+ create   Deployment.apps/shop/web")
		assert.Contains(t, r.stdout, "Plan: 16 to create, 0 to update, 0 to prune, 0 unchanged.")
		err := env.Client.Get(ctx, web, &appsv1.Deployment{})
		assert.True(t, apierrors.IsNotFound(err), "plan writes nothing: %v", err)
	})
	require.True(t, ok)

	ok = t.Run("apply creates every object and waits until the Deployments are healthy", func(t *testing.T) {
		r := converge(t, args("apply")...)
		require.Equal(t, ExitOK, r.code)
		assert.Contains(t, r.stdout, "created     Deployment.apps/shop/web")
		assert.Regexp(t, `waiting +\d+/16 ready`, r.stdout, "the wait says where it stands")
		assert.Regexp(t, `OBJECT +ACTION +HEALTH +TIME`, r.stdout)
		assert.Regexp(t, `Deployment.apps/shop/api +Created +Healthy`, r.stdout)
		assert.Contains(t, r.stdout, "Apply "+unit+": 16 created; all 16 healthy;")
		var d appsv1.Deployment
		require.NoError(t, env.Client.Get(ctx, web, &d))
		assert.Equal(t, int32(1), d.Status.AvailableReplicas)
		assert.Equal(t, owner, d.Labels["converge.dev/owner"], "the owner is the path and a hash of the repository")
		assert.Equal(t, reconcile.SourceIdentity(repo.URL), d.Annotations["converge.dev/source"])
	})
	require.True(t, ok)

	ok = t.Run("plan right after apply finds nothing to do", func(t *testing.T) {
		r := converge(t, args("plan", "--exit-code")...)
		require.Equal(t, ExitOK, r.code)
		assert.Contains(t, r.stdout, "Plan: 0 to create, 0 to update, 0 to prune, 16 unchanged.")
	})
	require.True(t, ok)

	ok = t.Run("sync reverts a manual Update by another field manager", func(t *testing.T) {
		var d appsv1.Deployment
		require.NoError(t, env.Client.Get(ctx, web, &d))
		d.Spec.Template.Spec.Containers[0].Image = "ghcr.io/converge-dev/shop-web:hotfix-by-hand"
		d.Spec.Replicas = new(int32(2))
		require.NoError(t, env.Client.Update(ctx, &d, client.FieldOwner("kubectl-edit")))

		r := converge(t, args("plan", "--exit-code")...)
		require.Equal(t, ExitChanges, r.code, "plan sees the drift")
		assert.Contains(t, r.stdout, "~ update   Deployment.apps/shop/web")
		assert.Regexp(t, `\n +- +image: ghcr.io/converge-dev/shop-web:hotfix-by-hand\n`, r.stdout)

		// check reads the cluster too: the hand edit, with who and which
		// fields, fails it; the repository's own rules pass.
		r = converge(t, "check", "--repo", repo.URL, "--kubeconfig", env.Kubeconfig)
		require.Equal(t, ExitFailed, r.code, r.stdout+r.stderr)
		assert.Regexp(t, `high +Deployment/shop/web: Deployment shop/web was changed by "kubectl-edit" \(update\) at [0-9: -]+Z, outside Git: `+
			`spec\.replicas, spec\.template\.spec\.containers\[name=web\]\.image \[cluster-hand-edit\]`, r.stdout)
		assert.Equal(t, "converge check: 1 finding at or above high\n", r.stderr)

		r = converge(t, args("sync", "--once")...)
		require.Equal(t, ExitOK, r.code)
		assert.Contains(t, r.stdout, "configured  Deployment.apps/shop/web")
		assert.Regexp(t, `\n +\+ +image: ghcr.io/converge-dev/shop-web:1.5.0\n`, r.stdout)
		assert.Regexp(t, `pass 1 of `+unit+` at [0-9:]+: main@sha1:[0-9a-f]+:\n`, r.stdout)
		assert.Contains(t, r.stdout, "  1 configured, 15 unchanged; all 16 healthy;")
		require.NoError(t, env.Client.Get(ctx, web, &d))
		assert.Equal(t, "ghcr.io/converge-dev/shop-web:1.5.0", d.Spec.Template.Spec.Containers[0].Image)
		assert.Equal(t, int32(1), *d.Spec.Replicas)

		r = converge(t, "check", "--repo", repo.URL, "--kubeconfig", env.Kubeconfig)
		assert.Equal(t, ExitOK, r.code, "the sync took the fields back: %s", r.stdout)
		assert.NotContains(t, r.stdout, "cluster-hand-edit]")
	})
	require.True(t, ok)

	ok = t.Run("sync rolls out a new image tag committed to Git and shows the diff", func(t *testing.T) {
		repo.Commit(t, "web 1.5.1 in dev", edit(t, repo, "apps/web/overlays/dev/kustomization.yaml", "newTag: 1.5.0", "newTag: 1.5.1"))
		r := converge(t, args("sync", "--max-ticks", "2", "--interval", "100ms")...)
		require.Equal(t, ExitOK, r.code)
		assert.Contains(t, r.stdout, "configured  Deployment.apps/shop/web")
		assert.Regexp(t, `\n +- +image: ghcr.io/converge-dev/shop-web:1.5.0\n`, r.stdout)
		assert.Regexp(t, `\n +\+ +image: ghcr.io/converge-dev/shop-web:1.5.1\n`, r.stdout)
		assert.Contains(t, r.stdout, "  1 configured, 15 unchanged; all 16 healthy;")
		assert.Regexp(t, `pass 2 of `+unit+` at [0-9:]+: main@sha1:[0-9a-f]+: 16 unchanged; all 16 healthy; 0 writes`, r.stdout, "the second pass finds everything in sync")
		assert.Regexp(t, `waiting +\d+/16 ready`, r.stdout, "the roll-out shows")
		var d appsv1.Deployment
		require.NoError(t, env.Client.Get(ctx, web, &d))
		assert.Equal(t, "ghcr.io/converge-dev/shop-web:1.5.1", d.Spec.Template.Spec.Containers[0].Image)
		assert.Equal(t, d.Generation, d.Status.ObservedGeneration)
		assert.Equal(t, int32(1), d.Status.UpdatedReplicas)
	})
	require.True(t, ok)

	t.Run("sync prunes the objects of a file removed from Git", func(t *testing.T) {
		files := edit(t, repo, "infrastructure/kustomization.yaml", "  - rbac/deployer.yaml\n", "")
		files["infrastructure/rbac/deployer.yaml"] = ""
		repo.Commit(t, "drop the deployer", files)
		r := converge(t, args("sync", "--once")...)
		require.Equal(t, ExitOK, r.code)
		assert.Contains(t, r.stdout, "pruned      RoleBinding.rbac.authorization.k8s.io/shop/deployer")
		assert.Contains(t, r.stdout, "pruned      Role.rbac.authorization.k8s.io/shop/deployer")
		assert.Contains(t, r.stdout, "pruned      ServiceAccount/shop/deployer")
		assert.Contains(t, r.stdout, "13 unchanged, 3 pruned;")
		err := env.Client.Get(ctx, types.NamespacedName{Namespace: "shop", Name: "deployer"}, &rbacv1.Role{})
		assert.True(t, apierrors.IsNotFound(err), "the Role is gone: %v", err)
		err = env.Client.Get(ctx, types.NamespacedName{Namespace: "shop", Name: "deployer"}, &corev1.ServiceAccount{})
		assert.True(t, apierrors.IsNotFound(err), "the ServiceAccount is gone: %v", err)
		require.NoError(t, env.Client.Get(ctx, web, &appsv1.Deployment{}), "what stays in Git stays")
	})

	t.Run("diff between the first and the last commit names every change per environment without a cluster", func(t *testing.T) {
		t.Setenv("KUBECONFIG", "/nonexistent")
		r := converge(t, "diff", "--repo", repo.URL, "--base", first, "--head", "main", "--exit-code")
		require.Equal(t, ExitChanges, r.code)
		assert.Contains(t, r.stdout, "clusters/dev: 0 to add, 1 to update, 3 to remove")
		assert.Regexp(t, `\n +\+ +image: ghcr.io/converge-dev/shop-web:1.5.1\n`, r.stdout)
		assert.Contains(t, r.stdout, "clusters/prod: 0 to add, 0 to update, 3 to remove")
		assert.Contains(t, r.stdout, "- remove  Role.rbac.authorization.k8s.io/shop/deployer")
	})
}

func TestSyncTicksUntilInterrupted(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "app/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tick\ndata:\n  a: b\n")
	ns := env.Namespace(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(3*time.Second, cancel)
	var out, errs bytes.Buffer
	code := Main(ctx, []string{"sync", "--repo", dir, "--path", "app", "--namespace", ns, "--owner", "tick", "--interval", "200ms", "--kubeconfig", env.Kubeconfig}, &out, &errs)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errs.String())
	require.Equal(t, ExitOK, code, "Ctrl-C ends a sync cleanly")
	assert.Contains(t, out.String(), "  1 created; all 1 healthy;")
	assert.Regexp(t, `pass 3 of default/tick at [0-9:]+: sha256:[0-9a-f]+: 1 unchanged; all 1 healthy; 0 writes`, out.String(), "a pass with nothing to do is one line")
	assert.Regexp(t, `sync: stopped after \d+ passes`, out.String())
}

func TestApplyExitsOneWithTheTableWhenAWorkloadNeverBecomesHealthy(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "stuck/deployment.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: stuck
spec:
  replicas: 1
  selector:
    matchLabels: {app: stuck}
  template:
    metadata:
      labels:
        app: stuck
        `+testenv.LabelContainerWaiting+`: ImagePullBackOff
    spec:
      containers:
      - name: app
        image: registry.example.com/does-not-exist:1.0.0
`)
	ns := env.Namespace(t)
	r := converge(t, "apply", "--repo", dir, "--path", "stuck", "--namespace", ns, "--owner", "stuck", "--timeout", "3s", "--kubeconfig", env.Kubeconfig)
	require.Equal(t, ExitFailed, r.code)
	assert.Regexp(t, `Deployment.apps/`+ns+`/stuck +Created +Progressing`, r.stdout, "the table says where it stands")
	assert.Contains(t, r.stdout, "Apply default/stuck: 1 created; 0 of 1 healthy (Progressing)")
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	require.Len(t, lines, 1)
	assert.Contains(t, lines[0], "converge apply: health: ")
	assert.Contains(t, lines[0], "not healthy")
	assert.Contains(t, lines[0], "Deployment.apps/"+ns+"/stuck")
}
