package living_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/internal/promtest"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/rollout"
	"github.com/converge-dev/converge/rollout/analysis"
	"github.com/converge-dev/converge/rollout/analysis/prometheus"
)

const blueGreen = `apiVersion: v1
kind: Service
metadata: {name: web-active}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-preview}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: preview-success-rate}
spec:
  args: [{name: service}]
  metrics:
  - name: success-rate
    interval: 15s
    count: 3
    successCondition: result[0] >= 0.95
    failureLimit: 0
    provider:
      prometheus:
        address: PROMETHEUS
        query: sum(rate(http_requests_total{service="{{args.service}}",status=~"2.."}[1m])) / sum(rate(http_requests_total{service="{{args.service}}"}[1m]))
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: IMAGE}]}
  strategy:
    blueGreen:
      activeService: web-active
      previewService: web-preview
      previewReplicaCount: 1
      scaleDownDelaySeconds: 30
      prePromotionAnalysis:
        templates: [{templateName: preview-success-rate}]
        args: [{name: service, value: web-preview}]
`

// A blue-green switch on the living plane: the active Service changes only
// once the pre-promotion analysis of the preview passed against a real
// Prometheus; a preview whose analysis fails is never switched to.
func TestBlueGreenOnTheLivingPlane(t *testing.T) {
	ns := env.Namespace(t)
	target := promtest.NewTarget()
	defer target.Close()
	server := promtest.Start(t, target.HostPort())
	target.Set("web-preview", promtest.Traffic{RPS: 50, ErrorRatio: 0.01, LatencyMs: 50})
	server.Wait(t, `rate(http_requests_total{service="web-preview"}[1m]) > 0`)
	manifests := func(image string) map[string]string {
		return map[string]string{"app/all.yaml": strings.NewReplacer("PROMETHEUS", server.Addr, "IMAGE", image).Replace(blueGreen)}
	}
	repo := gittest.NewServer(t).NewRepo(t, "web")
	repo.Commit(t, "blue", manifests("web:blue"))
	c, err := cluster.New(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	engine := rollout.New(rollout.Options{Providers: map[string]analysis.Provider{prometheus.Kind: prometheus.New()}, Poll: time.Second})
	r, err := reconcile.New(c, reconcile.WithRollouts(engine), reconcile.WithRolloutClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	unit := reconcile.Unit{
		Name: "web", Namespace: ns, Source: reconcile.Source{URL: repo.URL}, Path: "app",
		Destination: reconcile.Destination{Namespace: ns}, Sync: reconcile.Sync{Prune: true}, Timeout: time.Minute,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	active := func() string {
		t.Helper()
		svc, err := c.Get(ctx, svcGVK, ns, "web-active")
		if err != nil {
			t.Fatal(err)
		}
		v, _, _ := unstructured.NestedString(svc.Object, "spec", "selector", rollout.LabelRevision)
		return v
	}
	until := func(what string, cond func(rollout.Status) bool) rollout.Status {
		return passUntil(t, ctx, clk, func() rollout.Status { return onePass(t, ctx, r, unit) }, what, cond)
	}

	blue := until("blue healthy", func(s rollout.Status) bool { return s.Phase == rollout.PhaseHealthy }).Stable
	repo.Commit(t, "green", manifests("web:green"))
	measured := false
	green := until("green active", func(s rollout.Status) bool {
		if s.Stable != blue {
			return true
		}
		if a := active(); a != blue {
			t.Fatalf("active selects %s before the switch", a)
		}
		if s.Analysis != nil && len(s.Analysis.Metrics) > 0 && len(s.Analysis.Metrics[0].Measurements) > 0 {
			measured = true
			if s.Analysis.Phase.Completed() && s.Analysis.Phase != analysis.PhaseSuccessful {
				t.Fatalf("the good preview's analysis ended %s", s.Analysis.Phase)
			}
		}
		return false
	}).Stable
	if !measured || active() != green {
		t.Fatalf("measured=%t, active selects %s, want %s", measured, active(), green)
	}

	// A bad preview: the analysis fails, active stays on green.
	target.Set("web-preview", promtest.Traffic{RPS: 50, ErrorRatio: 0.5, LatencyMs: 50})
	server.Wait(t, `sum(rate(http_requests_total{service="web-preview",status=~"2.."}[1m])) / sum(rate(http_requests_total{service="web-preview"}[1m])) < 0.9`)
	repo.Commit(t, "red", manifests("web:red"))
	s := until("red aborted", func(s rollout.Status) bool { return s.Phase == rollout.PhaseDegraded })
	if s.Stable != green || active() != green || !strings.Contains(s.Message, "pre-promotion analysis Failed") {
		t.Fatalf("after a failed pre-promotion analysis: %+v, active selects %s", s, active())
	}
}
