package cli

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/promote"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/render/kustomize"
	"github.com/converge-dev/converge/rollout/analysis"
	"github.com/converge-dev/converge/source"
	"github.com/converge-dev/converge/source/git"
)

// promoteFlags are converge promote's flags.
type promoteFlags struct {
	publishFlags
	layoutFlags
	from, to string
	images   []string

	noGate         bool
	analyses       []string
	analysisArgs   []string
	gatePath       string
	ownerNamespace string
	cluster        clusterFlags
}

func newPromote(out *output) *cobra.Command {
	var f promoteFlags
	cmd := &cobra.Command{
		Use:   "promote --repo URL|DIR --from ENV --to ENV [--app APP] [--pr --forge KIND --forge-repo OWNER/NAME]",
		Short: "Take the images one environment runs, healthy, to the next, as a commit or a pull request",
		Long: `Promote takes what runs in one environment to the next in a
directory-per-environment repository (apps/{app}/overlays/{env}, --layout):
it renders both overlays, takes the images --from runs at another tag or
digest than --to, edits --to's kustomization images: (comments and order
kept) and checks that --to's render changes in container images only.

The health gate comes first: the unit that applies --from (--gate-path,
clusters/{env} by default, owned as converge sync owns it) is planned
against the cluster (--kubeconfig, --context) and must be Synced and
Healthy; --no-gate skips it, saying so. --analysis FILE (an Argo Rollouts
AnalysisTemplate, with --analysis-arg name=value) then runs an analysis
to its verdict, which must be Successful.

The edit is committed to --branch with trailers naming the environments,
the revision and the images (Promoted-From, Promoted-To, Promoted-Revision,
Promoted-Image, Promoted-Gate), which converge rollback reads. With --pr it
goes on a head branch of its own (converge/promote/{to}[/{app}]) and a pull
request on the forge is opened, or updated when one is open. A push that
loses a race with another is planned again on the new head. --dry-run shows
the change and commits nothing.

Exit codes: 0 promoted, or nothing to promote; 1 a gate failed, or the
repository, render, cluster or forge failed; 2 bad usage.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPromote(cmd.Context(), out, &f) },
	}
	fl := cmd.Flags()
	f.publishFlags.register(fl)
	f.layoutFlags.register(fl)
	fl.StringVar(&f.from, "from", "", "the environment to promote from, e.g. dev")
	fl.StringVar(&f.to, "to", "", "the environment to promote to, e.g. staging")
	fl.StringSliceVar(&f.images, "image", nil, "promote only this image repository (repeatable; default every image both run)")
	fl.BoolVar(&f.noGate, "no-gate", false, "promote without checking --from's health on the cluster")
	fl.StringArrayVar(&f.analyses, "analysis", nil, "an Argo Rollouts AnalysisTemplate file whose run must be Successful before promoting (repeatable: merged)")
	fl.StringArrayVar(&f.analysisArgs, "analysis-arg", nil, "an argument of --analysis, name=value (repeatable)")
	fl.StringVar(&f.gatePath, "gate-path", "clusters/{env}", "the path whose unit applies an environment, with {env}")
	fl.StringVar(&f.ownerNamespace, "owner-namespace", "default", "the namespace of that unit's inventory, as converge sync --owner-namespace")
	fl.StringVar(&f.cluster.kubeconfig, "kubeconfig", "", "kubeconfig of --from's cluster, for the health gate (default $KUBECONFIG, then ~/.kube/config)")
	fl.StringVar(&f.cluster.context, "context", "", "kubeconfig context of --from's cluster (default: the current one)")
	return cmd
}

// envName is what an environment's name may be: it lands in paths,
// branch names and trailers.
var envName = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$`)

func (f *promoteFlags) check() error {
	for _, e := range [][2]string{{"--from", f.from}, {"--to", f.to}} {
		if e[1] == "" {
			return usagef("%s is required", e[0])
		}
		if !envName.MatchString(e[1]) {
			return usagef("%s %q is not an environment name (lower-case letters, digits, '.', '_', '-')", e[0], e[1])
		}
	}
	if f.from == f.to {
		return usagef("--from and --to are both %s", f.from)
	}
	if err := f.layoutFlags.check(); err != nil {
		return err
	}
	if !f.noGate && strings.Count(f.gatePath, "{env}") != 1 {
		return usagef("--gate-path %q: want one {env}", f.gatePath)
	}
	return f.publishFlags.check()
}

func runPromote(ctx context.Context, out *output, f *promoteFlags) error {
	if err := f.check(); err != nil {
		return err
	}
	analysisGate, err := f.analysisGate(out)
	if err != nil {
		return err
	}
	token, err := f.token()
	if err != nil {
		return err
	}
	snap, err := fetchBranch(ctx, &f.publishFlags, token)
	if err != nil {
		return err
	}
	pairs, err := f.pairs(snap.FS, f.from, f.to)
	if err != nil {
		return err
	}
	opts := promote.PlanOptions{Images: f.images}
	var plans []*promote.Plan
	if _, err := promotionEdit(pairs, opts, &plans).Apply(ctx, snap.FS); err != nil {
		return err
	}
	planned := slices.Clone(plans)
	images := promotedImages(planned)
	if len(images) == 0 {
		printPlans(out.stdout, planned)
		out.printf("nothing to promote: %s already runs what %s runs", f.to, f.from)
		return nil
	}
	gates, err := f.gate(ctx, out, images, snap.Revision)
	if err != nil {
		return err
	}
	if analysisGate != nil {
		res, err := analysisGate.Check(ctx, promote.Environment{Name: f.from}, images)
		if err != nil {
			return fmt.Errorf("analysis gate on %s: %w", f.from, err)
		}
		if !res.Passed {
			return &exitError{code: ExitFailed, msg: fmt.Sprintf("gate %s; nothing promoted", res)}
		}
		gates = append(gates, res)
	}
	planned[0].Gates = gates
	printPlans(out.stdout, planned)
	if f.dryRun {
		out.printf("--dry-run: nothing committed")
		return nil
	}

	// A retry after a concurrent push plans again on the new head; what
	// it commits must still be what was gated and shown.
	edit := promote.EditFunc(func(ctx context.Context, fsys fs.FS) (promote.Result, error) {
		res, err := promotionEdit(pairs, opts, &plans).Apply(ctx, fsys)
		if err == nil && !slices.Equal(promotedImages(plans), images) {
			err = fmt.Errorf("%s changed while promoting (now %s): run again", f.branch, imageList(promotedImages(plans)))
		}
		return res, err
	})
	subject, body := promotionMessage(planned)
	app := ""
	if len(pairs) == 1 {
		app = appOf(f.layout, pairs[0][1].Dir)
	}
	head, err := promote.PromotionBranch(f.to, app)
	if err != nil {
		return usagef("%s", oneLine(err.Error()))
	}
	change := promote.Change{
		Branch: f.branch, Message: subject + "\n\n" + body,
		Provenance: promote.PlanProvenance(snap.Revision, planned...), Edit: edit,
	}
	return f.publish(ctx, out, token, change, head, subject, pullRequestBody(planned, snap.Revision))
}

// gate runs the health gate on --from, unless --no-gate.
func (f *promoteFlags) gate(ctx context.Context, out *output, images []promote.ImageRef, revision string) ([]promote.GateResult, error) {
	if f.noGate {
		out.printf("gate: none (--no-gate): %s's health was not checked", f.from)
		return nil, nil
	}
	rs, err := resolveRepo(ctx, f.repo, "", false)
	if err != nil {
		return nil, err
	}
	// The gate plans --from at the branch promoted from, as sync runs it.
	rs.source = reconcile.Source{URL: f.remote, Ref: git.Reference{Branch: f.branch}}
	gate, closeGate, err := healthGate(ctx, f.cluster, rs, f.gatePath, f.ownerNamespace)
	if err != nil {
		return nil, err
	}
	defer closeGate()
	res, err := gate.Check(ctx, promote.Environment{Name: f.from}, images)
	if err != nil {
		return nil, fmt.Errorf("health gate on %s: %w", f.from, err)
	}
	if !res.Passed {
		return nil, &exitError{code: ExitFailed, msg: fmt.Sprintf("gate %s: %s; nothing promoted", res, shortRevision(revision))}
	}
	return []promote.GateResult{res}, nil
}

// analysisGate is the gate of --analysis: nil without one. The templates
// and arguments are checked before anything is fetched.
func (f *promoteFlags) analysisGate(out *output) (promote.Gate, error) {
	if len(f.analyses) == 0 {
		if len(f.analysisArgs) > 0 {
			return nil, usagef("--analysis-arg goes with --analysis")
		}
		return nil, nil
	}
	templates, err := loadTemplates("--analysis", f.analyses)
	if err != nil {
		return nil, err
	}
	args, err := parseArgs("--analysis-arg", f.analysisArgs)
	if err != nil {
		return nil, err
	}
	if _, err := analysis.NewRun(templates, args, analysisProviders(nil, "")); err != nil {
		return nil, usagef("--analysis: %s", oneLine(err.Error()))
	}
	return promote.GateFunc(func(ctx context.Context, env promote.Environment, _ []promote.ImageRef) (promote.GateResult, error) {
		run, err := analysis.NewRun(templates, args, analysisProviders(nil, ""))
		if err != nil {
			return promote.GateResult{}, err
		}
		phase, msg, err := runAnalysis(ctx, out, run, false)
		if err != nil {
			return promote.GateResult{}, err
		}
		return promote.GateResult{Name: "analysis", Passed: phase == analysis.PhaseSuccessful,
			Detail: fmt.Sprintf("%s of %s: %s%s", env.Name, strings.Join(templateNames(templates), ", "), phase, suffix(msg))}, nil
	}), nil
}

func templateNames(ts []*analysis.Template) []string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return names
}

// fetchBranch reads --branch of --repo.
func fetchBranch(ctx context.Context, f *publishFlags, token string) (*source.Snapshot, error) {
	src, err := git.New(f.remote, git.Reference{Branch: f.branch}, f.gitOptions(token)...)
	if err != nil {
		return nil, usagef("%s", oneLine(err.Error()))
	}
	snap, err := src.Fetch(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetch %s of %s: %s", f.branch, git.Redact(f.remote), rootCause(err))
	}
	return snap, nil
}

// appOf is the {app} of an overlay directory, "" when the layout has none.
func appOf(layout, dir string) string {
	i := strings.Index(layout, "{app}")
	if i < 0 {
		return ""
	}
	prefix := strings.Count(layout[:i], "/")
	parts := strings.Split(dir, "/")
	if prefix >= len(parts) {
		return ""
	}
	return parts[prefix]
}

// promotionMessage is the commit's subject and body.
func promotionMessage(plans []*promote.Plan) (subject, body string) {
	var lines []string
	var apps []string
	for _, p := range plans {
		if p.Empty() {
			continue
		}
		lines = append(lines, p.Summary()+" ("+p.To.Dir+")")
		apps = append(apps, p.To.Dir)
	}
	if len(lines) == 1 {
		return plans[slices.IndexFunc(plans, func(p *promote.Plan) bool { return !p.Empty() })].Summary(), strings.Join(lines, "\n")
	}
	return fmt.Sprintf("promote %d overlays from %s to %s", len(lines), plans[0].From.Name, plans[0].To.Name), strings.Join(lines, "\n")
}

// pullRequestBody is the pull request's Markdown: what changes and why.
func pullRequestBody(plans []*promote.Plan, revision string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Promotes what %s runs at `%s`.\n\n", plans[0].From.Name, shortRevision(revision))
	for _, g := range plans[0].Gates {
		fmt.Fprintf(&b, "- gate %s\n", g)
	}
	for _, p := range plans {
		if p.Empty() {
			continue
		}
		fmt.Fprintf(&b, "\n### %s\n\n```diff\n%s```\n", p.To.Dir, p.Edit.Diff())
	}
	b.WriteString("\nOpened by `converge promote`; a second run updates this pull request.\n")
	return b.String()
}

func imageList(images []promote.ImageRef) string {
	s := make([]string, len(images))
	for i, img := range images {
		s[i] = img.String()
	}
	return strings.Join(s, ", ")
}

// layoutFlags say where each environment's overlay is.
type layoutFlags struct {
	layout string // "apps/{app}/overlays/{env}"
	apps   []string
}

func (f *layoutFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.layout, "layout", "apps/{app}/overlays/{env}", "where an app's overlay for an environment is, with {app} and {env}")
	fs.StringSliceVar(&f.apps, "app", nil, "the apps to promote (default: every app with both environments)")
}

func (f *layoutFlags) check() error {
	if strings.Count(f.layout, "{env}") != 1 || strings.Count(f.layout, "{app}") > 1 {
		return usagef("--layout %q: want one {env} and at most one {app}", f.layout)
	}
	if !fs.ValidPath(strings.NewReplacer("{app}", "a", "{env}", "e").Replace(f.layout)) {
		return usagef("--layout %q is not a relative, slash-separated path", f.layout)
	}
	for _, a := range f.apps {
		if a == "" || strings.ContainsAny(a, "/\\{}") || a == "." || a == ".." {
			return usagef("--app %q is not an app's directory name", a)
		}
	}
	return nil
}

// dir is the overlay of app in env.
func (f *layoutFlags) dir(app, env string) string {
	return strings.NewReplacer("{app}", app, "{env}", env).Replace(f.layout)
}

// pairs returns, for each app, the environments from and to of the tree;
// the apps with both, or those asked for (which must have both).
func (f *layoutFlags) pairs(fsys fs.FS, from, to string) ([][2]promote.Environment, error) {
	apps := f.apps
	if len(apps) == 0 && strings.Contains(f.layout, "{app}") {
		parent, _, _ := strings.Cut(f.layout, "{app}")
		entries, err := fs.ReadDir(fsys, path.Clean(cmpOr(parent, ".")))
		if err != nil {
			return nil, fmt.Errorf("list apps under %s: %w", parent, err)
		}
		for _, e := range entries {
			if e.IsDir() && isDir(fsys, f.dir(e.Name(), from)) && isDir(fsys, f.dir(e.Name(), to)) {
				apps = append(apps, e.Name())
			}
		}
	}
	if !strings.Contains(f.layout, "{app}") {
		apps = []string{""}
	}
	var out [][2]promote.Environment
	for _, app := range apps {
		a := promote.Environment{Name: from, Dir: f.dir(app, from)}
		b := promote.Environment{Name: to, Dir: f.dir(app, to)}
		for _, e := range []promote.Environment{a, b} {
			if !isDir(fsys, e.Dir) {
				return nil, fmt.Errorf("no %s: the layout %s has no directory %s", e.Name, f.layout, e.Dir)
			}
		}
		out = append(out, [2]promote.Environment{a, b})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no app has both %s and %s under %s", f.dir("*", from), f.dir("*", to), f.layout)
	}
	return out, nil
}

func isDir(fsys fs.FS, p string) bool {
	st, err := fs.Stat(fsys, p)
	return err == nil && st.IsDir()
}

// promotionEdit is the edit of a promotion of every pair: planned on the
// tree it is given, so that a retry after a concurrent push plans again
// on the new head. plans receives the plans of the last run.
func promotionEdit(pairs [][2]promote.Environment, opts promote.PlanOptions, plans *[]*promote.Plan) promote.Edit {
	return promote.EditFunc(func(ctx context.Context, fsys fs.FS) (promote.Result, error) {
		var all []promote.Edit
		*plans = (*plans)[:0]
		for _, p := range pairs {
			plan, err := promote.PlanPromotion(ctx, fsys, kustomize.New(), p[0], p[1], opts)
			if err != nil {
				return promote.Result{}, err
			}
			*plans = append(*plans, plan)
			edit := plan.Edit
			all = append(all, promote.EditFunc(func(context.Context, fs.FS) (promote.Result, error) { return edit, nil }))
		}
		return promote.Edits(all...).Apply(ctx, fsys)
	})
}

// healthGate is promote's gate: the plan of the unit that applies the
// source environment (--gate-path, clusters/{env} by default, named as
// converge sync names it) must be Synced and Healthy.
func healthGate(ctx context.Context, cf clusterFlags, rs repoSource, gatePath, ownerNamespace string) (promote.Gate, func(), error) {
	cfg, err := loadKubeconfig(cf)
	if err != nil {
		return nil, nil, err
	}
	if err := ping(ctx, cfg); err != nil {
		return nil, nil, err
	}
	c, err := cluster.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	r, err := reconcile.New(c, reconcile.WithFetcher(reconcile.NewFetcher(reconcile.FetcherOptions{AllowFileURLs: true})))
	if err != nil {
		return nil, nil, err
	}
	gate := r.PromotionGate(func(env promote.Environment) (reconcile.Unit, error) {
		p := strings.ReplaceAll(gatePath, "{env}", env.Name)
		return reconcile.Unit{
			Name: reconcile.DefaultName(rs.identity, p), Namespace: ownerNamespace,
			Source: rs.source, Path: p, Sync: reconcile.Sync{Prune: true}, Render: reconcile.Render{Recurse: true},
		}, nil
	})
	return gate, r.Close, nil
}

// printPlans shows what a promotion changes.
func printPlans(w io.Writer, plans []*promote.Plan) {
	for _, p := range plans {
		for _, g := range p.Gates {
			fmt.Fprintf(w, "gate: %s\n", g)
		}
		if p.Empty() {
			fmt.Fprintf(w, "%s: %s already runs what %s runs\n", p.To.Dir, p.To.Name, p.From.Name)
			continue
		}
		fmt.Fprintf(w, "%s\n", p.Summary())
		for _, c := range p.Render {
			fmt.Fprintf(w, "  render: %s\n", c)
		}
		fmt.Fprint(w, p.Edit.Diff())
	}
}

// promotedImages lists the plans' images, once each.
func promotedImages(plans []*promote.Plan) []promote.ImageRef {
	var out []promote.ImageRef
	for _, p := range plans {
		for _, i := range p.Images {
			if !slices.Contains(out, i) {
				out = append(out, i)
			}
		}
	}
	return out
}
