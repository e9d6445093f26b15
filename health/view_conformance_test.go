package health_test

import (
	"testing"

	"github.com/converge-dev/converge/health/healthtest"
)

// TestInformerViewConformance runs the View conformance suite against the
// informer view health's own living tests wait on, so the suite is proven
// on a second implementation besides cluster's.
func TestInformerViewConformance(t *testing.T) {
	healthtest.TestView(t, func(t *testing.T) healthtest.Harness {
		log := &requestLog{}
		return healthtest.Harness{
			View:      newInformerView(t, log.wrap(env.Config)),
			Client:    env.Client,
			Namespace: env.Namespace(t),
			Requests: func() int64 {
				log.mu.Lock()
				defer log.mu.Unlock()
				return int64(len(log.reqs))
			},
		}
	})
}
