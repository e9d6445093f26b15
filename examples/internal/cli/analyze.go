package cli

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/rollout/analysis"
	"github.com/converge-dev/converge/rollout/analysis/job"
	"github.com/converge-dev/converge/rollout/analysis/prometheus"
	"github.com/converge-dev/converge/rollout/analysis/web"
)

func newAnalyze(out *output) *cobra.Command {
	var templates, args []string
	var once bool
	cmd := &cobra.Command{
		Use:   "analyze --template FILE [--arg name=value]... [--once]",
		Short: "Run an Argo Rollouts AnalysisTemplate to its verdict",
		Long: `Analyze runs the metrics of Argo Rollouts AnalysisTemplates and
ClusterAnalysisTemplates (--template, repeatable: several are merged as
Rollouts merges them) against their providers (prometheus, web), with
Rollouts' assessment: each measurement is printed as it is taken, then the
verdict. --once takes one measurement of each metric and decides on it.

Exit codes: 0 Successful; 1 Failed or Error; 2 bad usage; 4 Inconclusive.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(templates) == 0 {
				return usagef("--template is required")
			}
			loaded, err := loadTemplates("--template", templates)
			if err != nil {
				return err
			}
			runArgs, err := parseArgs("--arg", args)
			if err != nil {
				return err
			}
			run, err := analysis.NewRun(loaded, runArgs, analysisProviders(nil, ""))
			if err != nil {
				return usagef("%s", oneLine(err.Error()))
			}
			phase, msg, err := runAnalysis(cmd.Context(), out, run, once)
			if err != nil {
				return err
			}
			out.printf("Analysis %s%s", phase, suffix(msg))
			switch phase {
			case analysis.PhaseSuccessful:
				return nil
			case analysis.PhaseInconclusive:
				return &exitError{code: ExitInconclusive}
			default:
				return &exitError{code: ExitFailed}
			}
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&templates, "template", nil, "an AnalysisTemplate or ClusterAnalysisTemplate file (repeatable)")
	fl.StringArrayVar(&args, "arg", nil, "a template argument, name=value (repeatable)")
	fl.BoolVar(&once, "once", false, "take one measurement of each metric and decide on it")
	return cmd
}

// loadTemplates reads the AnalysisTemplate files flag names.
func loadTemplates(flag string, files []string) ([]*analysis.Template, error) {
	var loaded []*analysis.Template
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, usagef("%s %s: %v", flag, name, rootCause(err))
		}
		ts, err := analysis.LoadTemplates(data)
		if err != nil {
			return nil, usagef("%s %s: %s", flag, name, oneLine(err.Error()))
		}
		loaded = append(loaded, ts...)
	}
	return loaded, nil
}

// runAnalysis steps run to its verdict (with once, one measurement of
// each metric), printing each measurement as it is taken.
func runAnalysis(ctx context.Context, out *output, run *analysis.Run, once bool) (analysis.Phase, string, error) {
	shown := map[string]int{}
	for {
		next, err := run.Step(ctx, time.Now())
		if err != nil {
			return "", "", err
		}
		printMeasurements(out, run.Status(), shown)
		if once || next.IsZero() || run.Phase().Completed() {
			break
		}
		select {
		case <-ctx.Done():
			return "", "", ctx.Err()
		case <-time.After(time.Until(next)):
		}
	}
	phase, msg := run.Phase(), run.Status().Message
	if once && !phase.Completed() {
		phase, msg = lastVerdict(run.Status()), "one measurement of each metric"
	}
	return phase, msg, nil
}

// parseArgs reads flag's name=value arguments.
func parseArgs(flag string, values []string) ([]analysis.Arg, error) {
	var args []analysis.Arg
	for _, a := range values {
		name, value, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			return nil, usagef("%s %q: want name=value", flag, a)
		}
		args = append(args, analysis.Arg{Name: name, Value: &value})
	}
	return args, nil
}

// analysisProviders are the metric providers analyses measure with:
// prometheus and web, and, given a cluster, job, whose Jobs run in
// namespace.
func analysisProviders(c *cluster.Client, namespace string) map[string]analysis.Provider {
	providers := map[string]analysis.Provider{prometheus.Kind: prometheus.New(), web.Kind: web.New()}
	if c != nil {
		providers[job.Kind] = job.New(c.Dynamic(), namespace)
	}
	return providers
}

// printMeasurements prints the measurements taken since the last call.
// Values are the providers' results: metric values, never secrets (a
// Secret-sourced argument is masked by the run).
func printMeasurements(out *output, st analysis.Status, shown map[string]int) {
	for _, m := range st.Metrics {
		total := int(m.Successful + m.Failed + m.Inconclusive + m.Error)
		kept := len(m.Measurements)
		for i := max(0, kept-(total-shown[m.Name])); i < kept; i++ {
			ms := m.Measurements[i]
			detail := ms.Value
			if ms.Message != "" {
				detail = ms.Message
			}
			out.printf("%s  %-24s %-12s %s", ms.FinishedAt.Format("15:04:05"), m.Name, ms.Phase, oneLine(detail))
		}
		shown[m.Name] = total
	}
}

// lastVerdict is the worst phase of each metric's last measurement, in
// Rollouts' order.
func lastVerdict(st analysis.Status) analysis.Phase {
	rank := map[analysis.Phase]int{analysis.PhaseSuccessful: 0, analysis.PhaseInconclusive: 1, analysis.PhaseError: 2, analysis.PhaseFailed: 3}
	worst := analysis.PhaseSuccessful
	for _, m := range st.Metrics {
		if m.DryRun || len(m.Measurements) == 0 {
			continue
		}
		if p := m.Measurements[len(m.Measurements)-1].Phase; rank[p] > rank[worst] {
			worst = p
		}
	}
	return worst
}

func suffix(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + oneLine(msg)
}
