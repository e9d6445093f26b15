package healthtest

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// MixedObjects returns n objects, with their status, in the proportions a
// platform team's cluster has: workloads and their pods, services, config,
// jobs, custom resources with conditions, PVCs, DaemonSets and Flux
// Kustomizations (which the engine checks with its CEL rules). About one in
// eight is not healthy. They are generated in memory, the same for every n
// and every call, for benchmarks: health's own and make bench's comparison
// with kstatus.
func MixedObjects(n int) []*unstructured.Unstructured {
	makers := []func(i int) map[string]any{
		deploymentObj, deploymentObj, podObj, podObj, podObj, serviceObj, configMapObj, configMapObj,
		secretObj, statefulSetObj, jobObj, customObj, customObj, pvcObj, daemonSetObj, kustomizationObj,
	}
	out := make([]*unstructured.Unstructured, n)
	for i := range out {
		out[i] = &unstructured.Unstructured{Object: makers[i%len(makers)](i)}
	}
	return out
}

func meta(i int, gen int64) map[string]any {
	return map[string]any{"name": fmt.Sprintf("obj-%05d", i), "namespace": fmt.Sprintf("team-%d", i%20),
		"generation": gen, "uid": fmt.Sprintf("uid-%d", i), "resourceVersion": fmt.Sprint(1000 + i),
		"labels": map[string]any{"app": fmt.Sprintf("app-%d", i%50)}}
}

func cond(t, s, reason string) map[string]any {
	return map[string]any{"type": t, "status": s, "reason": reason, "message": reason + " message",
		"lastTransitionTime": "2026-11-25T10:00:00Z"}
}

func deploymentObj(i int) map[string]any {
	ready := int64(3)
	if i%8 == 0 {
		ready = 2
	}
	return map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(i, 4),
		"spec": map[string]any{"replicas": int64(3), "progressDeadlineSeconds": int64(600)},
		"status": map[string]any{"observedGeneration": int64(4), "replicas": int64(3), "updatedReplicas": int64(3),
			"readyReplicas": ready, "availableReplicas": ready,
			"conditions": []any{cond("Available", "True", "MinimumReplicasAvailable"), cond("Progressing", "True", "NewReplicaSetAvailable")}}}
}

func podObj(i int) map[string]any {
	state := map[string]any{"running": map[string]any{"startedAt": "2026-11-25T10:00:00Z"}}
	ready := "True"
	if i%9 == 0 {
		state = map[string]any{"waiting": map[string]any{"reason": "CrashLoopBackOff", "message": "back-off"}}
		ready = "False"
	}
	return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": meta(i, 0),
		"status": map[string]any{"phase": "Running",
			"conditions":        []any{cond("Initialized", "True", ""), cond("Ready", ready, ""), cond("PodScheduled", "True", "")},
			"containerStatuses": []any{map[string]any{"name": "app", "ready": ready == "True", "restartCount": int64(0), "state": state}}}}
}

func serviceObj(i int) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": meta(i, 0),
		"spec": map[string]any{"type": "ClusterIP", "clusterIP": "10.96.0.10", "ports": []any{map[string]any{"port": int64(80)}}}}
}

func configMapObj(i int) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(i, 0), "data": map[string]any{"k": "v"}}
}

func secretObj(i int) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": meta(i, 0), "type": "Opaque"}
}

func statefulSetObj(i int) map[string]any {
	return map[string]any{"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta(i, 2),
		"spec": map[string]any{"replicas": int64(3)},
		"status": map[string]any{"observedGeneration": int64(2), "replicas": int64(3), "readyReplicas": int64(3),
			"currentReplicas": int64(3), "updatedReplicas": int64(3), "availableReplicas": int64(3),
			"currentRevision": "r1", "updateRevision": "r1"}}
}

func jobObj(i int) map[string]any {
	c := cond("Complete", "True", "")
	if i%5 == 0 {
		c = cond("Failed", "True", "BackoffLimitExceeded")
	}
	return map[string]any{"apiVersion": "batch/v1", "kind": "Job", "metadata": meta(i, 1),
		"status": map[string]any{"startTime": "2026-11-25T10:00:00Z", "succeeded": int64(1), "conditions": []any{c}}}
}

func customObj(i int) map[string]any {
	return map[string]any{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": meta(i, 3),
		"status": map[string]any{"observedGeneration": int64(3), "conditions": []any{cond("Ready", "True", "Reconciled")}}}
}

func pvcObj(i int) map[string]any {
	phase := "Bound"
	if i%7 == 0 {
		phase = "Pending"
	}
	return map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta(i, 0),
		"status": map[string]any{"phase": phase}}
}

func daemonSetObj(i int) map[string]any {
	return map[string]any{"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta(i, 1),
		"status": map[string]any{"observedGeneration": int64(1), "desiredNumberScheduled": int64(3), "currentNumberScheduled": int64(3),
			"updatedNumberScheduled": int64(3), "numberAvailable": int64(3), "numberReady": int64(3)}}
}

func kustomizationObj(i int) map[string]any {
	return map[string]any{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": meta(i, 2),
		"spec": map[string]any{"interval": "10m", "path": "./apps"},
		"status": map[string]any{"observedGeneration": int64(2),
			"conditions": []any{cond("Ready", "True", "ReconciliationSucceeded"), cond("Healthy", "True", "Succeeded")}}}
}
