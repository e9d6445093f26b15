// Command bench runs converge's performance comparisons and prints one line
// per comparison:
//
//	BENCH name=apply-noop-1000 converge=0.08s peer=flux-ssa:2.9s ratio=36.2 requests=0 writes=0
//
// ratio is the peer's time over converge's, so higher is better for
// converge. Run it with make bench; -run selects comparisons by name.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"time"
)

// comparison is one group of measurements that share set-up (a generated
// repository, a control plane); it returns one result per BENCH line.
type comparison struct {
	name string // a prefix of its results' names, for -run
	run  func(ctx context.Context, h *harness) ([]result, error)
}

// comparisons lists every group, in the order they run. Each lives in its
// own file.
var comparisons = []comparison{
	gitComparison,
	renderComparison,
	diffComparison,
	healthComparison,
	applyComparison,
	reconcileComparison,
	sopsComparison,
	sealedComparison,
	analysisComparison,
	analysisConditionsComparison,
	rolloutComparison,
	checkComparison,
	promoteComparison,
	operatorComparison,
}

// result is one BENCH line.
type result struct {
	Name     string
	Converge time.Duration
	PeerName string
	Peer     time.Duration
	Requests int64    // API or HTTP requests converge made
	Writes   int64    // writes converge made, -1 when not applicable
	Extra    []string // further key=value fields
}

func (r result) String() string {
	ratio := 0.0
	if r.Converge > 0 {
		ratio = r.Peer.Seconds() / r.Converge.Seconds()
	}
	line := fmt.Sprintf("BENCH name=%s converge=%s peer=%s:%s ratio=%.1f requests=%d",
		r.Name, seconds(r.Converge), r.PeerName, seconds(r.Peer), ratio, r.Requests)
	if r.Writes >= 0 {
		line += fmt.Sprintf(" writes=%d", r.Writes)
	}
	if len(r.Extra) > 0 {
		line += " " + strings.Join(r.Extra, " ")
	}
	return line
}

func seconds(d time.Duration) string {
	switch s := d.Seconds(); {
	case s >= 10:
		return fmt.Sprintf("%.1fs", s)
	case s >= 0.01:
		return fmt.Sprintf("%.2fs", s)
	default:
		return fmt.Sprintf("%.4fs", s)
	}
}

func main() {
	run := flag.String("run", "", "only comparisons whose name matches this regular expression")
	flag.Parse()
	filter, err := regexp.Compile(*run)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: -run: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	h := &harness{}
	defer h.close()

	failed := false
	ran := 0
	for _, c := range comparisons {
		if c.run == nil || !filter.MatchString(c.name) {
			continue
		}
		ran++
		fmt.Fprintf(os.Stderr, "bench: %s ...\n", c.name)
		results, err := c.run(ctx, h)
		for _, r := range results {
			fmt.Println(r)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s: %v\n", c.name, err)
			failed = true
		}
	}
	if ran == 0 {
		fmt.Fprintln(os.Stderr, "bench: no comparison matches", *run)
	}
	if failed {
		h.close()
		os.Exit(1)
	}
}
