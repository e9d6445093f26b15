package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/converge-dev/converge/promote"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/kustomize"
	"github.com/converge-dev/converge/render/kustomize/kustomizetest"
)

// promoteComparison sets one image in each of the render comparison's
// 150 overlays and renders them (promote-set-image-150), against
// `kustomize edit set image` and `kustomize build` per overlay; every
// converge render is checked byte for byte against the CLI's. Then it
// picks the newest of 10,000 tags by a semver range
// (promote-policy-10000), against `sort -V` on the same tags, the
// pipeline a CI promotion job runs.
var promoteComparison = comparison{name: "promote", run: runPromote}

func runPromote(ctx context.Context, _ *harness) ([]result, error) {
	setImage, err := runSetImage(ctx)
	if err != nil {
		return nil, err
	}
	policy, err := runPolicy(ctx)
	if err != nil {
		return nil, err
	}
	return []result{setImage, policy}, nil
}

func runSetImage(ctx context.Context) (result, error) {
	cli, err := kustomizetest.CLI()
	if err != nil {
		return result{}, err
	}
	dir, err := os.MkdirTemp("", "converge-bench-promote-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	topts := kustomizetest.DefaultTreeOptions()
	if err := kustomizetest.WriteTree(dir, topts); err != nil {
		return result{}, err
	}
	overlays := kustomizetest.OverlayPaths(topts)
	image := func(overlay string) string { return "registry.example/" + strings.Split(overlay, "/")[1] }

	// converge: the edit and the render of each overlay, in process, on
	// a fresh copy of the tree each run (the edit is written, as a
	// promotion writes it before committing).
	var (
		best, bestCPU time.Duration
		got           map[string][]byte
	)
	for run := range coldRuns {
		work := filepath.Join(dir, fmt.Sprintf("converge-%d", run))
		if err := kustomizetest.WriteTree(work, topts); err != nil {
			return result{}, err
		}
		tree, err := promote.OpenDir(work)
		if err != nil {
			return result{}, err
		}
		r := kustomize.New()
		out := map[string][]byte{}
		cpu0 := selfCPU()
		start := time.Now()
		for _, o := range overlays {
			res, err := promote.SetImage{File: o, Images: []promote.Image{{Name: image(o), NewTag: "v2.0.0"}}}.Apply(ctx, tree)
			if err != nil {
				return result{}, fmt.Errorf("set image in %s: %w", o, err)
			}
			if err := res.Write(tree); err != nil {
				return result{}, err
			}
			if out[o], err = r.Build(ctx, tree, o, render.DefaultOptions()); err != nil {
				return result{}, fmt.Errorf("render %s: %w", o, err)
			}
		}
		took := time.Since(start)
		_ = tree.Close()
		if best == 0 || took < best {
			best, bestCPU, got = took, selfCPU()-cpu0, out
		}
	}

	// The peer: the CLI's edit in the overlay's directory, then its build.
	peerDir := filepath.Join(dir, "peer")
	if err := kustomizetest.WriteTree(peerDir, topts); err != nil {
		return result{}, err
	}
	var peerCPU time.Duration
	want := map[string][]byte{}
	start := time.Now()
	for _, o := range overlays {
		od := filepath.Join(peerDir, filepath.FromSlash(o))
		edit := exec.CommandContext(ctx, cli, "edit", "set", "image", image(o)+":v2.0.0")
		edit.Dir = od
		if out, err := edit.CombinedOutput(); err != nil {
			return result{}, fmt.Errorf("kustomize edit set image in %s: %w: %s", o, err, out)
		}
		var stdout, stderr bytes.Buffer
		build := exec.CommandContext(ctx, cli, "build", od)
		build.Stdout, build.Stderr = &stdout, &stderr
		if err := build.Run(); err != nil {
			return result{}, fmt.Errorf("kustomize build %s: %w: %s", o, err, stderr.String())
		}
		peerCPU += edit.ProcessState.UserTime() + edit.ProcessState.SystemTime() + build.ProcessState.UserTime() + build.ProcessState.SystemTime()
		want[o] = stdout.Bytes()
	}
	peer := time.Since(start)
	for _, o := range overlays {
		if !bytes.Equal(got[o], want[o]) {
			return result{}, fmt.Errorf("promote-set-image: %s renders differently after converge's edit than after kustomize's", o)
		}
		if !bytes.Contains(got[o], []byte(image(o)+":v2.0.0")) {
			return result{}, fmt.Errorf("promote-set-image: %s does not run v2.0.0", o)
		}
	}
	return result{
		Name: fmt.Sprintf("promote-set-image-%d", len(overlays)), Converge: best, PeerName: "kustomize-edit+build", Peer: peer, Writes: -1,
		Extra: []string{
			fmt.Sprintf("overlays=%d", len(overlays)), "same_render=true",
			fmt.Sprintf("cpu=%s", seconds(bestCPU)), fmt.Sprintf("peer_cpu=%s", seconds(peerCPU)),
			fmt.Sprintf("runs=%d(fastest)", coldRuns),
		},
	}, nil
}

// policyTags is how many tags promote-policy-N picks from.
const policyTags = 10000

func runPolicy(ctx context.Context) (result, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	tags := make([]string, 0, policyTags)
	for len(tags) < policyTags-3 {
		tags = append(tags, fmt.Sprintf("%d.%d.%d", rng.IntN(3), rng.IntN(100), rng.IntN(100)))
	}
	// Pre-releases and non-semver tags, as registries hold them.
	tags = append(tags, "2.99.100-rc.1", "latest", "main-4f2a9c1")
	p := promote.Policy{Kind: promote.SemVer, Range: ">=1.0.0 <3.0.0"}
	var (
		best time.Duration
		tag  string
	)
	for range 5 {
		start := time.Now()
		t, err := p.Latest(tags)
		took := time.Since(start)
		if err != nil {
			return result{}, err
		}
		if best == 0 || took < best {
			best, tag = took, t
		}
	}
	// The peer: grep the stable versions in range, sort -V, take the last.
	var in bytes.Buffer
	for _, t := range tags {
		in.WriteString(t + "\n")
	}
	var peer time.Duration
	var peerTag string
	for range 5 {
		cmd := exec.CommandContext(ctx, "sh", "-c", `grep -E '^[12]\.[0-9]+\.[0-9]+$' | sort -V | tail -n 1`)
		cmd.Stdin = bytes.NewReader(in.Bytes())
		start := time.Now()
		out, err := cmd.Output()
		took := time.Since(start)
		if err != nil {
			return result{}, fmt.Errorf("sort -V: %w", err)
		}
		if peer == 0 || took < peer {
			peer, peerTag = took, strings.TrimSpace(string(out))
		}
	}
	if tag != peerTag {
		return result{}, fmt.Errorf("promote-policy: converge picked %s, sort -V %s", tag, peerTag)
	}
	return result{
		Name: fmt.Sprintf("promote-policy-%d", policyTags), Converge: best, PeerName: "sort-V", Peer: peer, Writes: -1,
		Extra: []string{fmt.Sprintf("tags=%d", len(tags)), "picked=" + tag, "runs=5(fastest)"},
	}, nil
}
