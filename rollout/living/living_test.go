// Package living_test runs rollouts through the reconcile engine on the
// living control plane (controllers, scheduler and kwok's fake nodes,
// where the canary's pods become Ready), with Istio's CRDs from its
// module, and a real Prometheus scraping a target whose canary error
// rate the test sets. No Argo Rollouts CRD or controller is installed.
package living_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

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

var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.Options{Mode: testenv.Living}, &env)
}

// The seed's Services and VirtualService, which its Rollout names but
// gitops-patterns.md does not show.
const routing = `apiVersion: v1
kind: Service
metadata: {name: backend-stable}
spec:
  selector: {app: backend}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: backend-canary}
spec:
  selector: {app: backend}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: backend-vsvc}
spec:
  hosts: [backend.example.com]
  http:
  - name: primary
    route:
    - destination: {host: backend-stable}
      weight: 100
    - destination: {host: backend-canary}
      weight: 0
`

var (
	vsGVK  = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "VirtualService"}
	svcGVK = schema.GroupVersionKind{Version: "v1", Kind: "Service"}
)

// clock is the rollouts' clock, moved by the test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) to(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
}

// onePass runs one pass of unit and returns its only rollout's status.
func onePass(t *testing.T, ctx context.Context, r *reconcile.Reconciler, unit reconcile.Unit) rollout.Status {
	t.Helper()
	s, err := r.Reconcile(ctx, unit)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Rollouts) != 1 {
		t.Fatalf("%d rollouts in the status", len(s.Rollouts))
	}
	return s.Rollouts[0]
}

// passUntil runs passes until cond holds, moving the rollouts' clock to
// each one's Next and giving the plane real time between passes; it fails
// t when ctx ends first.
func passUntil(t *testing.T, ctx context.Context, clk *clock, pass func() rollout.Status, what string, cond func(rollout.Status) bool) rollout.Status {
	t.Helper()
	for {
		ro := pass()
		if cond(ro) {
			return ro
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: not reached; last status %+v", what, ro)
		}
		clk.to(ro.Next)
		time.Sleep(250 * time.Millisecond)
	}
}

// inCluster dials prometheus.monitoring:9090, the address the seed's
// AnalysisTemplate names, at the test's Prometheus, as cluster DNS would.
func inCluster(addr string) *http.Client {
	host := strings.TrimPrefix(addr, "http://")
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		if a == "prometheus.monitoring:9090" {
			a = host
		}
		return d.DialContext(ctx, network, a)
	}}}
}

// The Rollout and AnalysisTemplate of shared/gitops-patterns.md, as
// written, over Istio: a good canary goes through its nine steps (two
// analyses of five measurements against a real Prometheus) and is
// promoted; a bad one is aborted by its first analysis and its traffic
// goes back to stable. The rollouts' clock is the test's, so pauses of
// minutes take none; the pods' readiness is the plane's, in real time.
func TestTheSeedCanaryOnTheLivingPlane(t *testing.T) {
	ns := env.Namespace(t)
	crdtest.Install(t, env.Config, crdtest.Istio)
	seed, err := os.ReadFile("../testdata/seed/rollout.yaml")
	if err != nil {
		t.Fatal(err)
	}
	target := promtest.NewTarget()
	defer target.Close()
	server := promtest.Start(t, target.HostPort())
	target.Set("backend-canary", promtest.Traffic{RPS: 100, ErrorRatio: 0.01, LatencyMs: 80})
	server.Wait(t, `rate(http_requests_total{service="backend-canary"}[2m]) > 0`)

	repo := gittest.NewServer(t).NewRepo(t, "backend")
	repo.Commit(t, "v1.2.3", map[string]string{"app/rollout.yaml": string(seed), "app/routing.yaml": routing})

	c, err := cluster.New(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	canary := "backend-canary"
	engine := rollout.New(rollout.Options{
		Providers: map[string]analysis.Provider{prometheus.Kind: prometheus.New(prometheus.WithHTTPClient(inCluster(server.Addr)))},
		// The seed's analysis steps give no args: the host does.
		Args: []analysis.Arg{{Name: "service-name", Value: &canary}},
		Poll: time.Second,
	})
	clk := &clock{now: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	r, err := reconcile.New(c, reconcile.WithRollouts(engine), reconcile.WithRolloutClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	unit := reconcile.Unit{
		Name: "backend", Namespace: ns, Source: reconcile.Source{URL: repo.URL}, Path: "app",
		Destination: reconcile.Destination{Namespace: ns},
		Sync:        reconcile.Sync{Prune: true},
		Timeout:     time.Minute,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	pass := func() rollout.Status { return onePass(t, ctx, r, unit) }
	until := func(what string, cond func(rollout.Status) bool) rollout.Status {
		return passUntil(t, ctx, clk, pass, what, cond)
	}
	weights := func() (stable, canary int64) {
		t.Helper()
		vs, err := c.Get(ctx, vsGVK, ns, "backend-vsvc")
		if err != nil {
			t.Fatal(err)
		}
		routes, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
		for _, d := range routes[0].(map[string]any)["route"].([]any) {
			d := d.(map[string]any)
			w, _, _ := unstructured.NestedInt64(d, "weight")
			switch d["destination"].(map[string]any)["host"] {
			case "backend-stable":
				stable = w
			case "backend-canary":
				canary = w
			}
		}
		return stable, canary
	}
	selects := func(svc string) string {
		t.Helper()
		obj, err := c.Get(ctx, svcGVK, ns, svc)
		if err != nil {
			t.Fatal(err)
		}
		v, _, _ := unstructured.NestedString(obj.Object, "spec", "selector", rollout.LabelRevision)
		return v
	}

	v1 := until("v1 healthy", func(s rollout.Status) bool { return s.Phase == rollout.PhaseHealthy }).Stable

	// A good canary: every step, then the promotion.
	repo.Commit(t, "v1.2.4", map[string]string{"app/rollout.yaml": strings.Replace(string(seed), "backend:v1.2.3", "backend:v1.2.4", 1)})
	seen := map[int32]bool{}
	var analysed bool
	v2 := until("v1.2.4 promoted", func(s rollout.Status) bool {
		if s.Phase == rollout.PhaseDegraded {
			t.Fatalf("the good canary was aborted: %s", s.Message)
		}
		if s.Weight > 0 {
			if stable, canary := weights(); canary != int64(s.Weight) || stable != 100-canary {
				// The route is written in the pass that sets the weight.
				t.Fatalf("status weight %d, the VirtualService carries %d/%d", s.Weight, stable, canary)
			}
			seen[s.Weight] = true
		}
		if s.Analysis != nil {
			analysed = true
		}
		return s.Stable != v1 && s.Phase == rollout.PhaseHealthy
	}).Stable
	for _, w := range []int32{5, 25, 50, 100} {
		if !seen[w] {
			t.Errorf("weight %d was never set; seen %v", w, seen)
		}
	}
	if !analysed {
		t.Error("no analysis ran")
	}
	if stable, canary := weights(); stable != 100 || canary != 0 || selects("backend-stable") != v2 || selects("backend-canary") != v2 {
		t.Fatalf("after promotion: weights %d/%d, stable selects %s, canary %s; want 100/0 and %s", stable, canary, selects("backend-stable"), selects("backend-canary"), v2)
	}

	// A bad canary: its first analysis fails and traffic returns to stable.
	target.Set("backend-canary", promtest.Traffic{RPS: 100, ErrorRatio: 0.5, LatencyMs: 900})
	server.Wait(t, `sum(rate(http_requests_total{service="backend-canary",status=~"2.."}[2m])) / sum(rate(http_requests_total{service="backend-canary"}[2m])) < 0.9`)
	repo.Commit(t, "v1.2.5", map[string]string{"app/rollout.yaml": strings.Replace(string(seed), "backend:v1.2.3", "backend:v1.2.5", 1)})
	s := until("v1.2.5 aborted", func(s rollout.Status) bool { return s.Phase == rollout.PhaseDegraded })
	if !strings.Contains(s.Message, "step 2 analysis Failed") {
		t.Errorf("aborted with %q, want the first analysis step's failure", s.Message)
	}
	if stable, canary := weights(); stable != 100 || canary != 0 || selects("backend-stable") != v2 {
		t.Fatalf("after the abort: weights %d/%d and stable selects %s; want 100/0 and %s", stable, canary, selects("backend-stable"), v2)
	}
}
