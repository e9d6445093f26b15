package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/kustomize"
	"github.com/converge-dev/converge/render/kustomize/kustomizetest"
)

// renderComparison renders a generated tree of 50 apps × 3 overlays (about
// 700 objects) with converge and with `kustomize build` run once per
// overlay, cold and then after a commit that changes one file of one app.
// Every converge output is checked byte for byte against the CLI's.
var renderComparison = comparison{name: "render", run: runRender}

func runRender(ctx context.Context, _ *harness) ([]result, error) {
	cli, err := kustomizetest.CLI()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "converge-bench-render-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	topts := kustomizetest.DefaultTreeOptions()
	if err := kustomizetest.WriteTree(dir, topts); err != nil {
		return nil, err
	}
	overlays := kustomizetest.OverlayPaths(topts)

	// The peer: the CLI once per overlay, one after another, as a loop
	// over `kustomize build` would.
	peerCold, peerCPU, peerOut, peerPeak, err := cliBuildAll(ctx, cli, dir, overlays)
	if err != nil {
		return nil, err
	}

	// converge, cold: an empty cache, both cores. The machine is shared,
	// so the cold render runs coldRuns times, each with a new cache, and
	// the fastest counts; CPU time is printed too, as it does not depend
	// on what else runs.
	fsys := os.DirFS(dir)
	var (
		cache   *kustomize.Cache
		r       *kustomize.Renderer
		cold    time.Duration
		coldCPU time.Duration
		objects int
		peak    float64
	)
	for range coldRuns {
		resetPeak()
		cache = kustomize.NewCache()
		r = kustomize.New(kustomize.WithCache(cache))
		cpu0 := selfCPU()
		start := time.Now()
		n, err := renderAll(ctx, r, fsys, overlays)
		took := time.Since(start)
		if err != nil {
			return nil, err
		}
		if cold == 0 || took < cold {
			cold, coldCPU, objects = took, selfCPU()-cpu0, n
		}
		peak = max(peak, peakMiB())
	}
	if err := sameAsCLI(ctx, r, fsys, overlays, peerOut); err != nil {
		return nil, fmt.Errorf("cold render: %w", err)
	}
	results := []result{{
		Name: "render-overlays", Converge: cold, PeerName: "kustomize-cli", Peer: peerCold, Writes: -1,
		Extra: []string{
			fmt.Sprintf("overlays=%d", len(overlays)), fmt.Sprintf("objects=%d", objects),
			fmt.Sprintf("peak_mib=%.0f", peak), fmt.Sprintf("peer_peak_mib=%.0f", peerPeak),
			fmt.Sprintf("cpu=%s", seconds(coldCPU)), fmt.Sprintf("peer_cpu=%s", seconds(peerCPU)),
			fmt.Sprintf("runs=%d(fastest)", coldRuns),
		},
	}}

	// A commit changes one file of one app; the tree is rendered again.
	if _, err := kustomizetest.Touch(dir, 7, "feature.flag=on"); err != nil {
		return results, err
	}
	hits0, misses0 := cache.Stats()
	cpu0 := selfCPU()
	start := time.Now()
	if _, err := renderAll(ctx, r, fsys, overlays); err != nil {
		return results, err
	}
	incremental := time.Since(start)
	incrementalCPU := selfCPU() - cpu0
	hits, misses := cache.Stats()
	peerAfter, peerAfterCPU, peerOutAfter, _, err := cliBuildAll(ctx, cli, dir, overlays)
	if err != nil {
		return results, err
	}
	// Identical to a cold render: the CLI's output of the changed tree.
	if err := sameAsCLI(ctx, r, fsys, overlays, peerOutAfter); err != nil {
		return results, fmt.Errorf("incremental render: %w", err)
	}
	results = append(results, result{
		Name: "render-overlays-incremental", Converge: incremental, PeerName: "kustomize-cli", Peer: peerAfter, Writes: -1,
		Extra: []string{
			fmt.Sprintf("rerendered=%d", misses-misses0), fmt.Sprintf("reused=%d", hits-hits0),
			fmt.Sprintf("cpu=%s", seconds(incrementalCPU)), fmt.Sprintf("peer_cpu=%s", seconds(peerAfterCPU)),
		},
	})
	return results, nil
}

// renderAll renders every overlay on GOMAXPROCS goroutines and returns the
// number of objects.
func renderAll(ctx context.Context, r render.Renderer, fsys fs.FS, overlays []string) (int, error) {
	var (
		mu      sync.Mutex
		objects int
		first   error
		wg      sync.WaitGroup
	)
	next := make(chan string)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for p := range next {
				set, err := r.Render(ctx, fsys, p, render.DefaultOptions())
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				if set != nil {
					objects += set.Len()
				}
				mu.Unlock()
			}
		})
	}
	for _, p := range overlays {
		next <- p
	}
	close(next)
	wg.Wait()
	return objects, first
}

// sameAsCLI checks that converge's YAML for every overlay is the CLI's,
// byte for byte.
func sameAsCLI(ctx context.Context, r *kustomize.Renderer, fsys fs.FS, overlays []string, want map[string][]byte) error {
	for _, p := range overlays {
		got, err := r.Build(ctx, fsys, p, render.DefaultOptions())
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want[p]) {
			return fmt.Errorf("%s: converge's output differs from kustomize build's", p)
		}
	}
	return nil
}

// cliBuildAll runs `kustomize build` once per overlay and returns the total
// time, the CPU time of the runs, the outputs and the largest peak RSS of
// one run, in MiB.
func cliBuildAll(ctx context.Context, cli, dir string, overlays []string) (time.Duration, time.Duration, map[string][]byte, float64, error) {
	out := make(map[string][]byte, len(overlays))
	var peak int64
	var cpu time.Duration
	start := time.Now()
	for _, p := range overlays {
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, cli, "build", filepath.Join(dir, filepath.FromSlash(p)))
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return 0, 0, nil, 0, fmt.Errorf("kustomize build %s: %w: %s", p, err, strings.TrimSpace(stderr.String()))
		}
		cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > peak {
			peak = ru.Maxrss // KiB on Linux
		}
		out[p] = stdout.Bytes()
	}
	return time.Since(start), cpu, out, float64(peak) / 1024, nil
}

// coldRuns is how many cold renders run; the fastest is reported.
const coldRuns = 3

// selfCPU returns the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeak resets the process's peak RSS (Linux; ignored elsewhere).
func resetPeak() {
	runtime.GC()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakMiB returns the process's peak RSS since the last resetPeak, in MiB.
func peakMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}
