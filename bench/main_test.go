package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestResultLine(t *testing.T) {
	r := result{Name: "apply-noop-1000", Converge: 80 * time.Millisecond, PeerName: "flux-ssa", Peer: 2900 * time.Millisecond}
	assert.Equal(t, "BENCH name=apply-noop-1000 converge=0.08s peer=flux-ssa:2.90s ratio=36.2 requests=0 writes=0", r.String())
	r.Writes = -1
	r.Extra = []string{"peak_mib=12"}
	assert.Equal(t, "BENCH name=apply-noop-1000 converge=0.08s peer=flux-ssa:2.90s ratio=36.2 requests=0 peak_mib=12", r.String())
}
