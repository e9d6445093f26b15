package job

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"

	"github.com/converge-dev/converge/rollout/analysis"
)

// Kind is the provider block this package serves.
const Kind = "job"

// LabelMetric names the metric a Job measures.
const LabelMetric = "analysis.converge.dev/metric"

var jobs = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}

// Provider runs job metrics in one namespace.
type Provider struct {
	client    dynamic.Interface
	namespace string
	poll      time.Duration
	keep      bool
}

// Option configures a Provider.
type Option func(*Provider)

// WithPollInterval sets how often a Job's status is read (one second by
// default).
func WithPollInterval(d time.Duration) Option { return func(p *Provider) { p.poll = d } }

// WithKeepJobs keeps finished Jobs instead of deleting them.
func WithKeepJobs() Option { return func(p *Provider) { p.keep = true } }

// New returns a Provider that creates Jobs in namespace through client.
func New(client dynamic.Interface, namespace string, opts ...Option) *Provider {
	p := &Provider{client: client, namespace: namespace, poll: time.Second}
	for _, o := range opts {
		o(p)
	}
	return p
}

var _ analysis.Provider = (*Provider)(nil)

// Measure creates the Job of q.Spec ({metadata, spec} as Rollouts'
// job provider block holds them), waits until it completes or fails, and
// returns Successful or Failed as its Phase.
func (p *Provider) Measure(ctx context.Context, q analysis.Query) (analysis.Result, error) {
	job, err := p.jobOf(q)
	if err != nil {
		return analysis.Result{}, fmt.Errorf("metric %s: job: %w", q.Metric, err)
	}
	res := p.client.Resource(jobs).Namespace(p.namespace)
	created, err := res.Create(ctx, job, metav1.CreateOptions{})
	if err != nil {
		return analysis.Result{}, fmt.Errorf("metric %s: create Job %s/%s: %w", q.Metric, p.namespace, job.GetName(), err)
	}
	name := created.GetName()
	meta := map[string]string{"job-name": name, "job-namespace": p.namespace}
	defer func() {
		if !p.keep {
			// A fresh context: the Job goes even when ctx ended.
			dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			bg := metav1.DeletePropagationBackground
			_ = res.Delete(dctx, name, metav1.DeleteOptions{PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{UID: ptr(created.GetUID())}})
		}
	}()
	tick := time.NewTicker(p.poll)
	defer tick.Stop()
	for {
		live, err := res.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return analysis.Result{Metadata: meta}, fmt.Errorf("metric %s: Job %s/%s was deleted before it finished", q.Metric, p.namespace, name)
		case err != nil && ctx.Err() == nil:
			return analysis.Result{Metadata: meta}, fmt.Errorf("metric %s: read Job %s/%s: %w", q.Metric, p.namespace, name, err)
		case err == nil:
			if phase, msg := finished(live); phase != "" {
				return analysis.Result{Phase: phase, Text: msg, Value: msg, Metadata: meta}, nil
			}
		}
		select {
		case <-ctx.Done():
			return analysis.Result{Metadata: meta}, fmt.Errorf("metric %s: Job %s/%s: %w", q.Metric, p.namespace, name, ctx.Err())
		case <-tick.C:
		}
	}
}

// jobOf builds the Job of a job provider block.
func (p *Provider) jobOf(q analysis.Query) (*unstructured.Unstructured, error) {
	for k := range q.Spec {
		if k != "metadata" && k != "spec" {
			return nil, fmt.Errorf("unknown field %q (a job block has metadata and spec)", k)
		}
	}
	spec, ok := q.Spec["spec"].(map[string]any)
	if !ok {
		return nil, errors.New("spec is required: the Job's spec")
	}
	job := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "batch/v1", "kind": "Job", "spec": spec}}
	if md, ok := q.Spec["metadata"].(map[string]any); ok {
		for k := range md {
			if k != "labels" && k != "annotations" {
				return nil, fmt.Errorf("metadata.%s: only labels and annotations are taken (the Job's name is chosen per measurement)", k)
			}
		}
		labels, err := stringMap(md["labels"], "metadata.labels")
		if err != nil {
			return nil, err
		}
		annotations, err := stringMap(md["annotations"], "metadata.annotations")
		if err != nil {
			return nil, err
		}
		job.SetLabels(labels)
		job.SetAnnotations(annotations)
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	base := strings.ToLower(q.Metric)
	if errs := validation.IsDNS1123Label(base); len(errs) > 0 || len(base) > 50 {
		base = "analysis"
	}
	job.SetName(base + "-" + hex.EncodeToString(suffix))
	labels := job.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	if errs := validation.IsValidLabelValue(q.Metric); len(errs) == 0 {
		labels[LabelMetric] = q.Metric
	}
	job.SetLabels(labels)
	return job, nil
}

func stringMap(v any, field string) (map[string]string, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want a map of strings", field)
	}
	out := make(map[string]string, len(m))
	for k, x := range m {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("%s.%s: want a string", field, k)
		}
		out[k] = s
	}
	return out, nil
}

// finished returns Successful or Failed once the Job has a Complete or
// Failed condition, as Rollouts' job provider reads
// it, and "" while it runs.
func finished(job *unstructured.Unstructured) (analysis.Phase, string) {
	conds, _, _ := unstructured.NestedSlice(job.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["status"] != "True" {
			continue
		}
		msg, _ := m["reason"].(string)
		switch m["type"] {
		case "Complete", "SuccessCriteriaMet":
			return analysis.PhaseSuccessful, "Complete"
		case "Failed", "FailureTarget":
			return analysis.PhaseFailed, "Failed: " + msg
		}
	}
	return "", ""
}

func ptr[T any](v T) *T { return &v }
