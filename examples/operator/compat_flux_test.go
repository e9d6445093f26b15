package operator

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/converge-dev/converge/internal/gittest"
)

// The Flux GitRepository and Kustomization of gitops-patterns.md, as
// written there.
const patternsFlux = `# Source: Git repository to watch
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: gitops-deploy
  namespace: flux-system
spec:
  interval: 1m
  url: https://github.com/myorg/gitops-deploy.git
  ref:
    branch: main
  secretRef:
    name: gitops-deploy-auth

---
# Kustomization: what to deploy from that source
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
`

// The infrastructure Kustomization the patterns' dependsOn names.
const fluxInfrastructure = `apiVersion: kustomize.toolkit.fluxcd.io/v1
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
`

func TestFluxKustomizationOfThePatternsRunsAsWritten(t *testing.T) {
	env, c := startCompat(t)
	// The repository asks for the credentials of the patterns' secretRef.
	repo := backendRepo(t, gittest.WithBasicAuth("flux", "s3cret-token"))
	waitGone(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "backend"}}, nil) // the Argo CD test's
	ensureNamespace(t, c, "flux-system")
	require.NoError(t, c.Create(ctxT(t), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cluster-config", Namespace: "flux-system"},
		Data: map[string]string{"cluster_name": "prod-eu-1"}}))
	require.NoError(t, c.Create(ctxT(t), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "gitops-deploy-auth", Namespace: "flux-system"},
		StringData: map[string]string{"username": "flux", "password": "s3cret-token"}}))
	t.Cleanup(func() {
		for _, name := range []string{"backend-prod", "infrastructure"} {
			_ = c.Delete(ctxT(t), objectRef(newObject(FluxKustomizationGVK), "flux-system", name))
			waitGone(t, c, objectRef(newObject(FluxKustomizationGVK), "flux-system", name), nil)
		}
		_ = c.Delete(ctxT(t), objectRef(newObject(FluxGitRepositoryGVK), "flux-system", "gitops-deploy"))
		_ = c.Delete(ctxT(t), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cluster-config", Namespace: "flux-system"}})
		_ = c.Delete(ctxT(t), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "gitops-deploy-auth", Namespace: "flux-system"}})
		// prune: deleting infrastructure deleted the Namespace.
		waitGone(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "backend"}}, nil)
	})

	_, err := kubectlRun(t, env, asWritten(patternsFlux, repo)+"---\n"+fluxInfrastructure, "apply", "-f", "-")
	require.NoError(t, err, "the upstream CRDs take the manifests as written")

	// What scripts and CI run against Flux.
	_, err = kubectlRun(t, env, "", "wait", "-n", "flux-system", "--for=condition=Ready", "--timeout=90s", "kustomization/backend-prod")
	require.NoError(t, err, "kubectl wait --for=condition=Ready kustomization/backend-prod")

	head := repo.Head(t)
	ks := objectRef(newObject(FluxKustomizationGVK), "flux-system", "backend-prod")
	require.NoError(t, c.Get(ctxT(t), types.NamespacedName{Namespace: "flux-system", Name: "backend-prod"}, ks))
	st := statusOf(ks)
	conds := conditionsOf(st)
	ready := meta.FindStatusCondition(conds, "Ready")
	require.NotNil(t, ready)
	assert.Equal(t, metav1.ConditionTrue, ready.Status)
	assert.Equal(t, "ReconciliationSucceeded", ready.Reason)
	assert.Equal(t, "Applied revision: main@sha1:"+head, ready.Message, "Flux's words")
	assert.Equal(t, ks.GetGeneration(), ready.ObservedGeneration)
	assert.Equal(t, ks.GetGeneration(), st["observedGeneration"])
	assert.Nil(t, meta.FindStatusCondition(conds, "Stalled"), "Flux keeps no Stalled=False")
	if h := meta.FindStatusCondition(conds, "Healthy"); assert.NotNil(t, h, "healthChecks report Healthy") {
		assert.Equal(t, metav1.ConditionTrue, h.Status)
	}
	assert.Equal(t, "main@sha1:"+head, st["lastAppliedRevision"])
	assert.Equal(t, "main@sha1:"+head, st["lastAttemptedRevision"])
	entries, _, _ := unstructured.NestedSlice(st, "inventory", "entries")
	assert.Contains(t, entries, map[string]any{"id": "backend_backend_apps_Deployment", "v": "v1"}, "Flux's inventory entry")
	assert.Contains(t, ks.GetFinalizers(), "finalizers.fluxcd.io")

	var d appsv1.Deployment
	require.NoError(t, c.Get(ctxT(t), types.NamespacedName{Namespace: "backend", Name: "backend"}, &d))
	assert.Equal(t, "prod-eu-1", d.Spec.Template.Spec.Containers[0].Env[0].Value, "postBuild.substituteFrom")
	assert.Equal(t, int32(2), d.Status.AvailableReplicas, "healthChecks waited for it")

	// The GitRepository is Ready in source-controller's words.
	_, err = kubectlRun(t, env, "", "wait", "-n", "flux-system", "--for=condition=Ready", "--timeout=30s", "gitrepository/gitops-deploy")
	require.NoError(t, err)
	gr := objectRef(newObject(FluxGitRepositoryGVK), "flux-system", "gitops-deploy")
	require.NoError(t, c.Get(ctxT(t), types.NamespacedName{Namespace: "flux-system", Name: "gitops-deploy"}, gr))
	if r := meta.FindStatusCondition(conditionsOf(statusOf(gr)), "Ready"); assert.NotNil(t, r) {
		assert.Equal(t, "stored artifact for revision 'main@sha1:"+head+"'", r.Message)
		assert.Equal(t, gr.GetGeneration(), r.ObservedGeneration)
	}

	// flux reconcile's request is handled and echoed.
	_, err = kubectlRun(t, env, "", "annotate", "-n", "flux-system", "--overwrite", "kustomization/backend-prod", "reconcile.fluxcd.io/requestedAt=2026-12-02T10:00:00Z")
	require.NoError(t, err)
	eventuallyObject(t, c, ks, "lastHandledReconcileAt", func(o *unstructured.Unstructured) bool {
		return str(o, "status", "lastHandledReconcileAt") == "2026-12-02T10:00:00Z"
	})
}

func TestFluxKustomizationWithAFailingSource(t *testing.T) {
	env, c := startCompat(t)
	repo := backendRepo(t)
	ensureNamespace(t, c, "flux-system")
	manifest := strings.ReplaceAll(asWritten(patternsFlux, repo), repo.URL, repo.URL+"-missing")
	manifest = strings.ReplaceAll(manifest, "gitops-deploy", "broken-source")
	manifest = strings.ReplaceAll(manifest, "name: backend-prod", "name: broken")
	manifest = strings.ReplaceAll(manifest, "  dependsOn:\n    - name: infrastructure\n", "")
	require.NoError(t, c.Create(ctxT(t), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "broken-source-auth", Namespace: "flux-system"},
		StringData: map[string]string{"username": "flux", "password": "x"}}))
	require.NoError(t, c.Create(ctxT(t), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cluster-config", Namespace: "flux-system"}}))
	t.Cleanup(func() {
		_ = c.Delete(ctxT(t), objectRef(newObject(FluxKustomizationGVK), "flux-system", "broken"))
		_ = c.Delete(ctxT(t), objectRef(newObject(FluxKustomizationGVK), "flux-system", "orphan"))
		waitGone(t, c, objectRef(newObject(FluxKustomizationGVK), "flux-system", "broken"), nil)
		waitGone(t, c, objectRef(newObject(FluxKustomizationGVK), "flux-system", "orphan"), nil)
		_ = c.Delete(ctxT(t), objectRef(newObject(FluxGitRepositoryGVK), "flux-system", "broken-source"))
		_ = c.Delete(ctxT(t), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "broken-source-auth", Namespace: "flux-system"}})
		_ = c.Delete(ctxT(t), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cluster-config", Namespace: "flux-system"}})
	})
	// A Kustomization whose GitRepository does not exist.
	orphan := strings.ReplaceAll(fluxInfrastructure, "name: infrastructure", "name: orphan")
	orphan = strings.ReplaceAll(orphan, "name: gitops-deploy", "name: nowhere")
	_, err := kubectlRun(t, env, manifest+"---\n"+orphan, "apply", "-f", "-")
	require.NoError(t, err)

	notReady := func(reason string) func(*unstructured.Unstructured) bool {
		return func(o *unstructured.Unstructured) bool {
			r := meta.FindStatusCondition(conditionsOf(statusOf(o)), "Ready")
			return r != nil && r.Status == metav1.ConditionFalse && r.Reason == reason && r.ObservedGeneration == o.GetGeneration()
		}
	}
	ks := objectRef(newObject(FluxKustomizationGVK), "flux-system", "broken")
	eventuallyObject(t, c, ks, "Ready=False, ArtifactFailed", notReady("ArtifactFailed"))
	r := meta.FindStatusCondition(conditionsOf(statusOf(ks)), "Ready")
	assert.Contains(t, r.Message, "broken-source.git-missing", "the message names the source")
	assert.NotContains(t, r.Message, "s3cret", "no credential in the message")
	assert.Nil(t, statusOf(ks)["lastAppliedRevision"], "nothing was applied")

	_, err = kubectlRun(t, env, "", "wait", "-n", "flux-system", "--for=condition=Ready=False", "--timeout=30s", "gitrepository/broken-source")
	require.NoError(t, err, "the GitRepository says its fetch failed")
	gr := objectRef(newObject(FluxGitRepositoryGVK), "flux-system", "broken-source")
	eventuallyObject(t, c, gr, "GitOperationFailed", notReady("GitOperationFailed"))

	or := objectRef(newObject(FluxKustomizationGVK), "flux-system", "orphan")
	eventuallyObject(t, c, or, "Ready=False, ArtifactFailed", notReady("ArtifactFailed"))
	assert.Equal(t, "Source 'GitRepository/flux-system/nowhere' not found", meta.FindStatusCondition(conditionsOf(statusOf(or)), "Ready").Message, "Flux's words")
}
