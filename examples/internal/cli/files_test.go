package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/internal/gittest"
)

// backendRepo is the deployment repository of gitops-patterns.md: a
// backend with a prod overlay, and infrastructure.
func backendRepo(t *testing.T) *gittest.Repo {
	repo := gittest.NewServer(t).NewRepo(t, "gitops-deploy")
	repo.Commit(t, "backend and infrastructure", map[string]string{
		"apps/backend/base/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: backend
spec:
  replicas: 2
  selector:
    matchLabels: {app: backend}
  template:
    metadata:
      labels: {app: backend}
    spec:
      containers:
      - name: backend
        image: backend
        env:
        - name: CLUSTER
          value: ${cluster_name:=unknown}
`,
		"apps/backend/base/kustomization.yaml":          "resources:\n- deployment.yaml\n",
		"apps/backend/overlays/prod/kustomization.yaml": "resources:\n- ../../base\nimages:\n- name: backend\n  newName: ghcr.io/myorg/backend\n  newTag: v1.0.0\n",
		"infrastructure/namespace.yaml":                 "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: backend\n",
	})
	return repo
}

// writeManifest writes a file, replacing the patterns' repository URL
// with the test server's.
func writeManifest(t *testing.T, repo *gittest.Repo, body string) string {
	p := filepath.Join(t.TempDir(), "app.yaml")
	require.NoError(t, os.WriteFile(p, []byte(strings.ReplaceAll(body, "https://github.com/myorg/gitops-deploy.git", repo.URL)), 0o644))
	return p
}

// The Argo CD Application of gitops-patterns.md, as written there.
const argoApplication = `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: backend-prod
  namespace: argocd
  finalizers:
    - resources-finalizer.argocd.argoproj.io
spec:
  project: production

  source:
    repoURL: https://github.com/myorg/gitops-deploy.git
    targetRevision: main
    path: apps/backend/overlays/prod
    kustomize:
      images:
        - backend=ghcr.io/myorg/backend:v1.2.3

  destination:
    server: https://kubernetes.default.svc
    namespace: backend

  syncPolicy:
    automated:
      prune: true          # Delete resources removed from Git
      selfHeal: true       # Revert manual changes in cluster
      allowEmpty: false
    syncOptions:
      - CreateNamespace=true
      - PrunePropagationPolicy=foreground
      - PruneLast=true
    retry:
      limit: 3
      backoff:
        duration: 5s
        factor: 2
        maxDuration: 3m

  ignoreDifferences:
    - group: apps
      kind: Deployment
      jsonPointers:
        - /spec/replicas   # Ignore HPA-managed replica count
`

func TestArgoCDApplicationFileRunsAsItIs(t *testing.T) {
	repo := backendRepo(t)
	file := writeManifest(t, repo, argoApplication)
	ctx := context.Background()
	t.Cleanup(func() {
		_ = env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "backend"}})
		_ = env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "argocd"}})
	})

	r := converge(t, "plan", "-f", file, "--kubeconfig", env.Kubeconfig)
	require.Equal(t, ExitOK, r.code)
	assert.Contains(t, r.stderr, `project "production"`, "a project whose AppProject is not given is said, not dropped")
	assert.Contains(t, r.stdout, "+ create   Namespace/backend")
	assert.Contains(t, r.stdout, "+ create   Deployment.apps/backend/backend")

	r = converge(t, "apply", "-f", file, "--kubeconfig", env.Kubeconfig)
	require.Equal(t, ExitOK, r.code)
	assert.Contains(t, r.stdout, "Apply argocd/backend-prod: 2 created; all 1 healthy;")
	var d appsv1.Deployment
	require.NoError(t, env.Client.Get(ctx, types.NamespacedName{Namespace: "backend", Name: "backend"}, &d))
	assert.Equal(t, "ghcr.io/myorg/backend:v1.2.3", d.Spec.Template.Spec.Containers[0].Image, "kustomize.images applies")
	assert.Equal(t, "backend-prod", d.Labels["converge.dev/owner"])
	assert.Equal(t, "argocd", d.Labels["converge.dev/owner-namespace"])

	// An HPA scales it; ignoreDifferences keeps that out of the drift.
	d.Spec.Replicas = new(int32(5))
	require.NoError(t, env.Client.Update(ctx, &d, client.FieldOwner("horizontal-pod-autoscaler")))
	r = converge(t, "plan", "--exit-code", "-f", file, "--kubeconfig", env.Kubeconfig)
	assert.Equal(t, ExitOK, r.code, "replicas another manager owns are ignored")
}

func waitNamespaceGone(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		err := env.Client.Get(context.Background(), types.NamespacedName{Name: name}, &corev1.Namespace{})
		if apierrors.IsNotFound(err) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("namespace %s is still there", name)
}

// The Flux GitRepository and Kustomization of gitops-patterns.md, with
// the infrastructure Kustomization its dependsOn names and the
// ImagePolicy of the same document.
const fluxFiles = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: gitops-deploy
  namespace: flux-system
spec:
  interval: 1m
  url: https://github.com/myorg/gitops-deploy.git
  ref:
    branch: main
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: infrastructure
  namespace: flux-system
spec:
  interval: 5m
  sourceRef:
    kind: GitRepository
    name: gitops-deploy
  path: ./infrastructure
  prune: true
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: backend-prod
  namespace: flux-system
spec:
  interval: 5m
  retryInterval: 2m
  timeout: 5m
  sourceRef:
    kind: GitRepository
    name: gitops-deploy
  path: ./apps/backend/overlays/prod
  prune: true
  targetNamespace: backend
  healthChecks:
    - apiVersion: apps/v1
      kind: Deployment
      name: backend
      namespace: backend
  dependsOn:
    - name: infrastructure
  postBuild:
    substituteFrom:
      - kind: ConfigMap
        name: cluster-config
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata:
  name: backend
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: backend
  policy:
    semver:
      range: '>=1.0.0'
`

func TestFluxKustomizationFileRunsAsItIs(t *testing.T) {
	repo := backendRepo(t)
	file := writeManifest(t, repo, fluxFiles)
	ctx := context.Background()
	waitNamespaceGone(t, "backend") // the Argo CD test's, with the same name
	t.Cleanup(func() {
		_ = env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "backend"}})
	})
	require.NoError(t, env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "flux-system"}}))
	t.Cleanup(func() {
		_ = env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "flux-system"}})
	})
	require.NoError(t, env.Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cluster-config", Namespace: "flux-system"},
		Data: map[string]string{"cluster_name": "prod-eu-1"}}))

	r := converge(t, "apply", "-f", file, "--kubeconfig", env.Kubeconfig)
	require.Equal(t, ExitOK, r.code)
	assert.Contains(t, r.stderr, "ImagePolicy", "image automation is said to be another package's, not dropped")
	infra, backend := strings.Index(r.stdout, "Apply flux-system/infrastructure:"), strings.Index(r.stdout, "Apply flux-system/backend-prod:")
	require.True(t, infra >= 0 && backend > infra, "the dependency is applied first:\n%s", r.stdout)
	var d appsv1.Deployment
	require.NoError(t, env.Client.Get(ctx, types.NamespacedName{Namespace: "backend", Name: "backend"}, &d))
	assert.Equal(t, "prod-eu-1", d.Spec.Template.Spec.Containers[0].Env[0].Value, "postBuild.substituteFrom")
	assert.Equal(t, int32(2), d.Status.AvailableReplicas, "healthChecks waited for it")
}
