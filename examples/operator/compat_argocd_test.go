package operator

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The Argo CD Application of gitops-patterns.md, as written there.
const patternsArgoApplication = `apiVersion: argoproj.io/v1alpha1
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

// The AppProject "production" the Application names, as Argo CD's docs
// write one (the patterns do not show it; Argo CD refuses an Application
// whose project does not exist, and so does the operator).
const productionProject = `apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: production
  namespace: argocd
spec:
  sourceRepos:
    - '*'
  destinations:
    - server: https://kubernetes.default.svc
      namespace: backend
  clusterResourceWhitelist:
    - group: ''
      kind: Namespace
`

func TestArgoCDApplicationOfThePatternsRunsAsWritten(t *testing.T) {
	env, c := startCompat(t)
	repo := backendRepo(t)
	waitGone(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "backend"}}, nil) // the Flux test's
	ensureNamespace(t, c, "argocd")
	t.Cleanup(func() {
		_ = c.Delete(ctxT(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "backend"}})
		waitGone(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "backend"}}, nil)
	})

	_, err := kubectlRun(t, env, productionProject, "apply", "-f", "-")
	require.NoError(t, err)
	_, err = kubectlRun(t, env, asWritten(patternsArgoApplication, repo), "apply", "-f", "-")
	require.NoError(t, err, "the upstream CRD takes the Application as written")
	app := objectRef(newObject(ArgoCDApplicationGVK), "argocd", "backend-prod")
	t.Cleanup(func() {
		// The resources finalizer: the operator deletes what it applied,
		// then lets the Application go.
		_ = c.Delete(ctxT(t), objectRef(newObject(ArgoCDApplicationGVK), "argocd", "backend-prod"))
		waitGone(t, c, objectRef(newObject(ArgoCDApplicationGVK), "argocd", "backend-prod"), nil)
		waitGone(t, c, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "backend", Name: "backend"}}, nil)
	})

	head := repo.Head(t)
	eventuallyObject(t, c, app, "Synced and Healthy", func(o *unstructured.Unstructured) bool {
		return str(o, "status", "sync", "status") == "Synced" && str(o, "status", "health", "status") == "Healthy"
	})
	assert.Equal(t, head, str(app, "status", "sync", "revision"), "the commit, as Argo CD writes it")
	assert.Equal(t, repo.URL, str(app, "status", "sync", "comparedTo", "source", "repoURL"))
	assert.Equal(t, "Succeeded", str(app, "status", "operationState", "phase"))
	assert.Equal(t, "successfully synced (all tasks run)", str(app, "status", "operationState", "message"))
	assert.Equal(t, head, str(app, "status", "operationState", "syncResult", "revision"))
	assert.NotEmpty(t, str(app, "status", "operationState", "startedAt"))
	assert.NotEmpty(t, str(app, "status", "reconciledAt"))
	conds, _, _ := unstructured.NestedSlice(app.Object, "status", "conditions")
	assert.Empty(t, conds, "no error condition")
	res, _, _ := unstructured.NestedSlice(app.Object, "status", "resources")
	assert.Contains(t, res, map[string]any{"group": "apps", "kind": "Deployment", "namespace": "backend", "name": "backend",
		"status": "Synced", "health": map[string]any{"status": "Healthy"}})

	var d appsv1.Deployment
	require.NoError(t, c.Get(ctxT(t), types.NamespacedName{Namespace: "backend", Name: "backend"}, &d))
	assert.Equal(t, "ghcr.io/myorg/backend:v1.2.3", d.Spec.Template.Spec.Containers[0].Image, "kustomize.images applies")
	assert.Equal(t, int32(2), d.Status.AvailableReplicas)

	// kubectl prints the upstream CRD's columns from the status written.
	out, err := kubectlRun(t, env, "", "get", "applications.argoproj.io", "-n", "argocd", "backend-prod", "--no-headers")
	require.NoError(t, err)
	assert.Regexp(t, `^backend-prod\s+Synced\s+Healthy`, out)
}

func TestArgoCDApplicationWithAFailingSource(t *testing.T) {
	env, c := startCompat(t)
	repo := backendRepo(t)
	ensureNamespace(t, c, "argocd")
	_, err := kubectlRun(t, env, productionProject, "apply", "-f", "-")
	require.NoError(t, err)
	// The patterns' Application under another name, of a repository that
	// is not there.
	manifest := asWritten(patternsArgoApplication, repo)
	manifest = replaceOnce(t, manifest, "name: backend-prod", "name: backend-broken")
	manifest = replaceOnce(t, manifest, repo.URL, repo.URL+"-missing")
	_, err = kubectlRun(t, env, manifest, "apply", "-f", "-")
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = c.Delete(ctxT(t), objectRef(newObject(ArgoCDApplicationGVK), "argocd", "backend-broken"))
		waitGone(t, c, objectRef(newObject(ArgoCDApplicationGVK), "argocd", "backend-broken"), nil)
	})

	app := objectRef(newObject(ArgoCDApplicationGVK), "argocd", "backend-broken")
	eventuallyObject(t, c, app, "a ComparisonError", func(o *unstructured.Unstructured) bool {
		conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
		return len(conds) == 1 && conds[0].(map[string]any)["type"] == ArgoCDComparisonError
	})
	assert.Equal(t, "Unknown", str(app, "status", "sync", "status"), "nothing was compared")
	conds, _, _ := unstructured.NestedSlice(app.Object, "status", "conditions")
	assert.Contains(t, conds[0].(map[string]any)["message"], "gitops-deploy.git-missing", "the message says which source failed")
	assert.Contains(t, conds[0].(map[string]any)["message"], "Failed to load target state: ", "Argo CD's words")
	assert.Empty(t, str(app, "status", "operationState", "phase"), "no sync was attempted")
	err = c.Get(ctxT(t), types.NamespacedName{Namespace: "backend", Name: "backend"}, &appsv1.Deployment{})
	assert.True(t, client.IgnoreNotFound(err) == nil && err != nil, "nothing was applied: %v", err)
}

func TestArgoCDApplicationOfAMissingProjectIsRefused(t *testing.T) {
	env, c := startCompat(t)
	repo := backendRepo(t)
	ensureNamespace(t, c, "argocd")
	manifest := asWritten(patternsArgoApplication, repo)
	manifest = replaceOnce(t, manifest, "name: backend-prod", "name: backend-noproject")
	manifest = replaceOnce(t, manifest, "project: production", "project: nowhere")
	_, err := kubectlRun(t, env, manifest, "apply", "-f", "-")
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = c.Delete(ctxT(t), objectRef(newObject(ArgoCDApplicationGVK), "argocd", "backend-noproject"))
		waitGone(t, c, objectRef(newObject(ArgoCDApplicationGVK), "argocd", "backend-noproject"), nil)
	})
	app := objectRef(newObject(ArgoCDApplicationGVK), "argocd", "backend-noproject")
	eventuallyObject(t, c, app, "an InvalidSpecError", func(o *unstructured.Unstructured) bool {
		conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
		return len(conds) == 1 && conds[0].(map[string]any)["type"] == ArgoCDInvalidSpecError
	})
	conds, _, _ := unstructured.NestedSlice(app.Object, "status", "conditions")
	assert.Equal(t, "Application referencing project nowhere which does not exist", conds[0].(map[string]any)["message"], "Argo CD's own words")
}

func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	require.Contains(t, s, old, "the manifest")
	return strings.Replace(s, old, new, 1)
}

// The ApplicationSet of gitops-patterns.md, as written there.
const patternsArgoApplicationSet = `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: backend
  namespace: argocd
spec:
  generators:
    - list:
        elements:
          - env: dev
            cluster: https://dev-cluster.example.com
            autoSync: true
          - env: staging
            cluster: https://staging-cluster.example.com
            autoSync: true
          - env: prod
            cluster: https://prod-cluster.example.com
            autoSync: false   # Prod requires manual sync
  template:
    metadata:
      name: 'backend-{{env}}'
    spec:
      project: '{{env}}'
      source:
        repoURL: https://github.com/myorg/gitops-deploy.git
        targetRevision: main
        path: 'apps/backend/overlays/{{env}}'
      destination:
        server: '{{cluster}}'
        namespace: backend
      syncPolicy:
        automated:
          prune: '{{autoSync}}'
          selfHeal: '{{autoSync}}'
`

func TestArgoCDApplicationSetOfThePatternsUnderTheUpstreamCRD(t *testing.T) {
	env, c := startCompat(t)
	repo := backendRepo(t)
	ensureNamespace(t, c, "argocd")
	var projects strings.Builder
	for _, p := range []string{"dev", "staging", "prod"} {
		projects.WriteString(strings.NewReplacer("production", p, "https://kubernetes.default.svc", "https://"+p+"-cluster.example.com").Replace(productionProject) + "---\n")
	}
	_, err := kubectlRun(t, env, projects.String(), "apply", "-f", "-")
	require.NoError(t, err)
	// Argo CD's own CRD refuses the patterns' ApplicationSet: a template
	// field that is a boolean cannot hold '{{autoSync}}' (Argo CD needs
	// templatePatch for that). The operator serves what the upstream API
	// takes; reconcile/argocd.Load takes the file as written (the CLI).
	out, err := kubectlRun(t, env, asWritten(patternsArgoApplicationSet, repo), "apply", "-f", "-")
	require.Error(t, err, "the upstream CRD refuses the ApplicationSet as written")
	assert.Contains(t, out, "spec.template.spec.syncPolicy.automated.prune")
	// The nearest form the CRD takes: automated everywhere.
	nearest := strings.NewReplacer("prune: '{{autoSync}}'", "prune: true", "selfHeal: '{{autoSync}}'", "selfHeal: true").Replace(asWritten(patternsArgoApplicationSet, repo))
	_, err = kubectlRun(t, env, nearest, "apply", "-f", "-")
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = c.Delete(ctxT(t), objectRef(newObject(ArgoCDApplicationSetGVK), "argocd", "backend"))
		for _, p := range []string{"dev", "staging", "prod"} {
			// A bare plane has no garbage collector to delete them.
			_ = c.Delete(ctxT(t), objectRef(newObject(ArgoCDApplicationGVK), "argocd", "backend-"+p))
			_ = c.Delete(ctxT(t), objectRef(newObject(ArgoCDAppProjectGVK), "argocd", p))
		}
	})

	set := objectRef(newObject(ArgoCDApplicationSetGVK), "argocd", "backend")
	eventuallyObject(t, c, set, "a resource per element", func(o *unstructured.Unstructured) bool {
		res, _, _ := unstructured.NestedSlice(o.Object, "status", "resources")
		return len(res) == 3
	})
	res, _, _ := unstructured.NestedSlice(set.Object, "status", "resources")
	var names []string
	for _, r := range res {
		names = append(names, r.(map[string]any)["name"].(string))
		assert.Equal(t, "Application", r.(map[string]any)["kind"])
	}
	assert.Equal(t, []string{"backend-dev", "backend-staging", "backend-prod"}, names, "the template's names, in the elements' order")
	conds := conditionsByType(set)
	assert.Equal(t, "True", conds["ParametersGenerated"]["status"])
	assert.Equal(t, "False", conds["ErrorOccurred"]["status"], "%v", conds["ErrorOccurred"]["message"])

	// As Argo CD's ApplicationSet controller does, each element is an
	// Application object the ApplicationSet controls, which the
	// Application controller serves: the clusters of the patterns are not
	// registered with this operator, and each Application says so.
	for _, env := range []string{"dev", "staging", "prod"} {
		app := objectRef(newObject(ArgoCDApplicationGVK), "argocd", "backend-"+env)
		eventuallyObject(t, c, app, "its own status", func(o *unstructured.Unstructured) bool {
			return len(conditionsByType(o)) > 0
		})
		require.True(t, metav1.IsControlledBy(app, set), "backend-%s is the ApplicationSet's", env)
		path, _, _ := unstructured.NestedString(app.Object, "spec", "source", "path")
		assert.Equal(t, "apps/backend/overlays/"+env, path)
		var msgs []string
		for _, c := range conditionsByType(app) {
			msgs = append(msgs, fmt.Sprint(c["message"]))
		}
		assert.Contains(t, strings.Join(msgs, "; "), env+"-cluster.example.com")
	}

	// An element that goes takes its Application with it (policy sync,
	// Argo CD's default); the others stay as they are.
	staying := objectRef(newObject(ArgoCDApplicationGVK), "argocd", "backend-dev")
	require.NoError(t, c.Get(ctxT(t), client.ObjectKeyFromObject(staying), staying))
	elems, _, _ := unstructured.NestedSlice(set.Object, "spec", "generators")
	list := elems[0].(map[string]any)["list"].(map[string]any)
	list["elements"] = list["elements"].([]any)[:2]
	require.NoError(t, unstructured.SetNestedSlice(set.Object, elems, "spec", "generators"))
	require.NoError(t, c.Update(ctxT(t), set))
	waitGone(t, c, objectRef(newObject(ArgoCDApplicationGVK), "argocd", "backend-prod"), nil)
	require.NoError(t, c.Get(ctxT(t), client.ObjectKeyFromObject(staying), staying))
	assert.True(t, metav1.IsControlledBy(staying, set))
	eventuallyObject(t, c, set, "two resources", func(o *unstructured.Unstructured) bool {
		res, _, _ := unstructured.NestedSlice(o.Object, "status", "resources")
		return len(res) == 2
	})
}

// conditionsByType returns the status conditions of an Argo CD object by
// type.
func conditionsByType(o *unstructured.Unstructured) map[string]map[string]any {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	out := map[string]map[string]any{}
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok {
			out[fmt.Sprint(m["type"])] = m
		}
	}
	return out
}

func TestArgoCDManualApplicationSyncsOnAnOperation(t *testing.T) {
	env, c := startCompat(t)
	repo := backendRepo(t)
	waitGone(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "backend"}}, nil) // the other tests'
	ensureNamespace(t, c, "argocd")
	_, err := kubectlRun(t, env, productionProject, "apply", "-f", "-")
	require.NoError(t, err)
	// The patterns' Application without automated sync, as prod often is.
	manifest := asWritten(patternsArgoApplication, repo)
	manifest = replaceOnce(t, manifest, "name: backend-prod", "name: backend-manual")
	manifest = replaceOnce(t, manifest, `    automated:
      prune: true          # Delete resources removed from Git
      selfHeal: true       # Revert manual changes in cluster
      allowEmpty: false
`, "")
	_, err = kubectlRun(t, env, manifest, "apply", "-f", "-")
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = c.Delete(ctxT(t), objectRef(newObject(ArgoCDApplicationGVK), "argocd", "backend-manual"))
		waitGone(t, c, objectRef(newObject(ArgoCDApplicationGVK), "argocd", "backend-manual"), nil)
		waitGone(t, c, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "backend", Name: "backend"}}, nil)
		_ = c.Delete(ctxT(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "backend"}})
		waitGone(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "backend"}}, nil)
	})

	app := objectRef(newObject(ArgoCDApplicationGVK), "argocd", "backend-manual")
	eventuallyObject(t, c, app, "OutOfSync", func(o *unstructured.Unstructured) bool {
		return str(o, "status", "sync", "status") == "OutOfSync"
	})
	assert.Empty(t, str(app, "status", "operationState", "phase"), "a manual Application is not synced by itself")
	err = c.Get(ctxT(t), types.NamespacedName{Namespace: "backend", Name: "backend"}, &appsv1.Deployment{})
	assert.True(t, err != nil && client.IgnoreNotFound(err) == nil, "nothing applied: %v", err)

	// What `argocd app sync backend-manual` writes.
	_, err = kubectlRun(t, env, "", "patch", "-n", "argocd", "applications.argoproj.io/backend-manual", "--type=merge",
		"-p", `{"operation":{"initiatedBy":{"username":"admin"},"sync":{"revision":"main"}}}`)
	require.NoError(t, err)
	eventuallyObject(t, c, app, "synced by the operation", func(o *unstructured.Unstructured) bool {
		return str(o, "status", "operationState", "phase") == "Succeeded" && o.Object["operation"] == nil
	})
	assert.Equal(t, "admin", str(app, "status", "operationState", "operation", "initiatedBy", "username"), "the operation is recorded as asked")
	assert.Equal(t, repo.Head(t), str(app, "status", "operationState", "syncResult", "revision"))
	require.NoError(t, c.Get(ctxT(t), types.NamespacedName{Namespace: "backend", Name: "backend"}, &appsv1.Deployment{}), "the sync applied it")
}

// An ApplicationSet with preserveResourcesOnDeletion: the Application of
// an element that goes is deleted without its cascade, so what it applied
// stays, as Argo CD's ApplicationSet controller does it.
func TestArgoCDApplicationSetPreservesResourcesOnDeletion(t *testing.T) {
	env, c := startCompat(t)
	repo := backendRepo(t)
	waitGone(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "backend"}}, nil) // the other tests'
	ensureNamespace(t, c, "argocd")
	_, err := kubectlRun(t, env, productionProject, "apply", "-f", "-")
	require.NoError(t, err)
	set := `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: keep
  namespace: argocd
spec:
  syncPolicy:
    preserveResourcesOnDeletion: true
  generators:
    - list:
        elements:
          - env: prod
  template:
    metadata:
      name: 'keep-{{env}}'
      finalizers:
        - resources-finalizer.argocd.argoproj.io
    spec:
      project: production
      source:
        repoURL: https://github.com/myorg/gitops-deploy.git
        targetRevision: main
        path: 'apps/backend/overlays/{{env}}'
      destination:
        server: https://kubernetes.default.svc
        namespace: backend
      syncPolicy:
        automated:
          prune: true
        syncOptions:
          - CreateNamespace=true
`
	_, err = kubectlRun(t, env, asWritten(set, repo), "apply", "-f", "-")
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = c.Delete(ctxT(t), objectRef(newObject(ArgoCDApplicationSetGVK), "argocd", "keep"))
		_ = c.Delete(ctxT(t), objectRef(newObject(ArgoCDApplicationGVK), "argocd", "keep-prod"))
		_ = c.Delete(ctxT(t), objectRef(newObject(ArgoCDAppProjectGVK), "argocd", "production"))
		_ = c.Delete(ctxT(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "backend"}})
		waitGone(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "backend"}}, nil)
	})
	app := objectRef(newObject(ArgoCDApplicationGVK), "argocd", "keep-prod")
	eventuallyObject(t, c, app, "Synced and Healthy", func(o *unstructured.Unstructured) bool {
		return str(o, "status", "sync", "status") == "Synced" && str(o, "status", "health", "status") == "Healthy"
	})
	assert.Contains(t, app.GetFinalizers(), "resources-finalizer.argocd.argoproj.io", "the template's finalizer")

	_, err = kubectlRun(t, env, "", "patch", "applicationsets.argoproj.io", "-n", "argocd", "keep", "--type=json",
		"-p", `[{"op":"replace","path":"/spec/generators/0/list/elements","value":[]}]`)
	require.NoError(t, err)
	waitGone(t, c, objectRef(newObject(ArgoCDApplicationGVK), "argocd", "keep-prod"), nil)
	var d appsv1.Deployment
	require.NoError(t, c.Get(ctxT(t), types.NamespacedName{Namespace: "backend", Name: "backend"}, &d),
		"the Application went without its cascade: what it applied stays")
	assert.Nil(t, d.DeletionTimestamp)
}
