package living_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/internal/crdtest"
	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/internal/promtest"
	"github.com/converge-dev/converge/internal/testenv"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/rollout"
	"github.com/converge-dev/converge/rollout/analysis"
	"github.com/converge-dev/converge/rollout/analysis/prometheus"
)

// faults is a Rollout over Istio with a short progress deadline and an
// analysis that ends at its first error.
const faults = routing + `---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: errors}
spec:
  metrics:
  - name: success-rate
    interval: 10s
    count: 3
    consecutiveErrorLimit: 1
    successCondition: result[0] >= 0.95
    provider:
      prometheus:
        address: PROMETHEUS
        query: sum(rate(http_requests_total{service="backend-canary",status=~"2.."}[1m])) / sum(rate(http_requests_total{service="backend-canary"}[1m]))
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: backend}
spec:
  replicas: 4
  progressDeadlineSeconds: 60
  selector: {matchLabels: {app: backend}}
  template:
    metadata: {labels: {app: backend LABELS}}
    spec: {containers: [{name: backend, image: IMAGE}]}
  strategy:
    canary:
      canaryService: backend-canary
      stableService: backend-stable
      trafficRouting: {istio: {virtualService: {name: backend-vsvc, routes: [primary]}}}
      steps:
      - setWeight: 25
      - pause: {}
      - analysis: {templates: [{templateName: errors}]}
      - setWeight: 100
`

// counting counts the measurements a provider takes.
type counting struct {
	analysis.Provider
	n atomic.Int64
}

func (c *counting) Measure(ctx context.Context, q analysis.Query) (analysis.Result, error) {
	c.n.Add(1)
	return c.Provider.Measure(ctx, q)
}

// The faults of a rollout's life, on the living plane: the VirtualService
// edited by hand and the stable Service deleted (the next pass puts both
// back), the host restarted before every pass (it resumes and repeats no
// measurement), Prometheus down during the analysis (the run ends in
// Error and the rollout is aborted), and a canary whose pods never become
// Ready (the progress deadline aborts it).
func TestRolloutFaultsOnTheLivingPlane(t *testing.T) {
	ns := env.Namespace(t)
	crdtest.Install(t, env.Config, crdtest.Istio)
	target := promtest.NewTarget()
	defer target.Close()
	server := promtest.Start(t, target.HostPort())
	target.Set("backend-canary", promtest.Traffic{RPS: 50, ErrorRatio: 0.01, LatencyMs: 50})
	server.Wait(t, `rate(http_requests_total{service="backend-canary"}[1m]) > 0`)
	manifests := func(image, labels string) map[string]string {
		m := strings.NewReplacer("PROMETHEUS", server.Addr, "IMAGE", image, "LABELS", labels).Replace(faults)
		return map[string]string{"app/all.yaml": m}
	}
	repo := gittest.NewServer(t).NewRepo(t, "backend")
	repo.Commit(t, "v1", manifests("backend:v1", ""))

	c, err := cluster.New(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	prom := &counting{Provider: prometheus.New()}
	clk := &clock{now: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	host := func() *reconcile.Reconciler {
		engine := rollout.New(rollout.Options{Providers: map[string]analysis.Provider{prometheus.Kind: prom}, Poll: time.Second})
		r, err := reconcile.New(c, reconcile.WithRollouts(engine), reconcile.WithRolloutClock(clk.Now))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := host()
	defer func() { r.Close() }()
	restart := false
	unit := reconcile.Unit{
		Name: "backend", Namespace: ns, Source: reconcile.Source{URL: repo.URL}, Path: "app",
		Destination: reconcile.Destination{Namespace: ns}, Sync: reconcile.Sync{Prune: true}, Timeout: time.Minute,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	pass := func() rollout.Status {
		t.Helper()
		if restart {
			r.Close()
			r = host()
		}
		return onePass(t, ctx, r, unit)
	}
	until := func(what string, cond func(rollout.Status) bool) rollout.Status {
		return passUntil(t, ctx, clk, pass, what, cond)
	}
	canaryWeight := func() int64 {
		t.Helper()
		vs, err := c.Get(ctx, vsGVK, ns, "backend-vsvc")
		if err != nil {
			t.Fatal(err)
		}
		routes, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
		w, _, _ := unstructured.NestedInt64(routes[0].(map[string]any)["route"].([]any)[1].(map[string]any), "weight")
		return w
	}

	until("v1 healthy", func(s rollout.Status) bool { return s.Phase == rollout.PhaseHealthy })
	repo.Commit(t, "v2", manifests("backend:v2", ""))
	s := until("the pause at 25", func(s rollout.Status) bool { return s.Step == 1 })
	v2 := s.Revision

	// Hand edits: the weight set back, the stable Service recreated.
	vs, err := c.Get(ctx, vsGVK, ns, "backend-vsvc")
	if err != nil {
		t.Fatal(err)
	}
	routes, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	dests := routes[0].(map[string]any)["route"].([]any)
	dests[0].(map[string]any)["weight"], dests[1].(map[string]any)["weight"] = int64(0), int64(100)
	_ = unstructured.SetNestedSlice(vs.Object, routes, "spec", "http")
	res := c.Dynamic().Resource(schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}).Namespace(ns)
	if _, err := res.Update(ctx, vs, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Dynamic().Resource(schema.GroupVersionResource{Version: "v1", Resource: "services"}).Namespace(ns).Delete(ctx, "backend-stable", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if canaryWeight() != 100 {
		t.Fatal("the hand edit did not land")
	}
	if s = pass(); s.Step != 1 || s.Weight != 25 {
		t.Fatalf("after the hand edits: %+v", s)
	}
	if w := canaryWeight(); w != 25 {
		t.Fatalf("the hand-edited weight is %d after a pass, want 25", w)
	}
	svc, err := c.Get(ctx, svcGVK, ns, "backend-stable")
	if err != nil {
		t.Fatalf("the deleted stable Service was not recreated: %v", err)
	}
	if sel, _, _ := unstructured.NestedString(svc.Object, "spec", "selector", rollout.LabelRevision); sel != s.Stable {
		t.Fatalf("the recreated stable Service selects %q, want %q", sel, s.Stable)
	}

	// promote, then a host restarted before every pass until the end.
	command(t, c, ns, rollout.CommandPromote)
	restart = true
	before := prom.n.Load()
	s = until("v2 promoted", func(s rollout.Status) bool { return s.Stable == v2 && s.Phase == rollout.PhaseHealthy })
	if n := prom.n.Load() - before; n != 3 {
		t.Fatalf("%d measurements over restarts, want the metric's count, 3", n)
	}
	restart = false

	// Prometheus down during the analysis.
	repo.Commit(t, "v3", manifests("backend:v3", ""))
	until("the pause of v3", func(s rollout.Status) bool { return s.Step == 1 })
	if err := server.Stop(); err != nil {
		t.Fatal(err)
	}
	command(t, c, ns, rollout.CommandPromote)
	s = until("v3 aborted", func(s rollout.Status) bool { return s.Phase == rollout.PhaseDegraded })
	if !strings.Contains(s.Message, "Error") || s.Stable != v2 || canaryWeight() != 0 {
		t.Fatalf("with Prometheus down: %+v, canary weight %d", s, canaryWeight())
	}

	// A canary that never becomes Ready.
	repo.Commit(t, "v4", manifests("backend:v4", ", "+testenv.LabelContainerWaiting+": CrashLoopBackOff"))
	s = until("v4 aborted", func(s rollout.Status) bool {
		return s.Phase == rollout.PhaseDegraded && s.Revision != v2 && !strings.Contains(s.Message, "Error")
	})
	if !strings.Contains(s.Message, "ProgressDeadlineExceeded") || s.Stable != v2 || canaryWeight() != 0 {
		t.Fatalf("a canary never Ready: %+v, canary weight %d", s, canaryWeight())
	}
}

// command gives the rollout a command as `converge rollout` does: an
// annotation on its state ConfigMap, from another field manager.
func command(t *testing.T, c *cluster.Client, ns, cmd string) {
	t.Helper()
	patch := `{"metadata":{"annotations":{"` + rollout.CommandAnnotation(cmd) + `":"` + time.Now().UTC().Format(time.RFC3339Nano) + `"}}}`
	_, err := c.Dynamic().Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(ns).
		Patch(context.Background(), rollout.StateName("backend"), "application/merge-patch+json", []byte(patch), metav1.PatchOptions{FieldManager: "converge-rollout-cli"})
	if err != nil {
		t.Fatal(err)
	}
}
