// Package living_test checks the living control plane: controllers,
// scheduler and kwok make workloads run.
package living_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.Options{Mode: testenv.Living}, &env)
}

func podTemplate(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: app, Image: "registry.example/" + app + ":1.0.0"}},
		},
	}
}

func TestDeploymentBecomesAvailable(t *testing.T) {
	ns := env.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			Template: podTemplate("api"),
		},
	}
	require.NoError(t, env.Client.Create(ctx, dep))

	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(dep), dep); err != nil {
			return false, err
		}
		return dep.Status.ObservedGeneration == dep.Generation && dep.Status.AvailableReplicas == 3, nil
	})
	require.NoError(t, err, "deployment status: %+v", dep.Status)
	assert.Equal(t, int32(3), dep.Status.ReadyReplicas)

	var pods corev1.PodList
	require.NoError(t, env.Client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": "api"}))
	require.Len(t, pods.Items, 3)
	for _, p := range pods.Items {
		assert.NotEmpty(t, p.Spec.NodeName, "scheduled")
		assert.Equal(t, corev1.PodRunning, p.Status.Phase)
		ready := false
		for _, c := range p.Status.Conditions {
			ready = ready || (c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue)
		}
		assert.True(t, ready, "pod %s is Ready", p.Name)
	}
}

func TestJobCompletes(t *testing.T) {
	ns := env.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tmpl := podTemplate("migrate")
	tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "migrate", Namespace: ns},
		Spec:       batchv1.JobSpec{Template: tmpl},
	}
	require.NoError(t, env.Client.Create(ctx, job))
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(job), job); err != nil {
			return false, err
		}
		return job.Status.Succeeded == 1, nil
	})
	require.NoError(t, err, "job status: %+v", job.Status)
	complete := false
	for _, c := range job.Status.Conditions {
		complete = complete || (c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue)
	}
	assert.True(t, complete)
}
