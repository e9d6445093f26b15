package rollout_test

import (
	"os"
	"testing"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/rollout"
)

// The Rollout and AnalysisTemplate of shared/gitops-patterns.md, copied
// byte for byte into testdata/seed/rollout.yaml, parse as written.
func TestTheSeedRolloutParses(t *testing.T) {
	data, err := os.ReadFile("testdata/seed/rollout.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := object.DecodeBytes(data, object.DefaultDecodeOptions())
	if err != nil {
		t.Fatal(err)
	}
	r, err := rollout.Parse(objs[0])
	if err != nil {
		t.Fatal(err)
	}
	c := r.Spec.Strategy.Canary
	if r.Replicas() != 10 || len(c.Steps) != 9 || c.TrafficRouting.Istio.VirtualServices[0].Name != "backend-vsvc" {
		t.Fatalf("parsed %+v", r.Spec)
	}
	if _, err := rollout.RouterFor(r); err != nil {
		t.Fatal(err)
	}
}
