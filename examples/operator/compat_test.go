package operator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/internal/peers"
	"github.com/converge-dev/converge/internal/testenv"
	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/reconcile"
)

// TestCompatCRDsArePinnedCopies fails when a CRD under config/compat is
// not the file of its pinned upstream module (the script downloads the
// modules through the Go module proxy when the cache lacks them).
func TestCompatCRDsArePinnedCopies(t *testing.T) {
	script := filepath.Join("..", "..", "hack", "operator", "compat-crds.sh")
	var stderr bytes.Buffer
	cmd := exec.Command("bash", script, "check")
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Run(), "the compat CRDs differ from their modules; run hack/operator/compat-crds.sh:\n%s", stderr.String())
	for name, doc := range map[string][]byte{
		"applications.argoproj.io":                   argoApplicationCRD,
		"applicationsets.argoproj.io":                argoApplicationSetCRD,
		"appprojects.argoproj.io":                    argoAppProjectCRD,
		"gitrepositories.source.toolkit.fluxcd.io":   fluxGitRepositoryCRD,
		"kustomizations.kustomize.toolkit.fluxcd.io": fluxKustomizationCRD,
	} {
		assert.Contains(t, string(doc), "name: "+name, "the embedded copy is the CRD of %s", name)
	}
}

// TestCompatInstallManifests: config/compat builds with the real
// kustomize into the five upstream CRDs.
func TestCompatInstallManifests(t *testing.T) {
	var names []string
	for _, o := range kustomizeBuild(t, "compat") {
		assert.Equal(t, "CustomResourceDefinition", o.GetKind())
		names = append(names, o.GetName())
	}
	assert.ElementsMatch(t, []string{"applications.argoproj.io", "applicationsets.argoproj.io", "appprojects.argoproj.io",
		"gitrepositories.source.toolkit.fluxcd.io", "kustomizations.kustomize.toolkit.fluxcd.io"}, names)
}

func TestManifestOfDropsWhatTheServerKeeps(t *testing.T) {
	o := newObject(FluxKustomizationGVK)
	o.SetName("apps")
	o.SetNamespace("flux-system")
	o.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "kubectl"}})
	require.NoError(t, unstructured.SetNestedField(o.Object, "5m", "spec", "interval"))
	require.NoError(t, unstructured.SetNestedField(o.Object, int64(3), "status", "observedGeneration"))
	doc, err := manifestOf(o)
	require.NoError(t, err)
	assert.Contains(t, string(doc), "interval: 5m")
	assert.NotContains(t, string(doc), "observedGeneration")
	assert.NotContains(t, string(doc), "managedFields")
	_, found, _ := unstructured.NestedInt64(o.Object, "status", "observedGeneration")
	assert.True(t, found, "the object itself is left as it was")
}

func TestFluxInventoryID(t *testing.T) {
	assert.Equal(t, "backend_backend_apps_Deployment", fluxInventoryID(object.ID{Group: "apps", Kind: "Deployment", Namespace: "backend", Name: "backend"}))
	assert.Equal(t, "_backend__Namespace", fluxInventoryID(object.ID{Kind: "Namespace", Name: "backend"}), "cli-utils' form for a cluster-scoped core kind")
}

func TestSetFluxStatus(t *testing.T) {
	ready := metav1.Condition{Type: reconcile.ConditionReady, Status: metav1.ConditionTrue, Reason: reconcile.ReasonSucceeded, Message: "Applied revision: main@sha1:abc", ObservedGeneration: 4}
	notReconciling := metav1.Condition{Type: reconcile.ConditionReconciling, Status: metav1.ConditionFalse, Reason: reconcile.ReasonSucceeded, ObservedGeneration: 4}
	st := map[string]any{"conditions": []any{map[string]any{"type": "Stalled", "status": "True", "reason": "BuildFailed", "message": "x", "lastTransitionTime": "2026-01-01T00:00:00Z"}}}
	setFluxStatus(st, reconcile.Status{ObservedGeneration: 4, Revision: "main@sha1:abc", LastAppliedRevision: "main@sha1:abc",
		Conditions: []metav1.Condition{ready, notReconciling}, Inventory: []object.ID{{Kind: "ConfigMap", Namespace: "a", Name: "b"}}},
		[]any{map[string]any{"id": "a_b__ConfigMap", "v": "v1"}})
	conds := conditionsOf(st)
	require.Len(t, conds, 1, "Reconciling=False and a Stalled the pass does not report are gone, as Flux leaves them: %+v", conds)
	assert.Equal(t, "Ready", conds[0].Type)
	assert.Equal(t, metav1.ConditionTrue, conds[0].Status)
	assert.Equal(t, int64(4), conds[0].ObservedGeneration)
	assert.False(t, conds[0].LastTransitionTime.IsZero())
	assert.Equal(t, int64(4), st["observedGeneration"])
	assert.Equal(t, "main@sha1:abc", st["lastAppliedRevision"])
	assert.Equal(t, "main@sha1:abc", st["lastAttemptedRevision"])
	assert.Equal(t, []any{map[string]any{"id": "a_b__ConfigMap", "v": "v1"}}, st["inventory"].(map[string]any)["entries"])

	// A suspended pass leaves the revisions and the inventory as they were.
	setFluxStatus(st, reconcile.Status{ObservedGeneration: 5, Err: reconcile.ErrSuspended}, nil)
	assert.Equal(t, int64(4), st["observedGeneration"])
	assert.NotNil(t, st["inventory"])
}

func TestSetArgoStatus(t *testing.T) {
	spec := map[string]any{"source": map[string]any{"repoURL": "https://git.example/deploy.git"}, "destination": map[string]any{"namespace": "backend"}}
	started := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	applied := &apply.Result{Objects: []apply.ObjectResult{{ID: object.ID{Kind: "ConfigMap", Namespace: "backend", Name: "c"}, Action: apply.Created}}}
	for name, tc := range map[string]struct {
		reason    string
		s         reconcile.Status
		err       error
		sync      string
		health    string
		condition string
		phase     string
	}{
		"a pass that wrote": {reason: "a sync ran and succeeded", s: reconcile.Status{Revision: "main@sha1:abc", Sync: reconcile.Synced, Health: "Healthy", Result: applied, Started: started, Finished: started.Add(time.Second)},
			sync: "Synced", health: "Healthy", phase: "Succeeded"},
		"an unchanged pass": {reason: "no sync ran: no operation state", s: reconcile.Status{Revision: "main@sha1:abc", Sync: reconcile.Synced, Health: "Progressing", Result: &apply.Result{}},
			sync: "Synced", health: "Progressing"},
		"a fetch that failed": {reason: "Argo CD's ComparisonError, the sync status unknown", s: reconcile.Status{Health: "Unknown"},
			err:  &reconcile.StageError{Stage: reconcile.StageFetch, Err: errors.New("repository not found")},
			sync: "Unknown", condition: ArgoCDComparisonError},
		"an apply that failed": {reason: "Argo CD's SyncError and a failed operation", s: reconcile.Status{Revision: "main@sha1:abc", Sync: reconcile.OutOfSync, Health: "Missing", Result: &apply.Result{}, Failures: 2, Started: started},
			err:  &reconcile.StageError{Stage: reconcile.StageApply, Err: errors.New("admission webhook denied")},
			sync: "OutOfSync", health: "Missing", condition: ArgoCDSyncError, phase: "Failed"},
	} {
		t.Run(name, func(t *testing.T) {
			st := map[string]any{}
			setArgoStatus(st, spec, tc.s, tc.err, nil, nil)
			sync, _, _ := unstructured.NestedString(st, "sync", "status")
			assert.Equal(t, tc.sync, sync, tc.reason)
			h, _, _ := unstructured.NestedString(st, "health", "status")
			assert.Equal(t, tc.health, h, tc.reason)
			conds, _, _ := unstructured.NestedSlice(st, "conditions")
			if tc.condition == "" {
				assert.Empty(t, conds, tc.reason)
			} else if assert.Len(t, conds, 1, tc.reason) {
				assert.Equal(t, tc.condition, conds[0].(map[string]any)["type"], tc.reason)
				assert.Contains(t, conds[0].(map[string]any)["message"], tc.err.Error())
			}
			phase, _, _ := unstructured.NestedString(st, "operationState", "phase")
			assert.Equal(t, tc.phase, phase, tc.reason)
			if tc.phase != "" {
				rev, _, _ := unstructured.NestedString(st, "operationState", "syncResult", "revision")
				assert.Equal(t, "abc", rev, "the commit, as Argo CD writes it")
				at, _, _ := unstructured.NestedString(st, "operationState", "startedAt")
				assert.Equal(t, "2026-12-01T10:00:00Z", at)
			}
			if tc.sync != "Unknown" {
				rev, _, _ := unstructured.NestedString(st, "sync", "revision")
				assert.Equal(t, "abc", rev)
				ns, _, _ := unstructured.NestedString(st, "sync", "comparedTo", "destination", "namespace")
				assert.Equal(t, "backend", ns)
			}
		})
	}
}

func TestArgoErrorType(t *testing.T) {
	assert.Equal(t, "", argoErrorType(nil))
	assert.Equal(t, ArgoCDInvalidSpecError, argoErrorType(reconcile.ErrRestricted))
	assert.Equal(t, ArgoCDComparisonError, argoErrorType(&reconcile.StageError{Stage: reconcile.StageRender, Err: errors.New("x")}))
	assert.Equal(t, ArgoCDSyncError, argoErrorType(&reconcile.StageError{Stage: reconcile.StageApply, Err: errors.New("x")}))
}

func TestSetupCompatRefusesNoEngine(t *testing.T) {
	assert.EqualError(t, SetupCompat(nil, nil, CompatOptions{ArgoCD: true}), "operator: SetupCompat: no engine")
}

// compatPlane is a living control plane of the compat tests' own: with
// Argo CD's CRDs installed, "application" is ambiguous to kubectl, as it
// is on any cluster that serves both (write applications.converge.dev),
// so the other tests' plane does not get them.
var compatPlane = testenv.NewLazy(testenv.Options{Mode: testenv.Living})

// compatRunning is the manager of the compat controllers the plane tests
// share, started with the first of them, on an engine wired as Run wires
// its own (a fetcher that reads no Secrets: the Flux controller reads the
// GitRepository's itself).
var compatRunning struct {
	once   sync.Once
	env    *testenv.Env
	client client.Client
	err    error
}

// startCompat starts the compat plane, the upstream CRDs and the compat
// controllers once. They stop when TestMain stops the shared operator,
// which startCompat starts for that.
func startCompat(t *testing.T) (*testenv.Env, client.Client) {
	t.Helper()
	startOperator(t)
	compatRunning.once.Do(func() {
		compatRunning.err = runCompat()
	})
	require.NoError(t, compatRunning.err, "start the compat plane and controllers")
	return compatRunning.env, compatRunning.client
}

func runCompat() error {
	env, err := compatPlane.Start()
	if err != nil {
		return err
	}
	compatRunning.env = env
	stopPlane := func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: stop the compat plane: %v\n", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	stopOperator := running.cancel
	running.cancel = func() { cancel(); <-done; stopPlane(); stopOperator() }
	opts := CompatOptions{ArgoCD: true, Flux: true, ArgoCDInterval: testInterval, RetryInterval: 500 * time.Millisecond, DependencyRetry: time.Second}
	if err := InstallCompatCRDs(ctx, env.Config, opts); err != nil {
		close(done)
		return err
	}
	scheme, err := Scheme()
	if err != nil {
		close(done)
		return err
	}
	if compatRunning.client, err = client.New(env.Config, client.Options{Scheme: scheme}); err != nil {
		close(done)
		return err
	}
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: new(true)},
	})
	if err != nil {
		close(done)
		return err
	}
	cl, err := cluster.New(env.Config)
	if err != nil {
		close(done)
		return err
	}
	engine, err := reconcile.New(cl, reconcile.WithFetcher(reconcile.NewFetcher(reconcile.FetcherOptions{Timeout: time.Minute})))
	if err != nil {
		close(done)
		return err
	}
	opts.Recorder = mgr.GetEventRecorder("converge-operator")
	if err := SetupCompat(mgr, engine, opts); err != nil {
		engine.Close()
		close(done)
		return err
	}
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "compat manager: %v\n", err)
		}
		engine.Close()
	}()
	return nil
}

// backendRepo is the deployment repository of gitops-patterns.md (as the
// CLI's tests have it): a backend with a prod overlay, and
// infrastructure.
func backendRepo(t *testing.T, opts ...gittest.ServerOption) *gittest.Repo {
	repo := gittest.NewServer(t, opts...).NewRepo(t, "gitops-deploy")
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

// asWritten is a manifest of gitops-patterns.md with only its repository
// URL replaced by the test server's.
func asWritten(manifest string, repo *gittest.Repo) string {
	return strings.ReplaceAll(manifest, "https://github.com/myorg/gitops-deploy.git", repo.URL)
}

// kubectlRun runs the real kubectl against the plane, with stdin.
func kubectlRun(t *testing.T, env *testenv.Env, stdin string, args ...string) (string, error) {
	t.Helper()
	bin, err := peers.CLI("kubectl")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	t.Logf("kubectl %s\n%s", strings.Join(args, " "), out)
	return string(out), err
}

// ensureNamespace creates a namespace of a fixed name (the patterns'
// argocd, flux-system), waiting out an earlier one's termination.
func ensureNamespace(t *testing.T, c client.Client, name string) {
	t.Helper()
	waitGone(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, func(ns client.Object) bool {
		return !ns.GetDeletionTimestamp().IsZero()
	})
	err := c.Create(ctxT(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
	}
}

// waitGone waits until obj does not exist, or, with while, until while
// no longer holds of it.
func waitGone(t *testing.T, c client.Client, obj client.Object, while func(client.Object) bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		err := c.Get(ctxT(t), types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}, obj)
		if apierrors.IsNotFound(err) || (err == nil && while != nil && !while(obj)) {
			return
		}
		require.NoError(t, err)
		if time.Now().After(deadline) {
			t.Fatalf("%s %s/%s still there after %s", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetNamespace(), obj.GetName(), waitFor)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// eventuallyObject waits until cond holds of the object, failing with its
// last status.
func eventuallyObject(t *testing.T, c client.Client, obj *unstructured.Unstructured, what string, cond func(*unstructured.Unstructured) bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		err := c.Get(ctxT(t), types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}, obj)
		if err == nil && cond(obj) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s/%s: %s: not within %s (err %v); status: %v", obj.GetKind(), obj.GetNamespace(), obj.GetName(), what, waitFor, err, obj.Object["status"])
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// str reads a string field of an unstructured object.
func str(obj *unstructured.Unstructured, fields ...string) string {
	s, _, _ := unstructured.NestedString(obj.Object, fields...)
	return s
}

// objectRef returns an empty object of gvk named namespace/name.
func objectRef(obj *unstructured.Unstructured, namespace, name string) *unstructured.Unstructured {
	obj.SetNamespace(namespace)
	obj.SetName(name)
	return obj
}
