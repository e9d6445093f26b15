// Command conditionbench times converge's condition evaluation against
// Argo Rollouts' own evaluate.EvaluateResult on the same results, in one
// process, and prints the figures as one JSON object. The bench module
// runs it (go run ./cmd/conditionbench in the oracle module), since
// importing Rollouts would bring k8s.io/kubernetes into bench's go.mod.
//
// The results alternate between two metrics: a success rate
// (`result[0] >= 0.95` on a one-sample vector) and a latency using the
// isNaN and default helpers, with NaN and empty vectors among its
// results. Every phase must be the same on both sides, or it exits 1.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/utils/evaluate"
	"github.com/sirupsen/logrus"

	"github.com/converge-dev/converge/rollout/analysis"
)

// metrics are the conditions evaluated, in turn.
var metrics = []v1alpha1.Metric{
	{Name: "success-rate", SuccessCondition: "result[0] >= 0.95"},
	{Name: "latency-p99", SuccessCondition: "!isNaN(result[0]) && result[0] <= 500", FailureCondition: "len(default(result, [])) == 0 || result[0] > 1000"},
}

// Report is what the command prints.
type Report struct {
	Evaluations int `json:"evaluations"`
	Rounds      int `json:"rounds"`
	// ConvergeNS and PeerNS are the best round's time for all the
	// evaluations, in nanoseconds.
	ConvergeNS int64 `json:"converge_ns"`
	PeerNS     int64 `json:"peer_ns"`
	// Peer names the evaluator and PeerVersion its module's version.
	Peer        string `json:"peer"`
	PeerVersion string `json:"peer_version"`
	// Phases counts the phases decided (the same on both sides).
	Phases map[string]int `json:"phases"`
	// Agree is how many evaluations decided the same phase on both sides.
	Agree int `json:"agree"`
}

func main() {
	n := flag.Int("n", 10000, "results to evaluate")
	rounds := flag.Int("rounds", 5, "timed rounds; the best of each side is reported")
	flag.Parse()
	report, err := run(*n, *rounds)
	if err != nil {
		fmt.Fprintln(os.Stderr, "conditionbench:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(report); err != nil {
		fmt.Fprintln(os.Stderr, "conditionbench:", err)
		os.Exit(1)
	}
}

// results are n vector results, half success rates (between 0.9 and 1),
// half latencies in milliseconds (some NaN, some empty), as a Prometheus
// provider binds them.
func results(n int) []any {
	rng := rand.New(rand.NewPCG(15, 10000))
	out := make([]any, n)
	for i := range out {
		if i%2 == 0 {
			out[i] = []float64{0.9 + 0.1*rng.Float64()}
			continue
		}
		switch {
		case i%97 == 1:
			out[i] = []float64{}
		case i%41 == 1:
			out[i] = []float64{math.NaN()}
		default:
			out[i] = []float64{100 + 1100*rng.Float64()}
		}
	}
	return out
}

func run(n, rounds int) (Report, error) {
	if n <= 0 || rounds <= 0 {
		return Report{}, fmt.Errorf("-n and -rounds must be positive")
	}
	inputs := results(n)
	logger := logrus.New()
	logger.SetOutput(io.Discard)
	logger.SetLevel(logrus.PanicLevel)
	entry := logrus.NewEntry(logger)
	ctx := context.Background()

	ours := make([]analysis.Phase, n)
	theirs := make([]v1alpha1.AnalysisPhase, n)
	evalOurs := func() error {
		conds := make([]*analysis.Conditions, len(metrics))
		for i, m := range metrics {
			c, err := analysis.CompileConditions(m.SuccessCondition, m.FailureCondition, analysis.DefaultEvalLimits())
			if err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
			conds[i] = c
		}
		for i, r := range inputs {
			ours[i], _ = conds[i%len(conds)].Evaluate(ctx, r)
		}
		return nil
	}
	evalTheirs := func() error {
		for i, r := range inputs {
			theirs[i], _ = evaluate.EvaluateResult(r, metrics[i%len(metrics)], *entry)
		}
		return nil
	}
	timed := func(f func() error) (time.Duration, error) {
		runtime.GC()
		start := time.Now()
		err := f()
		return time.Since(start), err
	}

	report := Report{Evaluations: n, Rounds: rounds, Peer: "argo-rollouts", PeerVersion: moduleVersion("github.com/argoproj/argo-rollouts")}
	var best [2]time.Duration
	for round := range rounds {
		ourTime, err := timed(evalOurs)
		if err != nil {
			return report, err
		}
		theirTime, err := timed(evalTheirs)
		if err != nil {
			return report, err
		}
		if round == 0 || ourTime < best[0] {
			best[0] = ourTime
		}
		if round == 0 || theirTime < best[1] {
			best[1] = theirTime
		}
		report.Agree, report.Phases = 0, map[string]int{}
		var first error
		for i := range inputs {
			if string(ours[i]) == string(theirs[i]) {
				report.Agree++
				report.Phases[string(ours[i])]++
			} else if first == nil {
				first = fmt.Errorf("result %d (%v, %s): converge %s, argo-rollouts %s", i, inputs[i], metrics[i%len(metrics)].Name, ours[i], theirs[i])
			}
		}
		if first != nil {
			return report, fmt.Errorf("%d of %d phases differ; the first: %w", n-report.Agree, n, first)
		}
	}
	report.ConvergeNS, report.PeerNS = best[0].Nanoseconds(), best[1].Nanoseconds()
	return report, nil
}

// moduleVersion is the version of a module built into the command.
func moduleVersion(path string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range info.Deps {
		if d.Path == path {
			if d.Replace != nil {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return ""
}
