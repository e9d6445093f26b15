package reconcile

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/promote"
)

// PromotionGate returns a promote.Gate that passes when what an
// environment runs is what its Git source says and all of it is Healthy:
// it plans (writes nothing) the unit unitFor gives for the environment
// and looks at the plan's sync and health, waiting up to 30 seconds for
// the health to be known. A promotion takes only what runs, healthy,
// from one environment to the next.
//
// unitFor maps an environment to the unit that applies it (for the
// quickstart's repository, clusters/<env>); the unit's owner must be the
// one that applied it, so that the plan compares with its inventory.
func (r *Reconciler) PromotionGate(unitFor func(promote.Environment) (Unit, error)) promote.Gate {
	return promote.GateFunc(func(ctx context.Context, env promote.Environment, images []promote.ImageRef) (promote.GateResult, error) {
		u, err := unitFor(env)
		if err != nil {
			return promote.GateResult{}, err
		}
		// Health is Unknown until the watch cache holds the objects; wait
		// for an answer, within the gate's bound.
		wait, cancel := context.WithTimeout(ctx, gateWait)
		defer cancel()
		var s Status
		for {
			if s, err = r.Plan(ctx, u); err != nil {
				return promote.GateResult{}, fmt.Errorf("plan %s: %w", u.Ref(), err)
			}
			if s.Health != health.Unknown || wait.Err() != nil {
				break
			}
			select {
			case <-wait.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
		res := promote.GateResult{Name: "health", Passed: s.Sync == Synced && s.Health == health.Healthy}
		var parts []string
		if s.Sync != Synced {
			parts = append(parts, fmt.Sprintf("%s is %s with %s", env.Name, s.Sync, s.Revision))
		}
		if s.Health != health.Healthy {
			parts = append(parts, fmt.Sprintf("%s is %s", env.Name, s.Health))
			if c := s.Condition(ConditionHealthy); c != nil && c.Message != "" {
				parts[len(parts)-1] += ": " + c.Message
			}
		}
		if res.Passed {
			parts = append(parts, fmt.Sprintf("%s runs %s, Synced and Healthy", env.Name, revisionOnly(s.Revision)))
		}
		res.Detail = strings.Join(parts, "; ")
		return res, nil
	})
}

// gateWait bounds how long a gate waits for health to be known.
const gateWait = 30 * time.Second

// revisionOnly shortens "main@sha1:abc…" to "main@sha1:abcdef123456".
func revisionOnly(rev string) string {
	if i := strings.Index(rev, "sha1:"); i >= 0 && len(rev) > i+5+12 {
		return rev[:i+5+12]
	}
	return rev
}
