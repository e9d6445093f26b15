package reconcile_test

import (
	"strings"
	"testing"

	"github.com/converge-dev/converge/promote"
	"github.com/converge-dev/converge/reconcile"
)

// TestPromotionGate: an environment passes the gate when the cluster
// runs what Git says, Healthy; a hand edit (OutOfSync) fails it, and the
// gate writes nothing.
func TestPromotionGate(t *testing.T) {
	f := newFixture(t)
	f.repo.Commit(t, "dev", map[string]string{"envs/dev/app.yaml": configMapYAML("app", map[string]string{"IMAGE": "web:1.5.0"})})
	u := f.unit("dev", "envs/dev")
	f.reconcile(u)
	dev := promote.Environment{Name: "dev", Dir: "envs/dev"}
	gate := f.r.PromotionGate(func(e promote.Environment) (reconcile.Unit, error) {
		if e.Name != "dev" {
			t.Fatalf("the gate asked for %s", e)
		}
		return u, nil
	})
	res, err := gate.Check(f.ctx, dev, nil)
	if err != nil || !res.Passed || res.Name != "health" || !strings.Contains(res.Detail, "dev runs main@sha1:") || !strings.Contains(res.Detail, "Synced and Healthy") {
		t.Fatalf("in sync and healthy: %+v, %v", res, err)
	}

	cm, err := f.configMap("app")
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["IMAGE"] = "web:hotfix"
	if err := f.env.Client.Update(f.ctx, cm); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10e9, "the gate sees the hand edit", func() bool {
		res, err = gate.Check(f.ctx, dev, nil)
		return err == nil && !res.Passed
	})
	if !strings.Contains(res.Detail, "dev is OutOfSync with main@sha1:") {
		t.Fatalf("the detail says why: %q", res.Detail)
	}
	if cm, _ := f.configMap("app"); cm.Data["IMAGE"] != "web:hotfix" {
		t.Fatal("the gate wrote to the cluster")
	}
}
