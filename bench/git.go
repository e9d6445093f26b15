package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/converge-dev/converge/source/git"
)

// The generated repository. The issue names 5,000 files, about 50 MB and
// 200 commits; the sizes are kept, and printed on every line.
const (
	benchFiles    = 5000
	benchFileSize = 10 << 10 // bytes per file: about 50 MB in all
	benchCommits  = 200
	benchRounds   = 5 // repetitions of the cheap measurements; the gitMedian is printed
)

// gitComparison measures converge's Git source against the git CLI on the
// same repository, served by git http-backend on loopback, in one run.
var gitComparison = comparison{name: "git", run: runGit}

func runGit(ctx context.Context, _ *harness) ([]result, error) {
	work, err := os.MkdirTemp("", "converge-bench-git")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	root := filepath.Join(work, "srv")
	bare := filepath.Join(root, "deploy.git")
	if err := gitGenerateRepo(ctx, bare); err != nil {
		return nil, fmt.Errorf("generate repository: %w", err)
	}
	srv, err := startGitServer(root)
	if err != nil {
		return nil, err
	}
	defer srv.close()
	url := srv.URL + "/deploy.git"
	size := fmt.Sprintf("files=%d mb=%d commits=%d", benchFiles, benchFiles*benchFileSize>>20, benchCommits)

	// git-shallow-clone
	cloneDir := filepath.Join(work, "cli")
	peerStart := time.Now()
	cmd := exec.CommandContext(ctx, "git", "clone", "--quiet", "--depth", "1", "--branch", "main", url, cloneDir)
	cmd.Env = gitEnv(work)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stopPeer := gitSamplePeak(func() []int { return gitTree(cmd.Process.Pid) })
	err = cmd.Wait()
	peerPeak := stopPeer()
	peerClone := time.Since(peerStart)
	if err != nil {
		return nil, fmt.Errorf("git clone: %w", err)
	}

	src, err := git.New(url, git.Reference{Branch: "main"}, git.WithCacheDir(filepath.Join(work, "cache")))
	if err != nil {
		return nil, err
	}
	debug.FreeOSMemory()
	base := gitRSS([]int{os.Getpid()})
	before := srv.requests.Load()
	self := []int{os.Getpid()}
	stopSelf := gitSamplePeak(func() []int { return self })
	start := time.Now()
	snap, err := src.Fetch(ctx)
	convergeClone := time.Since(start)
	convergePeak := stopSelf() - base
	if err != nil {
		return nil, fmt.Errorf("converge shallow fetch: %w", err)
	}
	readStart := time.Now()
	if err := gitSameFiles(snap.FS, cloneDir); err != nil {
		return nil, fmt.Errorf("converge snapshot differs from git's checkout: %w", err)
	}
	readAll := time.Since(readStart)
	results := []result{{
		Name: "git-shallow-clone", Converge: convergeClone, PeerName: "git-clone-depth1", Peer: peerClone,
		Requests: srv.requests.Load() - before, Writes: -1,
		Extra: []string{
			fmt.Sprintf("peak_mib=%d", convergePeak>>20), fmt.Sprintf("peer_peak_mib=%d", peerPeak>>20),
			fmt.Sprintf("mem_ratio=%.2f", float64(convergePeak)/float64(max(peerPeak, 1))), fmt.Sprintf("snapshot_files=%d", snap.Files),
			"read_all_files=" + seconds(readAll), size,
		},
	}}

	// git-noop-fetch
	var conv, peer, floor []time.Duration
	var convRequests, peerRequests int64
	for range benchRounds {
		before := srv.requests.Load()
		start := time.Now()
		again, err := src.Fetch(ctx)
		if err != nil {
			return results, fmt.Errorf("converge no-op fetch: %w", err)
		}
		conv = append(conv, time.Since(start))
		convRequests = srv.requests.Load() - before
		if again != snap {
			return results, fmt.Errorf("no-op fetch built a new snapshot")
		}

		before = srv.requests.Load()
		start = time.Now()
		if _, err := gitCmd(ctx, cloneDir, nil, "fetch", "--quiet", "origin"); err != nil {
			return results, err
		}
		peer = append(peer, time.Since(start))
		peerRequests = srv.requests.Load() - before

		start = time.Now()
		if err := gitBareGet(ctx, url); err != nil {
			return results, err
		}
		floor = append(floor, time.Since(start))
	}
	results = append(results, result{
		Name: "git-noop-fetch", Converge: gitMedian(conv), PeerName: "git-fetch", Peer: gitMedian(peer),
		Requests: convRequests, Writes: -1,
		Extra: []string{
			"floor=" + seconds(gitMedian(floor)),
			fmt.Sprintf("vs_floor=%.2f", gitMedian(conv).Seconds()/gitMedian(floor).Seconds()),
			fmt.Sprintf("peer_requests=%d", peerRequests), fmt.Sprintf("rounds=%d", benchRounds), size,
		},
	})

	// git-one-commit
	conv, peer = nil, nil
	for i := range 3 {
		if err := gitPushOneCommit(ctx, bare, i); err != nil {
			return results, err
		}
		before := srv.requests.Load()
		start := time.Now()
		next, err := src.Fetch(ctx)
		if err != nil {
			return results, fmt.Errorf("converge one-commit fetch: %w", err)
		}
		conv = append(conv, time.Since(start))
		convRequests = srv.requests.Load() - before
		if next.Revision == snap.Revision {
			return results, fmt.Errorf("one-commit fetch did not move")
		}
		snap = next

		start = time.Now()
		if _, err := gitCmd(ctx, cloneDir, nil, "fetch", "--quiet", "origin", "main"); err != nil {
			return results, err
		}
		if _, err := gitCmd(ctx, cloneDir, nil, "checkout", "--quiet", "--detach", "FETCH_HEAD"); err != nil {
			return results, err
		}
		peer = append(peer, time.Since(start))
	}
	results = append(results, result{
		Name: "git-one-commit", Converge: gitMedian(conv), PeerName: "git-fetch+checkout", Peer: gitMedian(peer),
		Requests: convRequests, Writes: -1,
		Extra: []string{"changed_files=3", "rounds=3", size},
	})
	return results, nil
}

// gitGenerateRepo writes the repository with git fast-import: one commit with
// every file, then small commits touching a few files each.
func gitGenerateRepo(ctx context.Context, bare string) error {
	if _, err := gitCmd(ctx, filepath.Dir(filepath.Dir(bare)), nil, "init", "--quiet", "--bare", "--initial-branch=main", bare); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "git", "fast-import", "--quiet")
	cmd.Dir = bare
	cmd.Env = gitEnv(bare)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	w := bufio.NewWriterSize(stdin, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	line := make([]byte, 0, 64)
	writeBlob := func(i, rev int) {
		fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n", gitFilePath(i), benchFileSize)
		n, _ := fmt.Fprintf(w, "# file %d revision %d\n", i, rev)
		for n < benchFileSize {
			line = fmt.Appendf(line[:0], "key-%d: %016x%016x\n", rng.IntN(1000), rng.Uint64(), rng.Uint64())
			if n+len(line) > benchFileSize {
				line = line[:benchFileSize-n]
			}
			m, _ := w.Write(line)
			n += m
		}
		w.WriteString("\n")
	}
	now := int64(1767225600)
	for c := range benchCommits {
		fmt.Fprintf(w, "commit refs/heads/main\ncommitter bench <bench@converge.dev> %d +0000\ndata <<EOF\ncommit %d\nEOF\n", now+int64(c), c)
		if c == 0 {
			for i := range benchFiles {
				writeBlob(i, c)
			}
			continue
		}
		for range 5 {
			writeBlob(rng.IntN(benchFiles), c)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := stdin.Close(); err != nil {
		return err
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git fast-import: %w: %s", err, stderr.String())
	}
	return nil
}

func gitFilePath(i int) string {
	return fmt.Sprintf("apps/app-%03d/env-%02d/manifest-%d.yaml", i/50, i%50/10, i)
}

// gitPushOneCommit adds a commit changing three files on main.
func gitPushOneCommit(ctx context.Context, bare string, n int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "commit refs/heads/main\ncommitter bench <bench@converge.dev> %d +0000\ndata <<EOF\none more %d\nEOF\nfrom refs/heads/main^0\n", 1767300000+n, n)
	for i := range 3 {
		content := fmt.Sprintf("changed %d in round %d\n", i, n)
		fmt.Fprintf(&b, "M 100644 inline %s\ndata %d\n%s\n", gitFilePath(i*997+n), len(content), content)
	}
	_, err := gitCmd(ctx, bare, strings.NewReader(b.String()), "fast-import", "--quiet", "--force")
	return err
}

// gitBareGet is the server's floor: one GET of the reference advertisement.
func gitBareGet(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/info/refs?service=git-upload-pack", nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, err = io.Copy(io.Discard, res.Body)
	return err
}

func gitMedian(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// gitRSS returns the resident set size, in bytes, of the processes pids.
func gitRSS(pids []int) int64 {
	var total int64
	for _, pid := range pids {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				total += kb << 10
			}
		}
	}
	return total
}

// gitTree returns pid and its descendants.
func gitTree(pid int) []int {
	parents := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(data)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			if f := strings.Fields(s[i+1:]); len(f) > 1 {
				pp, _ := strconv.Atoi(f[1])
				parents[pp] = append(parents[pp], p)
			}
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, parents[out[i]]...)
	}
	return out
}

// gitSamplePeak samples the summed RSS of pids() every 10ms until stop is
// called, and stop returns the highest sum seen.
func gitSamplePeak(pids func() []int) (stop func() int64) {
	done := make(chan struct{})
	result := make(chan int64)
	go func() {
		var peak int64
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, gitRSS(pids()))
			select {
			case <-done:
				result <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 { close(done); return <-result }
}

// gitSameFiles checks that every file of the snapshot has the content of
// git's checkout in dir, and that both hold the same number of files.
func gitSameFiles(fsys fs.FS, dir string) error {
	n := 0
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		got, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		want, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			return err
		}
		if string(got) != string(want) {
			return fmt.Errorf("%s differs", p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n != benchFiles {
		return fmt.Errorf("snapshot has %d files, want %d", n, benchFiles)
	}
	return nil
}
