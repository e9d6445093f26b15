package main

import (
	"fmt"
	"os"

	"github.com/converge-dev/converge/internal/testenv"
)

// harness holds what comparisons share: one control plane for every
// comparison that needs an API server, so converge and its peers meet the
// same server in the same run.
type harness struct {
	plane       *testenv.Env
	livingPlane *testenv.Env // for comparisons whose workloads must run
}

// bare returns the shared bare control plane, starting it on first use.
func (h *harness) bare() (*testenv.Env, error) {
	if h.plane == nil {
		env, err := testenv.Start(testenv.Options{Mode: testenv.Bare})
		if err != nil {
			return nil, fmt.Errorf("start control plane: %w", err)
		}
		h.plane = env
	}
	return h.plane, nil
}

func (h *harness) close() {
	if h.livingPlane != nil {
		if err := h.livingPlane.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: stop living control plane:", err)
		}
		h.livingPlane = nil
	}
	if h.plane != nil {
		if err := h.plane.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: stop control plane:", err)
		}
		h.plane = nil
	}
}
