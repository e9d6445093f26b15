package main

import (
	"context"
	"fmt"
	"strings"
	"testing/fstest"
	"time"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/internal/testenv"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/rollout"
	"github.com/converge-dev/converge/source"
)

// rolloutWorkloads is how many canaries rollout-100 steps at once.
const rolloutWorkloads = 100

// rolloutComparison steps 100 replica-ratio canaries, one Rollout each,
// through five steps (setWeight 20, pause, setWeight 50, pause,
// setWeight 100) and their promotion on the living plane, as one unit
// through the reconcile engine with the rollouts' clock moved by the
// bench; the peer is the same 100 workloads changed by a plain apply of
// their Deployments (one pass, no steps). It reports the API requests per
// step per workload and the host CPU per step.
var rolloutComparison = comparison{name: "rollout", run: runRollout}

func runRollout(ctx context.Context, h *harness) ([]result, error) {
	plane, err := h.living()
	if err != nil {
		return nil, err
	}
	c, err := cluster.New(plane.Config)
	if err != nil {
		return nil, err
	}
	ns := "bench-rollout"
	if err := createNamespace(ctx, plane.Client, ns); err != nil {
		return nil, err
	}
	image := "registry.example.com/app:v1"
	files := func(image string, rollouts bool) fstest.MapFS {
		var b strings.Builder
		for i := range rolloutWorkloads {
			if rollouts {
				fmt.Fprintf(&b, rolloutManifest, i, image)
			} else {
				fmt.Fprintf(&b, deploymentManifest, i, image)
			}
		}
		return fstest.MapFS{"app/all.yaml": {Data: []byte(b.String())}}
	}
	var snap *source.Snapshot
	fetch := reconcile.FetcherFunc(func(context.Context, *reconcile.Unit) (*source.Snapshot, error) { return snap, nil })
	revision := func(fs fstest.MapFS, rev string) { snap = &source.Snapshot{Revision: rev, FS: fs, Files: 1} }

	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	engine := rollout.New(rollout.Options{Poll: time.Second})
	r, err := reconcile.New(c, reconcile.WithFetcher(fetch), reconcile.WithRollouts(engine), reconcile.WithRolloutClock(func() time.Time { return now }))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	u := reconcile.Unit{Name: "rollouts", Namespace: ns, Source: reconcile.Source{URL: "bench://rollouts"}, Path: "app",
		Destination: reconcile.Destination{Namespace: ns}, Sync: reconcile.Sync{Prune: true}, Timeout: 5 * time.Minute}

	// pass runs passes until every rollout satisfies done, moving the
	// clock to the earliest Next; it returns the passes it took.
	pass := func(what string, done func(rollout.Status) bool) (int, error) {
		deadline := time.Now().Add(5 * time.Minute)
		for n := 1; ; n++ {
			s, err := r.Reconcile(ctx, u)
			if err != nil {
				return n, fmt.Errorf("%s: %w", what, err)
			}
			all, next := true, time.Time{}
			for _, ro := range s.Rollouts {
				if ro.Phase == rollout.PhaseDegraded {
					return n, fmt.Errorf("%s: %s: %s", what, ro.Rollout, ro.Message)
				}
				all = all && done(ro)
				if !ro.Next.IsZero() && (next.IsZero() || ro.Next.Before(next)) {
					next = ro.Next
				}
			}
			if len(s.Rollouts) != rolloutWorkloads {
				return n, fmt.Errorf("%s: %d rollouts in the status", what, len(s.Rollouts))
			}
			if all {
				return n, nil
			}
			if time.Now().After(deadline) {
				return n, fmt.Errorf("%s: not done after %d passes", what, n)
			}
			if next.After(now) {
				now = next
			}
			time.Sleep(200 * time.Millisecond) // the plane's pods become ready in real time
		}
	}
	revision(files(image, true), "v1")
	if _, err := pass("first revision", func(s rollout.Status) bool { return s.Phase == rollout.PhaseHealthy }); err != nil {
		return nil, err
	}
	revision(files("registry.example.com/app:v2", true), "v2")
	before, cpu, start := c.Requests(), selfCPU(), time.Now()
	passes, err := pass("five steps", func(s rollout.Status) bool { return s.Phase == rollout.PhaseHealthy && s.Revision == s.Stable })
	if err != nil {
		return nil, err
	}
	wall, cpu, requests := time.Since(start), selfCPU()-cpu, c.Requests().Sub(before)
	const steps = 5
	logf("rollout: %d canaries through %d steps in %d passes, %s (CPU %s), %d requests", rolloutWorkloads, steps, passes, seconds(wall), seconds(cpu), requests.Total())

	// The peer: the same workloads as plain Deployments, changed at once.
	peerNS := "bench-rollout-plain"
	if err := createNamespace(ctx, plane.Client, peerNS); err != nil {
		return nil, err
	}
	plain, err := reconcile.New(c, reconcile.WithFetcher(fetch))
	if err != nil {
		return nil, err
	}
	defer plain.Close()
	pu := u
	pu.Name, pu.Namespace, pu.Destination.Namespace = "plain", peerNS, peerNS
	revision(files(image, false), "p1")
	if _, err := plain.Reconcile(ctx, pu); err != nil {
		return nil, err
	}
	revision(files("registry.example.com/app:v2", false), "p2")
	peerBefore, peerCPU := c.Requests(), selfCPU()
	if _, err := plain.Reconcile(ctx, pu); err != nil {
		return nil, err
	}
	peerCPU, peerRequests := selfCPU()-peerCPU, c.Requests().Sub(peerBefore)

	perStep := cpu / steps
	return []result{{
		Name: fmt.Sprintf("rollout-%d", rolloutWorkloads), Converge: perStep, PeerName: "plain-apply-cpu", Peer: peerCPU,
		Requests: requests.Total(), Writes: -1,
		Extra: []string{
			fmt.Sprintf("requests_per_step_per_workload=%.2f", float64(requests.Total())/steps/rolloutWorkloads),
			fmt.Sprintf("cpu_per_step=%s cpu_per_step_per_workload_ms=%.2f", seconds(perStep), ms(perStep)/rolloutWorkloads),
			fmt.Sprintf("steps=%d passes=%d wall=%s peer_requests=%d", steps, passes, seconds(wall), peerRequests.Total()),
			fmt.Sprintf("requests_by_verb=%q", requests.String()),
		},
	}}, nil
}

const rolloutManifest = `---
apiVersion: v1
kind: Service
metadata: {name: app-%[1]d}
spec: {selector: {app: app-%[1]d}, ports: [{port: 80}]}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: app-%[1]d}
spec:
  replicas: 2
  selector: {matchLabels: {app: app-%[1]d}}
  template:
    metadata: {labels: {app: app-%[1]d}}
    spec: {containers: [{name: app, image: "%[2]s"}]}
  strategy:
    canary:
      stableService: app-%[1]d
      steps:
      - setWeight: 20
      - pause: {duration: 30s}
      - setWeight: 50
      - pause: {duration: 30s}
      - setWeight: 100
`

const deploymentManifest = `---
apiVersion: v1
kind: Service
metadata: {name: app-%[1]d}
spec: {selector: {app: app-%[1]d}, ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app-%[1]d}
spec:
  replicas: 2
  selector: {matchLabels: {app: app-%[1]d}}
  template:
    metadata: {labels: {app: app-%[1]d}}
    spec: {containers: [{name: app, image: "%[2]s"}]}
`

// living returns the shared living control plane, starting it on first
// use.
func (h *harness) living() (*testenv.Env, error) {
	if h.livingPlane == nil {
		env, err := testenv.Start(testenv.Options{Mode: testenv.Living})
		if err != nil {
			return nil, fmt.Errorf("start living control plane: %w", err)
		}
		h.livingPlane = env
	}
	return h.livingPlane, nil
}
