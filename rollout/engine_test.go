package rollout_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/rollout"
	"github.com/converge-dev/converge/rollout/analysis"
)

const services = `apiVersion: v1
kind: Service
metadata: {name: backend-stable}
spec: {selector: {app: backend}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: backend-canary}
spec: {selector: {app: backend}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: success-rate}
spec:
  args: [{name: service-name}]
  metrics:
  - name: success-rate
    interval: 30s
    count: 3
    successCondition: result[0] >= 0.95
    failureLimit: 1
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: rate(ok{service="{{args.service-name}}"}[1m])
`

// canaryRollout is the seed's Rollout with its image and router as
// given; router "" means a replica-ratio canary.
func canaryRollout(image, routing string) string {
	return services + `---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: backend}
spec:
  replicas: 10
  selector: {matchLabels: {app: backend}}
  template:
    metadata: {labels: {app: backend}}
    spec:
      containers:
      - name: backend
        image: ` + image + `
  strategy:
    canary:
      canaryService: backend-canary
      stableService: backend-stable
` + routing + `
      steps:
      - setWeight: 20
      - pause: {duration: 2m}
      - analysis:
          templates: [{templateName: success-rate}]
          args: [{name: service-name, value: backend-canary}]
      - setWeight: 50
      - pause: {}
      - setWeight: 100
`
}

// weights is a TrafficRouter that records the weight on the stable
// Service's annotations, so the test reads what the routes carry.
type weights struct{}

func (weights) Route(set *object.Set, r *rollout.Rollout, t rollout.Traffic) error {
	svc, ok := set.Get(object.ID{Kind: "Service", Namespace: r.Namespace, Name: "backend-stable"})
	if !ok {
		return errors.New("no stable Service")
	}
	a := svc.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a["test/weight"] = itoa(t.Weight)
	svc.SetAnnotations(a)
	return nil
}

func (weights) Verify(ctx context.Context, live rollout.Reader, r *rollout.Rollout, t rollout.Traffic) (bool, error) {
	svc, found, err := live.Lookup(ctx, serviceGVK, r.Namespace, "backend-stable")
	if err != nil || !found {
		return false, err
	}
	return svc.GetAnnotations()["test/weight"] == itoa(t.Weight), nil
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }

var serviceGVK = schema.GroupVersionKind{Version: "v1", Kind: "Service"}

func routedOptions(p analysis.Provider) rollout.Options {
	return rollout.Options{
		Providers: map[string]analysis.Provider{"prometheus": p},
		Router:    func(*rollout.Rollout) (rollout.TrafficRouter, error) { return weights{}, nil },
	}
}

func selector(t *testing.T, w *world, svc string) string {
	t.Helper()
	v, _, _ := unstructured.NestedString(w.get(t, "Service", svc).Object, "spec", "selector", rollout.LabelRevision)
	return v
}

func routedWeight(t *testing.T, w *world) string {
	return w.get(t, "Service", "backend-stable").GetAnnotations()["test/weight"]
}

func TestAFirstRevisionIsStableAtOnce(t *testing.T) {
	d := newDriver(t, routedOptions(&counter{value: 1}), canaryRollout("backend:v1", ""))
	if s := d.pass(); s.Phase != rollout.PhaseProgressing {
		t.Fatalf("before its Deployment exists: %+v", s)
	}
	s := d.pass()
	if s.Phase != rollout.PhaseHealthy || s.Revision != s.Stable || s.Weight != 0 {
		t.Fatalf("status %+v, want Healthy at the stable revision", s)
	}
	if got := d.w.deployments("backend"); len(got) != 1 || got["backend-"+s.Stable] != 10 {
		t.Fatalf("deployments %v, want backend-%s at 10", got, s.Stable)
	}
	if a, b := selector(t, d.w, "backend-stable"), selector(t, d.w, "backend-canary"); a != s.Stable || b != s.Stable {
		t.Fatalf("services select %q and %q, want both %q", a, b, s.Stable)
	}
	for _, id := range []string{"Rollout/backend", "AnalysisTemplate/success-rate"} {
		for _, n := range d.w.names() {
			if n == id {
				t.Fatalf("%s was applied; it is consumed", id)
			}
		}
	}
}

// The seed's steps, end to end, over a router: the canary is scaled
// before traffic reaches it, weights move only once verified, the timed
// pause waits on the host's clock, the analysis runs its 3 measurements,
// the pause without a duration waits for promote, and the promotion
// moves the stable Service to the new revision, weight back to 0, the
// old revision kept for the scale-down delay.
func TestCanaryStepsOverARouter(t *testing.T) {
	for _, restart := range []bool{false, true} {
		name := "one host"
		if restart {
			name = "host restarted before every pass"
		}
		t.Run(name, func(t *testing.T) {
			prom := &counter{value: 0.99}
			d := newDriver(t, routedOptions(prom), canaryRollout("backend:v1", "      trafficRouting: {istio: {virtualService: {name: backend-vsvc}}}"))
			d.restart = restart
			v1 := d.pass().Stable
			d.render(canaryRollout("backend:v2", "      trafficRouting: {istio: {virtualService: {name: backend-vsvc}}}"))

			s := d.pass()
			v2 := s.Revision
			if v2 == v1 || s.Step != 0 || s.Weight != 0 {
				t.Fatalf("after the new revision: %+v", s)
			}
			if got := d.w.deployments("backend"); got["backend-"+v2] != 2 || got["backend-"+v1] != 10 {
				t.Fatalf("deployments %v: want the canary at 2 before its weight is set", got)
			}
			if w := routedWeight(t, d.w); w != "0" {
				t.Fatalf("weight %s before the canary is available, want 0", w)
			}
			s = d.until("weight 20 set", 5, func(s rollout.Status) bool { return s.Weight == 20 })
			if w := routedWeight(t, d.w); w != "20" {
				t.Fatalf("routes carry %s, want 20", w)
			}
			s = d.until("pause step", 5, func(s rollout.Status) bool { return s.Step == 1 })
			pauseStarted := d.now
			s = d.until("analysis step", 10, func(s rollout.Status) bool { return s.Step == 2 })
			if waited := d.now.Sub(pauseStarted); waited < 2*time.Minute {
				t.Fatalf("the 2m pause ended after %s", waited)
			}
			s = d.until("analysis done", 10, func(s rollout.Status) bool { return s.Step > 2 })
			if n := prom.count(); n != 3 {
				t.Fatalf("%d measurements, want exactly the metric's count of 3 (none repeated)", n)
			}
			s = d.until("the pause without duration", 10, func(s rollout.Status) bool { return s.Step == 4 })
			for range 3 {
				d.now = d.now.Add(time.Hour)
				if s = d.pass(); s.Step != 4 || s.Phase != rollout.PhasePaused {
					t.Fatalf("an indefinite pause moved on by itself: %+v", s)
				}
			}
			if w := routedWeight(t, d.w); w != "50" {
				t.Fatalf("routes carry %s during the pause, want 50", w)
			}
			d.w.command("backend", rollout.CommandPromote, "1")
			s = d.until("promoted", 10, func(s rollout.Status) bool { return s.Stable == v2 })
			if a, b := selector(t, d.w, "backend-stable"), selector(t, d.w, "backend-canary"); a != v2 || b != v2 {
				t.Fatalf("after promotion services select %q and %q, want %q", a, b, v2)
			}
			if w := routedWeight(t, d.w); w != "0" {
				t.Fatalf("after promotion the canary weight is %s, want 0", w)
			}
			if got := d.w.deployments("backend"); got["backend-"+v1] != 10 {
				t.Fatalf("the old stable revision went before the scale-down delay: %v", got)
			}
			d.now = d.now.Add(31 * time.Second)
			s = d.until("healthy", 5, func(s rollout.Status) bool { return s.Phase == rollout.PhaseHealthy })
			if got := d.w.deployments("backend"); len(got) != 1 || got["backend-"+v2] != 10 {
				t.Fatalf("deployments after the delay %v, want only the new revision at 10", got)
			}
		})
	}
}

func TestAFailedAnalysisAbortsTheCanary(t *testing.T) {
	prom := &counter{value: 0.5}
	routing := "      trafficRouting: {istio: {virtualService: {name: backend-vsvc}}}"
	d := newDriver(t, routedOptions(prom), canaryRollout("backend:v1", routing))
	v1 := d.pass().Stable
	d.render(canaryRollout("backend:v2", routing))
	s := d.until("aborted", 30, func(s rollout.Status) bool { return s.Phase == rollout.PhaseDegraded })
	// failureLimit 1: the second failed measurement fails the metric.
	if n := prom.count(); n != 2 {
		t.Fatalf("%d measurements, want failureLimit+1 = 2", n)
	}
	if !strings.Contains(s.Message, "RolloutAborted") || !strings.Contains(s.Message, "Failed") {
		t.Fatalf("message %q", s.Message)
	}
	if w := routedWeight(t, d.w); w != "0" || selector(t, d.w, "backend-stable") != v1 {
		t.Fatalf("after the abort the routes carry %s and stable selects %s, want 0 and %s", w, selector(t, d.w, "backend-stable"), v1)
	}
	canary := "backend-" + s.Revision
	if got := d.w.deployments("backend")[canary]; got == 0 {
		t.Fatal("the canary went before the abort's scale-down delay")
	}
	d.now = d.now.Add(31 * time.Second)
	d.pass()
	if got := d.w.deployments("backend")[canary]; got != 0 {
		t.Fatalf("canary at %d after the abort's delay, want 0", got)
	}
	for range 3 {
		d.now = d.now.Add(time.Hour)
		if s = d.pass(); s.Phase != rollout.PhaseDegraded {
			t.Fatalf("an aborted rollout recovered by itself: %+v", s)
		}
	}
	// A revert in Git (the stable template again) is the rollback.
	d.render(canaryRollout("backend:v1", routing))
	if s = d.until("healthy", 5, func(s rollout.Status) bool { return s.Phase == rollout.PhaseHealthy }); s.Stable != v1 {
		t.Fatalf("after the revert %+v", s)
	}
}

// Without a router the split is the ratio of replicas, and the
// available pods never drop below the replicas.
func TestAReplicaRatioCanary(t *testing.T) {
	prom := &counter{value: 1}
	d := newDriver(t, rollout.Options{Providers: map[string]analysis.Provider{"prometheus": prom}}, canaryRollout("backend:v1", ""))
	v1 := d.pass().Stable
	d.render(canaryRollout("backend:v2", ""))
	var v2 string
	d.until("weight 20", 10, func(s rollout.Status) bool {
		v2 = s.Revision
		got := d.w.deployments("backend")
		if got["backend-"+v1]+got["backend-"+v2] < 10 {
			t.Fatalf("fewer than 10 pods: %v", got)
		}
		return s.Step == 1
	})
	if got := d.w.deployments("backend"); got["backend-"+v1] != 8 || got["backend-"+v2] != 2 {
		t.Fatalf("at weight 20: %v, want 8 stable and 2 canary", got)
	}
	// The split holds through the pause.
	for range 3 {
		d.now = d.now.Add(10 * time.Second)
		if s := d.pass(); s.Step != 1 {
			t.Fatalf("left the pause early: %+v", s)
		}
		if got := d.w.deployments("backend"); got["backend-"+v1] != 8 || got["backend-"+v2] != 2 {
			t.Fatalf("during the pause: %v, want 8 stable and 2 canary", got)
		}
	}
	atLeast10 := func(s rollout.Status) {
		if got := d.w.deployments("backend"); got["backend-"+v1]+got["backend-"+v2] < 10 {
			t.Fatalf("fewer than 10 pods: %v", got)
		}
	}
	d.until("the pause without duration", 30, func(s rollout.Status) bool { atLeast10(s); return s.Step == 4 })
	if got := d.w.deployments("backend"); got["backend-"+v1] != 5 || got["backend-"+v2] != 5 {
		t.Fatalf("at weight 50: %v, want 5 and 5", got)
	}
	d.w.command("backend", rollout.CommandPromote, "p")
	d.until("promoted", 30, func(s rollout.Status) bool { atLeast10(s); return s.Stable == v2 && s.Phase == rollout.PhaseHealthy })
	if got := d.w.deployments("backend"); len(got) != 1 || got["backend-"+v2] != 10 {
		t.Fatalf("after the promotion: %v", got)
	}
}

func TestANewRevisionReplacesTheCanary(t *testing.T) {
	prom := &counter{value: 1}
	routing := "      trafficRouting: {istio: {virtualService: {name: backend-vsvc}}}"
	d := newDriver(t, routedOptions(prom), canaryRollout("backend:v1", routing))
	v1 := d.pass().Stable
	d.render(canaryRollout("backend:v2", routing))
	s := d.until("pause", 10, func(s rollout.Status) bool { return s.Step == 1 })
	v2 := s.Revision
	d.render(canaryRollout("backend:v3", routing))
	s = d.pass()
	if s.Revision == v2 || s.Stable != v1 || s.Step != 0 || s.Weight != 0 {
		t.Fatalf("after v3: %+v", s)
	}
	if got := d.w.deployments("backend"); got["backend-"+v2] != 0 || got["backend-"+v1] != 10 {
		t.Fatalf("deployments %v: v2's canary must be gone, stable kept", got)
	}
}

func TestTheProgressDeadlineAbortsACanaryThatNeverBecomesAvailable(t *testing.T) {
	routing := "      trafficRouting: {istio: {virtualService: {name: backend-vsvc}}}"
	d := newDriver(t, routedOptions(&counter{value: 1}), canaryRollout("backend:v1", routing))
	v1 := d.pass().Stable
	d.w.ready = func(name string, replicas int64) int64 {
		if name == "backend-"+v1 {
			return replicas
		}
		return 0
	}
	d.render(canaryRollout("backend:v2", routing))
	start := d.now
	var s rollout.Status
	for s = d.pass(); s.Phase != rollout.PhaseDegraded && d.now.Sub(start) < time.Hour; s = d.pass() {
		d.now = d.now.Add(time.Minute)
	}
	if !strings.Contains(s.Message, "ProgressDeadlineExceeded") || d.now.Sub(start) < 10*time.Minute {
		t.Fatalf("aborted after %s: %q", d.now.Sub(start), s.Message)
	}
	if w := routedWeight(t, d.w); w != "0" {
		t.Fatalf("weight %s after the abort", w)
	}
}

func TestCommandsAbortRetryPausePromoteFull(t *testing.T) {
	routing := "      trafficRouting: {istio: {virtualService: {name: backend-vsvc}}}"
	d := newDriver(t, routedOptions(&counter{value: 1}), canaryRollout("backend:v1", routing))
	d.pass()
	d.render(canaryRollout("backend:v2", routing))
	d.until("pause", 10, func(s rollout.Status) bool { return s.Step == 1 })
	d.w.command("backend", rollout.CommandAbort, "a")
	if s := d.pass(); s.Phase != rollout.PhaseDegraded || !strings.Contains(s.Message, "by request") {
		t.Fatalf("after abort: %+v", s)
	}
	d.w.command("backend", rollout.CommandRetry, "b")
	if s := d.pass(); s.Phase == rollout.PhaseDegraded || s.Step != 0 {
		t.Fatalf("after retry: %+v", s)
	}
	d.w.command("backend", rollout.CommandPause, "c")
	for range 3 {
		d.now = d.now.Add(time.Hour)
		if s := d.pass(); s.Phase != rollout.PhasePaused || s.Step != 0 {
			t.Fatalf("paused: %+v", s)
		}
	}
	d.w.command("backend", rollout.CommandResume, "d")
	d.w.command("backend", rollout.CommandPromoteFull, "e")
	s := d.until("promoted", 10, func(s rollout.Status) bool { return s.Revision == s.Stable })
	if s.Weight != 0 {
		t.Fatalf("after promote-full: %+v", s)
	}
	// A token already handled is not carried out again.
	d.render(canaryRollout("backend:v3", routing))
	if s = d.until("weight 20 for v3", 10, func(s rollout.Status) bool { return s.Weight == 20 }); s.Stable == s.Revision {
		t.Fatalf("the old promote-full token promoted v3: %+v", s)
	}
}

const blueGreen = `apiVersion: v1
kind: Service
metadata: {name: web-active}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-preview}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: smoke}
spec:
  metrics:
  - name: ok
    interval: 10s
    count: 2
    successCondition: result[0] >= 0.95
    provider:
      prometheus: {address: http://prometheus:9090, query: up}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: IMAGE}]}
  strategy:
    blueGreen:
      activeService: web-active
      previewService: web-preview
      previewReplicaCount: 1
      prePromotionAnalysis: {templates: [{templateName: smoke}]}
`

func TestBlueGreenSwitchesOnlyAfterThePrePromotionAnalysis(t *testing.T) {
	for _, value := range []float64{1, 0} {
		prom := &counter{value: value}
		d := newDriver(t, rollout.Options{Providers: map[string]analysis.Provider{"prometheus": prom}}, strings.Replace(blueGreen, "IMAGE", "web:v1", 1))
		blue := d.pass().Stable
		d.render(strings.Replace(blueGreen, "IMAGE", "web:v2", 1))
		s := d.pass()
		green := s.Revision
		if selector(t, d.w, "web-active") != blue || selector(t, d.w, "web-preview") != green {
			t.Fatal("preview must select the new revision, active the old")
		}
		if got := d.w.deployments("web"); got["web-"+green] != 1 || got["web-"+blue] != 4 {
			t.Fatalf("deployments %v, want the preview at previewReplicaCount", got)
		}
		s = d.until("concluded", 20, func(s rollout.Status) bool { return s.Stable == green || s.Phase == rollout.PhaseDegraded })
		if value == 0 {
			if s.Phase != rollout.PhaseDegraded || selector(t, d.w, "web-active") != blue {
				t.Fatalf("a failed pre-promotion analysis: %+v, active selects %s", s, selector(t, d.w, "web-active"))
			}
			continue
		}
		if prom.count() != 2 || selector(t, d.w, "web-active") != green {
			t.Fatalf("after %d measurements active selects %s, want %s", prom.count(), selector(t, d.w, "web-active"), green)
		}
		if got := d.w.deployments("web"); got["web-"+green] != 4 || got["web-"+blue] != 4 {
			t.Fatalf("at the switch %v, want both at 4 until the scale-down delay", got)
		}
		d.now = d.now.Add(31 * time.Second)
		d.until("healthy", 5, func(s rollout.Status) bool { return s.Phase == rollout.PhaseHealthy })
		if got := d.w.deployments("web"); len(got) != 1 {
			t.Fatalf("after the delay %v", got)
		}
	}
}

// Unknown fields and fields converge cannot honour are refused by name.
func TestParseRefusesWhatItCannotHonour(t *testing.T) {
	for field, yaml := range map[string]string{
		"spec.strategy.canary.steps[0].experiment": "steps: [{experiment: {templates: []}}]",
		"spec.strategy.canary.trafficRouting.alb":  "canaryService: c\n      stableService: s\n      trafficRouting: {alb: {ingress: x}}",
		`unknown field "stepz"`:                    "stepz: []",
		"setWeight: 150 is not a percentage":       "steps: [{setWeight: 150}]",
		"exactly one of setWeight":                 "steps: [{setWeight: 5, pause: {}}]",
	} {
		objs, err := object.DecodeBytes([]byte(`apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: r, namespace: shop}
spec:
  selector: {matchLabels: {app: r}}
  template: {metadata: {labels: {app: r}}, spec: {containers: [{name: r, image: r}]}}
  strategy:
    canary:
      `+yaml+"\n"), object.DefaultDecodeOptions())
		if err != nil {
			t.Fatal(err)
		}
		_, err = rollout.Parse(objs[0])
		if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(field, "setWeight: ")) && !strings.Contains(err.Error(), field) {
			t.Errorf("%s: error %v, want it named", field, err)
		}
	}
}

// A plan (DryRun) shows what a pass would apply but takes no measurement
// and leaves no trace in the engine.
func TestADryRunTakesNoMeasurement(t *testing.T) {
	prom := &counter{value: 1}
	routing := "      trafficRouting: {istio: {virtualService: {name: backend-vsvc}}}"
	d := newDriver(t, routedOptions(prom), canaryRollout("backend:v1", routing))
	d.pass()
	d.render(canaryRollout("backend:v2", routing))
	d.until("analysis step", 20, func(s rollout.Status) bool { return s.Step == 2 })
	n := prom.count()
	d.now = d.now.Add(time.Hour)
	for range 3 {
		_, statuses, err := d.e.Process(context.Background(), rollout.Input{Set: d.set, Live: d.w, Now: d.now, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if statuses[0].Step != 2 {
			t.Fatalf("a dry run moved the rollout: %+v", statuses[0])
		}
	}
	if prom.count() != n {
		t.Fatalf("a dry run took %d measurements", prom.count()-n)
	}
	if s := d.pass(); prom.count() != n+1 || s.Step != 2 {
		t.Fatalf("the pass after the plans: %+v, %d measurements", s, prom.count()-n)
	}
}
