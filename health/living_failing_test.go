package health_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/internal/testenv"
	"github.com/converge-dev/converge/object"
)

// TestLivingDeploymentImagePullDegraded: kwok is told (by the
// testenv.LabelContainerWaiting label on the pod template) that the image
// cannot be pulled, so every pod stays Pending with ImagePullBackOff; the
// real deployment controller marks the Deployment Progressing=False with
// ProgressDeadlineExceeded once its short deadline passes, and a fail-fast
// wait ends Degraded on the Deployment with that reason.
func TestLivingDeploymentImagePullDegraded(t *testing.T) {
	l := newLiving(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "unpullable", Namespace: l.ns},
		Spec: appsv1.DeploymentSpec{
			Replicas:                ptr.To[int32](2),
			ProgressDeadlineSeconds: ptr.To[int32](5),
			Selector:                &metav1.LabelSelector{MatchLabels: map[string]string{"app": "unpullable"}},
			Template:                podTemplate("unpullable", map[string]string{testenv.LabelContainerWaiting: "ImagePullBackOff"}),
		},
	}
	require.NoError(t, env.Client.Create(ctx, dep))
	ids := []object.ID{idOf(t, dep)}

	var seen []health.Status
	opts := health.DefaultWaitOptions()
	opts.Timeout = 90 * time.Second
	opts.FailFast = true
	opts.Progress = func(p health.Progress) {
		for _, c := range p.Changed {
			if c.Status != health.Missing { // not in the cache yet: the watch event is on its way
				seen = append(seen, c.Status)
			}
		}
	}
	rep, err := health.Wait(ctx, l.view, l.engine, ids, opts)
	require.ErrorIs(t, err, health.ErrDegraded, "report: %+v", rep)
	require.Len(t, rep.Results, 1)
	assert.Equal(t, health.Degraded, rep.Status)
	assert.Equal(t, "ProgressDeadlineExceeded", rep.Results[0].Reason, rep.Results[0].String())
	assert.Contains(t, rep.Results[0].Message, "timed out progressing")
	require.NotEmpty(t, seen)
	assert.Equal(t, health.Progressing, seen[0], "the rollout was first seen in progress, not failed")

	// The verdict is the deployment controller's, and the pods really never
	// became ready (kwok's own pod-ready stage did not win).
	var live appsv1.Deployment
	require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(dep), &live))
	assert.Zero(t, live.Status.AvailableReplicas)
	var progressing *appsv1.DeploymentCondition
	for i, c := range live.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing {
			progressing = &live.Status.Conditions[i]
		}
	}
	require.NotNil(t, progressing)
	assert.Equal(t, corev1.ConditionFalse, progressing.Status)
	assert.Equal(t, "ProgressDeadlineExceeded", progressing.Reason)

	var pods corev1.PodList
	require.NoError(t, env.Client.List(ctx, &pods, client.InNamespace(l.ns), client.MatchingLabels{"app": "unpullable"}))
	require.NotEmpty(t, pods.Items)
	for _, p := range pods.Items {
		assert.Equal(t, corev1.PodPending, p.Status.Phase, p.Name)
		require.NotEmpty(t, p.Status.ContainerStatuses, p.Name)
		require.NotNil(t, p.Status.ContainerStatuses[0].State.Waiting, p.Name)
		assert.Equal(t, "ImagePullBackOff", p.Status.ContainerStatuses[0].State.Waiting.Reason, p.Name)
	}
	l.assertNoObjectGets(t, ids)
}

// TestLivingPodWaitingDegraded: pods whose containers kwok keeps waiting
// the way a kubelet reports an unpullable image or a crash loop are
// Degraded, and a fail-fast wait ends on them with the container's reason.
func TestLivingPodWaitingDegraded(t *testing.T) {
	tests := map[string]struct {
		reason string
		phase  corev1.PodPhase
	}{
		"image pull back-off": {reason: "ImagePullBackOff", phase: corev1.PodPending},
		"image pull error":    {reason: "ErrImagePull", phase: corev1.PodPending},
		"crash loop":          {reason: "CrashLoopBackOff", phase: corev1.PodRunning},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			l := newLiving(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			tmpl := podTemplate("failing", map[string]string{testenv.LabelContainerWaiting: tc.reason})
			pod := &corev1.Pod{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec}
			pod.Name, pod.Namespace = "failing", l.ns
			require.NoError(t, env.Client.Create(ctx, pod))
			ids := []object.ID{idOf(t, pod)}

			opts := health.DefaultWaitOptions()
			opts.Timeout = 90 * time.Second
			opts.FailFast = true
			rep, err := health.Wait(ctx, l.view, l.engine, ids, opts)
			require.ErrorIs(t, err, health.ErrDegraded, "report: %+v", rep)
			assert.Equal(t, health.Degraded, rep.Results[0].Status)
			assert.Equal(t, tc.reason, rep.Results[0].Reason, rep.Results[0].String())
			assert.Contains(t, rep.Results[0].Message, "container failing")

			require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod))
			assert.Equal(t, tc.phase, pod.Status.Phase)
			for _, c := range pod.Status.Conditions {
				if c.Type == corev1.PodReady {
					assert.Equal(t, corev1.ConditionFalse, c.Status, "the pod is not ready")
				}
			}
			l.assertNoObjectGets(t, ids)
		})
	}
}
