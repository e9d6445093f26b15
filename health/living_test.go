package health_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/internal/testenv"
	"github.com/converge-dev/converge/object"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.Options{Mode: testenv.Living}, &env)
}

func podTemplate(app string, labels map[string]string) corev1.PodTemplateSpec {
	l := map[string]string{"app": app}
	for k, v := range labels {
		l[k] = v
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: l},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: app, Image: "registry.example/" + app + ":1.0.0"}},
		},
	}
}

// living bundles what a test on the living plane needs: an engine, an
// informer view whose requests are logged, and a namespace.
type living struct {
	ns     string
	engine *health.Engine
	view   *informerView
	log    *requestLog
}

func newLiving(t *testing.T) *living {
	t.Helper()
	l := &living{ns: env.Namespace(t), engine: newEngine(t), log: &requestLog{}}
	l.view = newInformerView(t, l.log.wrap(env.Config))
	return l
}

// assertNoObjectGets checks the view read ids only through watches.
func (l *living) assertNoObjectGets(t *testing.T, ids []object.ID) {
	t.Helper()
	gets, watches := l.log.objectGets(t, l.view, ids)
	assert.Empty(t, gets, "per-object GETs")
	assert.Positive(t, watches, "the view watched")
}

func idOf(t *testing.T, o client.Object) object.ID {
	t.Helper()
	gvks, _, err := env.Scheme.ObjectKinds(o)
	require.NoError(t, err)
	return object.ID{Group: gvks[0].Group, Kind: gvks[0].Kind, Namespace: o.GetNamespace(), Name: o.GetName()}
}

func TestLivingDeploymentBecomesHealthy(t *testing.T) {
	l := newLiving(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: l.ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			Template: podTemplate("api", nil),
		},
	}
	require.NoError(t, env.Client.Create(ctx, dep))
	ids := []object.ID{idOf(t, dep)}

	var mu sync.Mutex
	var seen []health.Status
	opts := health.DefaultWaitOptions()
	opts.Timeout = 90 * time.Second
	opts.Progress = func(p health.Progress) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range p.Changed {
			seen = append(seen, c.Status)
		}
	}
	rep, err := health.Wait(ctx, l.view, l.engine, ids, opts)
	require.NoError(t, err, "report: %+v", rep)
	require.Len(t, rep.Results, 1)
	assert.Equal(t, health.Healthy, rep.Status)
	assert.Equal(t, health.Healthy, rep.Results[0].Status, rep.Results[0].String())
	mu.Lock()
	assert.Equal(t, health.Healthy, seen[len(seen)-1], "the last progress report is Healthy")
	mu.Unlock()

	var live appsv1.Deployment
	require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(dep), &live))
	assert.Equal(t, int32(3), live.Status.AvailableReplicas, "Healthy means the API server agrees")
	l.assertNoObjectGets(t, ids)
}

// TestLivingDeploymentPodsFailed: kwok's chaos stage fails the containers
// of every pod of a Deployment, and its Pods are Degraded. (kwok marks a failed pod's phase Failed, so the ReplicaSet
// replaces it and each replacement's moment of readiness counts as progress
// to the deployment controller, which may even see every replica ready at
// once: the progress deadline, which a real kubelet's crash loop would pass,
// never passes here, so the Deployment itself cannot be asserted Degraded. TestLivingDeploymentDegraded
// covers the Deployment's own Degraded verdict.)
func TestLivingDeploymentPodsFailed(t *testing.T) {
	l := newLiving(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "broken", Namespace: l.ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "broken"}},
			Template: podTemplate("broken", map[string]string{"pod-container-running-failed.stage.kwok.x-k8s.io": "true"}),
		},
	}
	require.NoError(t, env.Client.Create(ctx, dep))

	// The first pod the ReplicaSet creates.
	var podIDs []object.ID
	for len(podIDs) == 0 {
		var pods corev1.PodList
		require.NoError(t, env.Client.List(ctx, &pods, client.InNamespace(l.ns), client.MatchingLabels{"app": "broken"}))
		for i := range pods.Items {
			podIDs = append(podIDs, idOf(t, &pods.Items[i]))
		}
		if len(podIDs) == 0 {
			select {
			case <-ctx.Done():
				t.Fatal("no pods created")
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	// The pod is Ready for a moment before kwok fails it, so this waits for
	// Degraded itself rather than failing fast.
	opts := health.DefaultWaitOptions()
	opts.Timeout = 90 * time.Second
	opts.Accept = []health.Status{health.Degraded}
	rep, err := health.Wait(ctx, l.view, l.engine, podIDs[:1], opts)
	require.NoError(t, err, "report: %+v", rep)
	assert.Equal(t, health.Degraded, rep.Results[0].Status)
	assert.Contains(t, []string{"PodFailed", "ContainerFailed"}, rep.Results[0].Reason, rep.Results[0].String())
	l.assertNoObjectGets(t, podIDs[:1])
}

// TestLivingDeploymentDegraded: a Deployment whose ReplicaSet cannot create
// pods (a quota of zero pods) gets the ReplicaFailure condition from the
// real deployment controller, and a fail-fast wait ends Degraded.
func TestLivingDeploymentDegraded(t *testing.T) {
	l := newLiving(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "no-pods", Namespace: l.ns},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("0")}},
	}
	require.NoError(t, env.Client.Create(ctx, quota))
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "starved", Namespace: l.ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "starved"}},
			Template: podTemplate("starved", nil),
		},
	}
	require.NoError(t, env.Client.Create(ctx, dep))
	ids := []object.ID{idOf(t, dep)}
	opts := health.DefaultWaitOptions()
	opts.Timeout = 90 * time.Second
	opts.FailFast = true
	rep, err := health.Wait(ctx, l.view, l.engine, ids, opts)
	require.ErrorIs(t, err, health.ErrDegraded, "report: %+v", rep)
	var we *health.WaitError
	require.ErrorAs(t, err, &we)
	require.Len(t, we.NotReady, 1)
	assert.Equal(t, health.Degraded, rep.Status)
	assert.Equal(t, "ReplicaFailure", rep.Results[0].Reason, rep.Results[0].String())
	assert.Contains(t, rep.Results[0].Message, "quota")
	l.assertNoObjectGets(t, ids)
}

func toUnstructured(o client.Object) (*unstructured.Unstructured, error) {
	gvks, _, err := env.Scheme.ObjectKinds(o)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := env.Scheme.Convert(o, u, nil); err != nil {
		return nil, err
	}
	u.SetGroupVersionKind(gvks[0])
	return u, nil
}

func TestLivingJobCompletes(t *testing.T) {
	l := newLiving(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tmpl := podTemplate("migrate", nil)
	tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "migrate", Namespace: l.ns}, Spec: batchv1.JobSpec{Template: tmpl}}
	require.NoError(t, env.Client.Create(ctx, job))
	ids := []object.ID{idOf(t, job)}
	opts := health.DefaultWaitOptions()
	opts.Timeout = 90 * time.Second
	opts.FailFast = true
	rep, err := health.Wait(ctx, l.view, l.engine, ids, opts)
	require.NoError(t, err, "report: %+v", rep)
	assert.Equal(t, "JobComplete", rep.Results[0].Reason)
	require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(job), job))
	assert.Equal(t, int32(1), job.Status.Succeeded)
	l.assertNoObjectGets(t, ids)
}

// widgetCRD returns a CRD with a status subresource in a group unique to
// the test.
func widgetCRD() *apiextensionsv1.CustomResourceDefinition {
	group := "t" + rand.String(6) + ".example.com"
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets." + group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: group,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Subresources: &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: ptr.To(true),
				}},
			}},
		},
	}
}

// TestLivingCustomResource: a CRD becomes Established (Healthy); a custom
// resource without status is Unknown and blocks a wait that does not accept
// Unknown; a test controller then writes its status the way a real one does
// (Reconciling, then Ready at the observed generation) and the wait, which
// sees only watch events, ends Healthy.
func TestLivingCustomResource(t *testing.T) {
	l := newLiving(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	crd := widgetCRD()
	require.NoError(t, env.Client.Create(ctx, crd))
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), crd) })
	crdID := idOf(t, crd)
	opts := health.DefaultWaitOptions()
	opts.Timeout = 60 * time.Second
	rep, err := health.Wait(ctx, l.view, l.engine, []object.ID{crdID}, opts)
	require.NoError(t, err, "CRD: %+v", rep)
	assert.Equal(t, "Established", rep.Results[0].Reason)

	w := &unstructured.Unstructured{}
	w.SetAPIVersion(crd.Spec.Group + "/v1")
	w.SetKind("Widget")
	w.SetNamespace(l.ns)
	w.SetName("w1")
	require.NoError(t, unstructured.SetNestedField(w.Object, int64(3), "spec", "size"))
	require.NoError(t, env.Client.Create(ctx, w))
	ids := []object.ID{object.IDOf(w)}

	// Without status: Unknown, and Unknown blocks by default.
	short := health.DefaultWaitOptions()
	short.Timeout = 3 * time.Second
	rep, err = health.Wait(ctx, l.view, l.engine, ids, short)
	require.ErrorIs(t, err, health.ErrNotReady)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, health.Unknown, rep.Results[0].Status)
	assert.Equal(t, "NoStatus", rep.Results[0].Reason)
	// A host that accepts Unknown is not blocked.
	lenient := health.DefaultWaitOptions()
	lenient.Accept = []health.Status{health.Healthy, health.Unknown}
	_, err = health.Wait(ctx, l.view, l.engine, ids, lenient)
	require.NoError(t, err)

	// The controller starts once the wait has seen the object.
	started := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	var seen []health.Status
	opts.Progress = func(p health.Progress) {
		mu.Lock()
		for _, c := range p.Changed {
			seen = append(seen, c.Status)
		}
		mu.Unlock()
		once.Do(func() { close(started) })
	}
	ctrlErr := make(chan error, 1)
	go func() {
		select {
		case <-started:
		case <-ctx.Done():
			ctrlErr <- ctx.Err()
			return
		}
		ctrlErr <- reconcileWidget(ctx, w)
	}()
	rep, err = health.Wait(ctx, l.view, l.engine, ids, opts)
	require.NoError(t, <-ctrlErr)
	require.NoError(t, err, "report: %+v", rep)
	assert.Equal(t, health.Healthy, rep.Results[0].Status, rep.Results[0].String())
	mu.Lock()
	assert.Equal(t, health.Unknown, seen[0], "the wait first saw the object without status")
	assert.Contains(t, seen, health.Progressing, "then Reconciling")
	assert.Equal(t, health.Healthy, seen[len(seen)-1])
	mu.Unlock()
	l.assertNoObjectGets(t, append(ids, crdID))
}

// reconcileWidget writes status through the status subresource as a
// controller does: first Reconciling, then, after its "work", Ready at the
// generation it observed. It waits for the Reconciling write to be seen by
// reading it back, so the wait cannot miss the middle state.
func reconcileWidget(ctx context.Context, w *unstructured.Unstructured) error {
	cur := w.DeepCopy()
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(cur), cur); err != nil {
		return err
	}
	setStatus := func(conds ...map[string]any) error {
		list := make([]any, len(conds))
		for i, c := range conds {
			c["lastTransitionTime"] = time.Now().UTC().Format(time.RFC3339)
			list[i] = c
		}
		cur.Object["status"] = map[string]any{"observedGeneration": cur.GetGeneration(), "conditions": list}
		return env.Client.Status().Update(ctx, cur)
	}
	if err := setStatus(map[string]any{"type": "Reconciling", "status": "True", "reason": "Provisioning", "message": "creating widget"}); err != nil {
		return fmt.Errorf("reconciling: %w", err)
	}
	time.Sleep(time.Second) // the work; the wait must not need this to pass
	if err := setStatus(
		map[string]any{"type": "Ready", "status": "True", "reason": "Provisioned", "message": "widget is ready"},
	); err != nil {
		return fmt.Errorf("ready: %w", err)
	}
	return nil
}

// TestLivingWaitThousandObjects: a wait on 1,000 objects that do not exist
// yet ends when the last is created, without a single per-object GET.
func TestLivingWaitThousandObjects(t *testing.T) {
	l := newLiving(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const n = 1000
	ids := make([]object.ID, n)
	for i := range ids {
		ids[i] = object.ID{Kind: "ConfigMap", Namespace: l.ns, Name: fmt.Sprintf("cm-%04d", i)}
	}
	opts := health.DefaultWaitOptions()
	opts.Timeout = 150 * time.Second
	var first sync.Once
	watching := make(chan health.Progress, 1)
	opts.Progress = func(p health.Progress) { first.Do(func() { watching <- p }) }
	done := make(chan error, 1)
	var rep health.Report
	go func() {
		var err error
		rep, err = health.Wait(ctx, l.view, l.engine, ids, opts)
		done <- err
	}()
	select {
	case p := <-watching:
		require.Equal(t, 0, p.Ready, "nothing exists yet")
		require.Equal(t, n, p.Total)
	case err := <-done:
		t.Fatalf("wait ended before any object existed: %v", err)
	}

	errs := make(chan error, n)
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ids[i].Name, Namespace: l.ns}, Data: map[string]string{"i": fmt.Sprint(i)}}
				if err := env.Client.Create(ctx, cm); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	require.NoError(t, errors.Join(collect(errs)...))
	require.NoError(t, <-done)
	require.Len(t, rep.Results, n)
	assert.Equal(t, health.Healthy, rep.Status)
	l.assertNoObjectGets(t, ids)
}

func collect(ch <-chan error) []error {
	var out []error
	for err := range ch {
		out = append(out, err)
	}
	return out
}
