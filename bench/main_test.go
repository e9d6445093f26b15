package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/converge-dev/converge/object"
)

func TestResultLine(t *testing.T) {
	r := result{Name: "apply-noop-1000", Converge: 80 * time.Millisecond, PeerName: "flux-ssa", Peer: 2900 * time.Millisecond}
	assert.Equal(t, "BENCH name=apply-noop-1000 converge=0.08s peer=flux-ssa:2.90s ratio=36.2 requests=0 writes=0", r.String())
	r.Writes = -1
	r.Extra = []string{"peak_mib=12"}
	assert.Equal(t, "BENCH name=apply-noop-1000 converge=0.08s peer=flux-ssa:2.90s ratio=36.2 requests=0 peak_mib=12", r.String())
}

func TestApplyObjectsMixFourKindsWithoutAnOwner(t *testing.T) {
	objs := applyObjects("ns", 8)
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
		assert.Equal(t, "ns", o.GetNamespace())
		assert.NotContains(t, o.GetLabels(), object.LabelOwner, "each tool sets its own ownership labels")
	}
	assert.Equal(t, map[string]int{"ConfigMap": 2, "Widget": 2, "Service": 2, "Deployment": 2}, kinds)
	assert.Equal(t, widgetGVK, objs[1].GroupVersionKind())
}
