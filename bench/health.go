package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/health/healthtest"
)

// healthComparison times the health of 10,000 mixed objects, generated in
// memory: converge's engine (kstatus plus its own rules and the built-in CEL
// rules) against kstatus's Compute alone on the same objects.
var healthComparison = comparison{name: "health", run: runHealth}

const healthObjects = 10_000

func runHealth(ctx context.Context, _ *harness) ([]result, error) {
	objs := healthtest.MixedObjects(healthObjects)
	engine, err := health.New()
	if err != nil {
		return nil, err
	}
	var sink int
	convergeRun := func() {
		for _, o := range objs {
			if engine.Check(o).Status == health.Healthy {
				sink++
			}
		}
	}
	var computeErr error
	kstatusRun := func() {
		for _, o := range objs {
			r, err := kstatus.Compute(o)
			if err != nil {
				computeErr = err
				return
			}
			if r.Status == kstatus.CurrentStatus {
				sink++
			}
		}
	}
	// Warm up both, then take the best of several interleaved rounds so
	// that a noisy neighbour on the machine hurts neither side alone.
	convergeRun()
	kstatusRun()
	if computeErr != nil {
		return nil, fmt.Errorf("kstatus: %w", computeErr)
	}
	const rounds = 15
	best := func(f func()) time.Duration {
		runtime.GC() // neither side pays for the other's garbage
		start := time.Now()
		f()
		return time.Since(start)
	}
	var conv, peer time.Duration
	for i := range rounds {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c, p := best(convergeRun), best(kstatusRun)
		if i == 0 || c < conv {
			conv = c
		}
		if i == 0 || p < peer {
			peer = p
		}
	}
	_ = sink
	counts := map[health.Status]int{}
	for _, o := range objs {
		counts[engine.Check(o).Status]++
	}
	return []result{{
		Name: fmt.Sprintf("health-%d", healthObjects), Converge: conv, PeerName: "kstatus", Peer: peer,
		Requests: 0, Writes: -1,
		Extra: []string{fmt.Sprintf("healthy=%d progressing=%d degraded=%d suspended=%d unknown=%d",
			counts[health.Healthy], counts[health.Progressing], counts[health.Degraded], counts[health.Suspended], counts[health.Unknown])},
	}}, nil
}
