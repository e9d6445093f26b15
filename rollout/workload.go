package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
)

// AnnotationRollout names, on every object the engine writes for a
// Rollout, the Rollout it is for ("namespace/name").
const AnnotationRollout = "rollout.converge.dev/name"

// Revision is one version of a Rollout's pod template.
type Revision struct {
	// Hash names the revision: the value of LabelRevision on its pods.
	Hash string `json:"hash"`
	// Template is the pod template, as the Rollout wrote it.
	Template map[string]any `json:"template"`
}

// RevisionOf returns the revision of a pod template: its hash depends
// only on the template's content.
func RevisionOf(template map[string]any) (Revision, error) {
	data, err := json.Marshal(template) // map keys sorted: canonical
	if err != nil {
		return Revision{}, fmt.Errorf("pod template: %w", err)
	}
	h := fnv.New32a()
	h.Write(data)
	return Revision{Hash: rand.SafeEncodeString(fmt.Sprint(h.Sum32())), Template: template}, nil
}

// WorkloadStatus is what a Workload reads of one revision's live pods.
type WorkloadStatus struct {
	// Found is false when the revision's workload does not exist.
	Found bool
	// Replicas is the workload's desired count, as the cluster has it;
	// Available counts the pods that are available.
	Replicas, Available int32
	// Current is true when the workload's controller has seen its
	// latest spec, so Available is about it.
	Current bool
}

// Runs reports whether the workload runs at least n available pods of its
// latest spec.
func (ws WorkloadStatus) Runs(n int32) bool {
	return ws.Found && ws.Current && ws.Replicas >= n && ws.Available >= n
}

// Workload runs a revision's pods: the objects that run it at a count,
// and what they report. Deployments is the implementation converge uses.
type Workload interface {
	// Objects returns the objects that run rev with replicas pods, pods
	// carrying meta's labels and annotations besides the template's.
	Objects(r *Rollout, rev Revision, replicas int32, meta *PodMetadata) ([]*unstructured.Unstructured, error)
	// Status reads rev's live workload.
	Status(ctx context.Context, live Reader, r *Rollout, rev Revision) (WorkloadStatus, error)
}

// Deployments runs each revision as a Deployment named
// "<rollout>-<hash>" whose selector adds LabelRevision to the
// Rollout's: the Deployment controller does the pods' work, and
// converge's health checks read it as for any Deployment.
type Deployments struct{}

var deploymentGVK = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}

// Name is the Deployment's name for rev.
func (Deployments) Name(r *Rollout, rev Revision) string { return r.Name + "-" + rev.Hash }

// Objects returns rev's Deployment.
func (d Deployments) Objects(r *Rollout, rev Revision, replicas int32, meta *PodMetadata) ([]*unstructured.Unstructured, error) {
	template := runtime.DeepCopyJSON(rev.Template)
	labels, _, _ := unstructured.NestedStringMap(template, "metadata", "labels")
	annotations, _, _ := unstructured.NestedStringMap(template, "metadata", "annotations")
	if labels == nil {
		labels = map[string]string{}
	}
	if meta != nil {
		maps.Copy(labels, meta.Labels)
		if len(meta.Annotations) > 0 {
			if annotations == nil {
				annotations = map[string]string{}
			}
			maps.Copy(annotations, meta.Annotations)
		}
	}
	labels[LabelRevision] = rev.Hash
	if err := unstructured.SetNestedStringMap(template, labels, "metadata", "labels"); err != nil {
		return nil, err
	}
	if annotations != nil {
		if err := unstructured.SetNestedStringMap(template, annotations, "metadata", "annotations"); err != nil {
			return nil, err
		}
	}
	selector := map[string]any{LabelRevision: rev.Hash}
	for k, v := range r.Spec.Selector.MatchLabels {
		selector[k] = v
	}
	spec := map[string]any{
		"replicas": int64(replicas),
		"selector": map[string]any{"matchLabels": selector},
		"template": template,
	}
	if r.Spec.MinReadySeconds > 0 {
		spec["minReadySeconds"] = int64(r.Spec.MinReadySeconds)
	}
	if r.Spec.ProgressDeadlineSeconds != nil {
		spec["progressDeadlineSeconds"] = int64(*r.Spec.ProgressDeadlineSeconds)
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata": map[string]any{
			"name":        d.Name(r, rev),
			"namespace":   r.Namespace,
			"annotations": map[string]any{AnnotationRollout: r.String()},
		},
		"spec": spec,
	}}
	if len(r.Labels) > 0 {
		l := map[string]any{}
		for k, v := range r.Labels {
			l[k] = v
		}
		obj.Object["metadata"].(map[string]any)["labels"] = l
	}
	return []*unstructured.Unstructured{obj}, nil
}

// Status reads rev's Deployment.
func (d Deployments) Status(ctx context.Context, live Reader, r *Rollout, rev Revision) (WorkloadStatus, error) {
	obj, found, err := live.Lookup(ctx, deploymentGVK, r.Namespace, d.Name(r, rev))
	if err != nil || !found {
		return WorkloadStatus{}, err
	}
	replicas, _, _ := unstructured.NestedInt64(obj.Object, "spec", "replicas")
	available, _, _ := unstructured.NestedInt64(obj.Object, "status", "availableReplicas")
	observed, _, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
	return WorkloadStatus{
		Found: true, Replicas: int32(replicas), Available: int32(available),
		Current: observed >= obj.GetGeneration(),
	}, nil
}
