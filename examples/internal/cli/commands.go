package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
)

// flagSet returns a flag set that reports errors through parse instead of
// printing them.
func flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("converge "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse parses args; --help prints the command's usage on stdout.
func parse(fs *flag.FlagSet, args []string, out *output, synopsis string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		var b strings.Builder
		b.WriteString(synopsis + "\n\nFlags:\n")
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		out.printf("%s", strings.TrimRight(b.String(), "\n"))
		return flag.ErrHelp
	}
	if err != nil {
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func runPlan(ctx context.Context, args []string, out *output) error {
	var f reconcileFlags
	fs := flagSet("plan")
	f.register(fs, "plan")
	exitCode := fs.Bool("exit-code", false, "exit with 3 when there is anything to create, update or prune")
	if err := parse(fs, args, out, "Usage: converge plan --repo URL|DIR --path DIR [flags]\n\nRenders the path and says what apply would create, update and prune, with YAML diffs\n(Secret values masked). Writes nothing."); err != nil {
		return err
	}
	r, rd, err := newReconciler(ctx, f, out)
	if err != nil {
		return err
	}
	defer r.close()
	out.printf("plan: %s at %s (%d objects) on %s, owner %s", r.path, shortRevision(rd.revision), rd.set.Len(), r.client.Config().Host, r.applier.Owner().Name)
	res, err := r.run(ctx, rd, true)
	if res == nil {
		return mapRefused(err)
	}
	changes := printPlan(out, r, res)
	if err != nil {
		return failure(res, err)
	}
	if *exitCode && changes > 0 {
		return &exitError{code: ExitChanges}
	}
	return nil
}

// printPlan lists what would change, diffs included, and returns how many
// objects would.
func printPlan(out *output, r *reconciler, res *apply.Result) int {
	marks := map[apply.Action]string{
		apply.Created: "+ create", apply.Configured: "~ update", apply.Recreated: "~ recreate",
		apply.Pruned: "- prune", apply.Kept: "= keep", apply.Skipped: "  skip", apply.Failed: "! failed",
	}
	if r.flags.verbose {
		marks[apply.Unchanged] = "  unchanged"
	}
	for _, o := range res.Objects {
		mark, ok := marks[o.Action]
		if !ok {
			continue
		}
		line := fmt.Sprintf("  %-10s %s", mark, o.ID)
		if o.Reason != "" {
			line += " (" + o.Reason + ")"
		}
		if o.Err != nil {
			line += ": " + oneLine(o.Err.Error())
		}
		out.printf("%s", line)
		if o.Action == apply.Configured && o.Diff != nil {
			out.block("      ", o.Diff.Diff)
		}
	}
	if res.PruneSkipped != "" {
		out.printf("  prune skipped: %s", res.PruneSkipped)
	}
	n := res.Count(apply.Created) + res.Count(apply.Configured) + res.Count(apply.Recreated) + res.Count(apply.Pruned)
	out.printf("Plan: %d to create, %d to update, %d to prune, %d unchanged.",
		res.Count(apply.Created), res.Count(apply.Configured)+res.Count(apply.Recreated), res.Count(apply.Pruned), res.Count(apply.Unchanged))
	return n
}

func runApply(ctx context.Context, args []string, out *output) error {
	var f reconcileFlags
	fs := flagSet("apply")
	f.register(fs, "apply")
	if err := parse(fs, args, out, "Usage: converge apply --repo URL|DIR --path DIR [flags]\n\nApplies the rendered path with server-side apply (CRDs and namespaces first, then waves),\nprunes what this owner applied before and left the repository, waits until everything\nis healthy, and prints a summary table."); err != nil {
		return err
	}
	r, rd, err := newReconciler(ctx, f, out)
	if err != nil {
		return err
	}
	defer r.close()
	out.printf("apply: %s at %s (%d objects) on %s, owner %s", r.path, shortRevision(rd.revision), rd.set.Len(), r.client.Config().Host, r.applier.Owner().Name)
	res, err := r.run(ctx, rd, false)
	if res == nil {
		return mapRefused(err)
	}
	r.printDiffs(res, false)
	printTable(out, res)
	out.printf("Apply: %s", summary(res))
	if err != nil {
		return failure(res, err)
	}
	return nil
}

// summary is the one-line outcome: counts, health, writes, time.
func summary(res *apply.Result) string {
	s := res.String()
	if res.Health != nil {
		total, healthy := len(res.Health.Results), 0
		for _, h := range res.Health.Results {
			if h.Status == health.Healthy {
				healthy++
			}
		}
		if healthy == total {
			s += fmt.Sprintf("; all %d healthy", total)
		} else {
			s += fmt.Sprintf("; %d of %d healthy (%s)", healthy, total, res.Health.Status)
		}
	}
	if res.PruneSkipped != "" {
		s += "; prune skipped: " + res.PruneSkipped
	}
	return s + fmt.Sprintf("; %d writes in %s.", res.Writes, res.Duration.Round(10*time.Millisecond))
}

// printTable prints one row per object: what happened, its health, and how
// long it took. Sets of more than 50 objects list only what changed.
func printTable(out *output, res *apply.Result) {
	healthOf := map[object.ID]health.Result{}
	if res.Health != nil {
		for _, h := range res.Health.Results {
			healthOf[h.ID] = h.Result
		}
	}
	// One row per object and phase: a hook that runs in two phases gets
	// two rows.
	type row struct {
		id       object.ID
		action   string
		duration time.Duration
	}
	var rows []*row
	byID := map[object.ID]*row{}
	hidden := 0
	for _, o := range res.Objects {
		if o.ID == (object.ID{}) {
			continue
		}
		if len(res.Objects) > 50 && o.Action == apply.Unchanged {
			hidden++
			continue
		}
		if r, ok := byID[o.ID]; ok && o.Phase == apply.PhaseSync {
			r.action += ", " + string(o.Action)
			r.duration += o.Duration
			continue
		}
		r := &row{id: o.ID, action: string(o.Action), duration: o.Duration}
		if o.Phase != apply.PhaseSync && o.Phase != apply.PhasePrune && o.Phase != "" {
			r.action += " (" + string(o.Phase) + " hook)"
		}
		if o.Phase == apply.PhaseSync {
			byID[o.ID] = r
		}
		rows = append(rows, r)
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OBJECT\tACTION\tHEALTH\tTIME")
	for _, r := range rows {
		h := "-"
		if hr, ok := healthOf[r.id]; ok {
			h = string(hr.Status)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.id, r.action, h, r.duration.Round(time.Millisecond))
	}
	_ = tw.Flush()
	out.printf("")
	out.block("", b.String())
	if hidden > 0 {
		out.printf("(%d unchanged objects not listed)", hidden)
	}
}

func runSync(ctx context.Context, args []string, out *output) error {
	var f reconcileFlags
	fs := flagSet("sync")
	f.register(fs, "sync")
	interval := fs.Duration("interval", 30*time.Second, "time between ticks")
	once := fs.Bool("once", false, "run one tick and exit (same as --max-ticks 1)")
	maxTicks := fs.Int("max-ticks", 0, "exit after this many ticks (0: run until interrupted)")
	if err := parse(fs, args, out, "Usage: converge sync --repo URL|DIR --path DIR [--interval 30s] [--once | --max-ticks N] [flags]\n\nA reconcile loop: on every tick, fetch (one reference listing when nothing changed),\nrender, apply what drifted (self-heal: changes made in the cluster are reverted),\nprune what left the repository, and wait until healthy. Stops on Ctrl-C."); err != nil {
		return err
	}
	if *interval <= 0 {
		return usagef("--interval must be positive, not %s", *interval)
	}
	if *maxTicks < 0 {
		return usagef("--max-ticks must not be negative")
	}
	if *once {
		if *maxTicks > 1 {
			return usagef("--once and --max-ticks %d exclude each other", *maxTicks)
		}
		*maxTicks = 1
	}
	r, rd, err := newReconciler(ctx, f, out)
	if err != nil {
		return err
	}
	defer r.close()
	every := fmt.Sprintf("every %s", *interval)
	switch {
	case *maxTicks == 1:
		every = "once"
	case *maxTicks > 1:
		every += fmt.Sprintf(", %d ticks", *maxTicks)
	}
	out.printf("sync: %s of %s %s on %s, owner %s", r.path, f.repo, every, r.client.Config().Host, r.applier.Owner().Name)
	var last error
	for tick := 1; ; tick++ {
		if rd == nil {
			rd, last = r.render(ctx)
		}
		if rd != nil {
			last = r.tick(ctx, tick, rd)
		} else if ctx.Err() == nil {
			out.printf("tick %d: %s", tick, oneLine(last.Error()))
		}
		rd = nil
		if *maxTicks > 0 && tick >= *maxTicks {
			return last
		}
		select {
		case <-ctx.Done():
			out.printf("sync: stopped after %d ticks", tick)
			return nil
		case <-time.After(*interval):
		}
	}
}

// tick applies one render and prints what it did: one line when nothing
// drifted, else the writes, the diffs and the roll-out.
func (r *reconciler) tick(ctx context.Context, n int, rd *rendered) error {
	at := time.Now().Format("15:04:05")
	r.startRun(fmt.Sprintf("tick %d at %s: %s at %s (%d objects)", n, at, r.path, shortRevision(rd.revision), rd.set.Len()))
	res, err := r.run(ctx, rd, false)
	if res == nil {
		err = mapRefused(err)
		r.printf("tick %d: %s", n, oneLine(err.Error()))
		return err
	}
	r.printDiffs(res, false)
	if !r.spoke() {
		// Nothing was written and nothing rolled out: one line.
		r.out.printf("tick %d at %s: %s at %s: %s", n, at, r.path, shortRevision(rd.revision), summary(res))
	} else {
		r.printf("tick %d: %s", n, summary(res))
	}
	if err != nil {
		err = failure(res, err)
		r.printf("tick %d: %s", n, oneLine(err.Error()))
	}
	return err
}
