package health_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
)

func TestKstatusMapping(t *testing.T) {
	for s, k := range map[health.Status]kstatus.Status{
		health.Healthy: kstatus.CurrentStatus, health.Progressing: kstatus.InProgressStatus,
		health.Degraded: kstatus.FailedStatus, health.Missing: kstatus.NotFoundStatus,
		health.Unknown: kstatus.UnknownStatus,
	} {
		assert.Equal(t, k, s.Kstatus(), s)
		assert.Equal(t, s, health.FromKstatus(k), "round trip of %s", s)
	}
	assert.Equal(t, kstatus.InProgressStatus, health.Suspended.Kstatus())
	assert.Equal(t, health.Progressing, health.FromKstatus(kstatus.TerminatingStatus))
	assert.Equal(t, health.Unknown, health.FromKstatus("Weird"))
	assert.Equal(t, kstatus.UnknownStatus, health.Status("Weird").Kstatus())
}

func TestWorstAndSort(t *testing.T) {
	id := func(name string) object.ID { return object.ID{Kind: "ConfigMap", Namespace: "ns", Name: name} }
	rs := []health.ObjectResult{
		{ID: id("b"), Result: health.Result{Status: health.Healthy}},
		{ID: id("a"), Result: health.Result{Status: health.Progressing}},
		{ID: id("d"), Result: health.Result{Status: health.Degraded}},
		{ID: id("c"), Result: health.Result{Status: health.Degraded}},
		{ID: id("e"), Result: health.Result{Status: health.Suspended}},
	}
	assert.Equal(t, health.Degraded, health.Worst(rs))
	assert.Equal(t, health.Healthy, health.Worst(nil))
	assert.Equal(t, health.Unknown, health.Worst(append(rs, health.ObjectResult{ID: id("z"), Result: health.Result{Status: health.Unknown}})))
	assert.Equal(t, health.Missing, health.Worst([]health.ObjectResult{rs[0], {ID: id("m"), Result: health.Result{Status: health.Missing}}, rs[1]}))
	health.Sort(rs)
	var names []string
	for _, r := range rs {
		names = append(names, r.ID.Name)
	}
	assert.Equal(t, []string{"c", "d", "a", "e", "b"}, names, "worst first, then by ID")
}
