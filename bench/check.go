package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/converge-dev/converge/check"
	"github.com/converge-dev/converge/render/kustomize/kustomizetest"
)

// checkComparison runs every repository rule of check over the tree the
// render comparison generates (50 apps × 3 overlays) and compares it
// with rendering those overlays with `kustomize build`: the check must
// cost less than the render a user already pays for. check-history-N
// runs the history rule over N commits of the same tree, against the
// same render.
var checkComparison = comparison{name: "check", run: runCheck}

func runCheck(ctx context.Context, _ *harness) ([]result, error) {
	cli, err := kustomizetest.CLI()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "converge-bench-check-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	topts := kustomizetest.DefaultTreeOptions()
	if err := kustomizetest.WriteTree(dir, topts); err != nil {
		return nil, err
	}
	overlays := kustomizetest.OverlayPaths(topts)

	peer, peerCPU, _, _, err := cliBuildAll(ctx, cli, dir, overlays)
	if err != nil {
		return nil, err
	}

	// converge: a new target each run (files read and parsed again), all
	// repository rules; the fastest of coldRuns counts, the machine
	// being shared.
	rules := check.RepositoryRules(check.DefaultRepositoryOptions())
	var (
		best, bestCPU time.Duration
		rep           *check.Report
	)
	for range coldRuns {
		cpu0 := selfCPU()
		start := time.Now()
		r, err := check.Run(ctx, check.NewTarget(os.DirFS(dir), "bench", check.DefaultLimits()), rules, check.DefaultOptions())
		took := time.Since(start)
		if err != nil {
			return nil, err
		}
		if best == 0 || took < best {
			best, bestCPU, rep = took, selfCPU()-cpu0, r
		}
	}
	history, err := runHistoryCheck(ctx, kustomizetest.Files(topts), overlays, "kustomize-cli", peer, peerCPU)
	if err != nil {
		return nil, err
	}
	return []result{{
		Name: fmt.Sprintf("check-overlays-%d", len(overlays)), Converge: best, PeerName: "kustomize-cli", Peer: peer, Writes: -1,
		Extra: []string{
			fmt.Sprintf("rules=%d", len(rep.Rules)), fmt.Sprintf("findings=%d", len(rep.Findings())), fmt.Sprintf("notes=%d", len(rep.Notes)),
			fmt.Sprintf("cpu=%s", seconds(bestCPU)), fmt.Sprintf("peer_cpu=%s", seconds(peerCPU)),
			fmt.Sprintf("runs=%d(fastest)", coldRuns),
		},
	}, history}, nil
}
