package main

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing/fstest"
	"time"

	"github.com/converge-dev/converge/check"
)

// historyCommits is the length of the history check-history-N walks.
const historyCommits = 10000

// writeHistory makes a Git repository in dir whose first commit holds
// files and whose next n-1 commits each change one overlay's image tag,
// with a plaintext Secret added halfway and removed by the next commit:
// the history rule must find it, and read every commit to do so. It uses
// git fast-import, which writes 10,000 commits in seconds.
func writeHistory(ctx context.Context, dir string, files map[string]string, overlays []string, n int) error {
	if out, err := exec.CommandContext(ctx, "git", "init", "--quiet", "--bare", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("git init: %v: %s", err, out)
	}
	cmd := exec.CommandContext(ctx, "git", "fast-import", "--quiet")
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	w := bufio.NewWriterSize(stdin, 1<<20)
	when := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	data := func(s string) { fmt.Fprintf(w, "data %d\n%s\n", len(s), s) }
	for i := range n {
		fmt.Fprintf(w, "commit refs/heads/main\ncommitter Bench <bench@example.com> %d +0000\n", when+int64(i)*60)
		data(fmt.Sprintf("commit %d", i))
		switch {
		case i == 0:
			for _, p := range slices.Sorted(maps.Keys(files)) {
				fmt.Fprintf(w, "M 100644 inline %s\n", p)
				data(files[p])
			}
		case i == n/2:
			fmt.Fprintf(w, "M 100644 inline apps/leak/secret.yaml\n")
			data("apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\nstringData:\n  password: hunter2-in-history\n")
		case i == n/2+1:
			fmt.Fprintf(w, "D apps/leak/secret.yaml\n")
		default:
			p := overlays[i%len(overlays)] + "/kustomization.yaml"
			fmt.Fprintf(w, "M 100644 inline %s\n", p)
			data(strings.Replace(files[p], "newTag: ", fmt.Sprintf("newTag: 1.%d.", i), 1))
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := stdin.Close(); err != nil {
		return err
	}
	return cmd.Wait()
}

// runHistoryCheck times the secret-history rule over a history of
// historyCommits commits of the tree in dir, against peer, the time the
// kustomize CLI takes to render that tree's overlays once.
func runHistoryCheck(ctx context.Context, files map[string]string, overlays []string, peerName string, peer, peerCPU time.Duration) (result, error) {
	dir, err := os.MkdirTemp("", "converge-bench-history-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	if err := writeHistory(ctx, dir, files, overlays, historyCommits); err != nil {
		return result{}, fmt.Errorf("write history: %w", err)
	}
	repo, err := check.OpenRepository(dir)
	if err != nil {
		return result{}, err
	}
	opts := check.DefaultHistoryOptions()
	opts.MaxCommits = historyCommits
	rules := []check.Rule{check.SecretHistory(repo, opts)}
	empty := check.NewTarget(fstest.MapFS{}, "bench", check.DefaultLimits()) // the rule reads the history, not a tree
	var (
		best, bestCPU time.Duration
		rep           *check.Report
	)
	for range coldRuns {
		cpu0 := selfCPU()
		start := time.Now()
		r, err := check.Run(ctx, empty, rules, check.DefaultOptions())
		took := time.Since(start)
		if err != nil {
			return result{}, err
		}
		if best == 0 || took < best {
			best, bestCPU, rep = took, selfCPU()-cpu0, r
		}
	}
	if n := len(rep.Findings()); n != 1 {
		return result{}, fmt.Errorf("check-history: want the one Secret committed halfway, found %d findings (notes %v)", n, rep.Notes)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(os.Stderr, "bench: check-history: note: %s\n", n)
	}
	return result{
		Name: fmt.Sprintf("check-history-%d", historyCommits), Converge: best, PeerName: peerName, Peer: peer, Writes: -1,
		Extra: []string{
			fmt.Sprintf("commits=%d", historyCommits), fmt.Sprintf("findings=%d", len(rep.Findings())), fmt.Sprintf("notes=%d", len(rep.Notes)),
			fmt.Sprintf("cpu=%s", seconds(bestCPU)), fmt.Sprintf("peer_cpu=%s", seconds(peerCPU)),
			fmt.Sprintf("runs=%d(fastest)", coldRuns),
		},
	}, nil
}
