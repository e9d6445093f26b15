package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/rollout"
)

// session is one command's engine on one cluster.
type session struct {
	out     *output
	flags   *appFlags
	app     *app
	client  *cluster.Client
	r       *reconcile.Reconciler
	fetcher reconcile.Fetcher
	render  reconcile.Renderer
	release func()
	shown   *progressShown
}

// open resolves the flags, reads the repository once (so a bad
// repository or path fails before any cluster work), connects and builds
// the engine.
func open(ctx context.Context, f *appFlags, out *output, live bool) (*session, error) {
	a, err := f.resolve(ctx)
	if err != nil {
		return nil, err
	}
	for _, w := range a.warnings {
		out.progressf("converge: %s", w)
	}
	fopts := reconcile.FetcherOptions{AllowFileURLs: true, Timeout: 2 * time.Minute}
	var ropts []reconcile.RendererOption
	if len(f.remoteBases) > 0 {
		ropts = append(ropts, reconcile.WithRemoteBases(f.remoteBases, reconcile.RemoteBaseFetcher(fopts)))
	}
	s := &session{out: out, flags: f, app: a, fetcher: reconcile.NewFetcher(fopts), render: reconcile.NewRenderer(ropts...),
		release: func() {}, shown: newProgressShown(out, f.verbose, live && f.output == "")}
	if !a.fromFile {
		if err := s.precheck(ctx); err != nil {
			return nil, err
		}
	}
	cfg, release, err := connect(ctx, f.cluster, out)
	if err != nil {
		return nil, err
	}
	s.release = release
	if s.client, err = cluster.New(cfg); err != nil {
		s.close()
		return nil, err
	}
	overrides, _ := health.ParseOverrides(f.healthOverrides...) // checked by resolve
	keys, err := f.keys.options()
	if err != nil {
		s.close()
		return nil, err
	}
	// Rollouts run through the SDK's engine; a job metric's Jobs run in
	// --namespace.
	engine := rollout.New(rollout.Options{Providers: analysisProviders(s.client, cmpOr(f.namespace, "default")), Args: a.analysisArgs})
	s.r, err = reconcile.New(s.client,
		reconcile.WithSOPS(keys),
		reconcile.WithRollouts(engine),
		reconcile.WithFetcher(s.fetcher),
		reconcile.WithRenderer(s.render),
		reconcile.WithHealthOverrides(overrides),
		reconcile.WithProgress(reconcile.Progress{Object: s.shown.object, Health: s.shown.health}))
	if err != nil {
		s.close()
		return nil, err
	}
	if err := s.ensureNamespaces(ctx); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *session) close() {
	if s.r != nil {
		s.r.Close()
	}
	s.release()
}

// precheck fetches and renders the unit once, trying a remote
// revision's other references (a tag of that name) when the first is
// not found. The engine's own pass reuses the fetch (one reference
// listing) and Kustomize's cache.
func (s *session) precheck(ctx context.Context) error {
	u := &s.app.units[0]
	for {
		snap, err := s.fetcher.Fetch(ctx, u)
		if notFound(err) && len(s.app.candidates) > 0 {
			u.Source.Ref, s.app.candidates = s.app.candidates[0], s.app.candidates[1:]
			continue
		}
		if notFound(err) && s.app.rev != "" && u.Source.URL != "" && !strings.HasPrefix(u.Source.URL, "file://") {
			return fmt.Errorf("%s has no branch or tag %q", s.app.repoName, s.app.rev)
		}
		if err != nil {
			return fmt.Errorf("cannot fetch %s at %s: %s", s.app.repoName, cmpOr(s.app.rev, "main"), rootCause(err))
		}
		if _, err := s.render.Render(ctx, u, snap); err != nil {
			if strings.Contains(err.Error(), "is not a directory of the source") {
				return fmt.Errorf("path %s does not exist in the repository at %s", u.Path, shortRevision(snap.Revision))
			}
			return fmt.Errorf("render %s at %s: %s", u.Path, shortRevision(snap.Revision), oneLine(err.Error()))
		}
		return nil
	}
}

// ensureNamespaces creates the namespaces the units keep their
// inventories in, saying so: an Argo CD Application lives in "argocd",
// a Flux Kustomization in "flux-system", which a plain cluster lacks.
func (s *session) ensureNamespaces(ctx context.Context) error {
	seen := map[string]bool{}
	for _, u := range s.app.units {
		ns := cmpOr(u.Namespace, "default")
		if seen[ns] {
			continue
		}
		seen[ns] = true
		nsObj := &unstructured.Unstructured{}
		nsObj.SetAPIVersion("v1")
		nsObj.SetKind("Namespace")
		if _, err := s.client.Get(ctx, nsObj.GroupVersionKind(), "", ns); err == nil {
			continue
		} else if !apierrors.IsNotFound(err) {
			return fmt.Errorf("namespace %s: %s", ns, oneLine(err.Error()))
		}
		_, err := s.client.Dynamic().Resource(corev1.SchemeGroupVersion.WithResource("namespaces")).Create(ctx,
			&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}},
			metav1.CreateOptions{FieldManager: "converge"})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s for the inventory: %s", ns, oneLine(err.Error()))
		}
		s.out.progressf("converge: created namespace %s, where %s keeps its inventory", ns, u.Ref())
	}
	return nil
}

// pass runs one pass over every unit, in dependency order.
func (s *session) pass(ctx context.Context, run func(context.Context, reconcile.Unit) (reconcile.Status, error)) ([]reconcile.Status, error) {
	units, err := ordered(s.app.units)
	if err != nil {
		return nil, err
	}
	var out []reconcile.Status
	for _, u := range units {
		s.shown.begin()
		st, err := run(ctx, u)
		out = append(out, st)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// ordered sorts units so each comes after what it depends on, and
// refuses a dependency the file does not hold.
func ordered(units []reconcile.Unit) ([]reconcile.Unit, error) {
	byRef := map[reconcile.Ref]reconcile.Unit{}
	for _, u := range units {
		byRef[u.Ref()] = u
	}
	var out []reconcile.Unit
	done := map[reconcile.Ref]bool{}
	var visit func(u reconcile.Unit, path []string) error
	visit = func(u reconcile.Unit, path []string) error {
		if done[u.Ref()] {
			return nil
		}
		for _, p := range path {
			if p == u.Ref().String() {
				return fmt.Errorf("dependsOn cycle: %s → %s", strings.Join(path, " → "), u.Ref())
			}
		}
		for _, d := range u.DependsOn {
			if d.Namespace == "" {
				d.Namespace = u.Namespace
			}
			dep, ok := byRef[d]
			if !ok {
				return fmt.Errorf("%s depends on %s, which the file does not hold: add it to the file", u.Ref(), d)
			}
			if err := visit(dep, append(path, u.Ref().String())); err != nil {
				return err
			}
		}
		done[u.Ref()] = true
		out = append(out, u)
		return nil
	}
	for _, u := range units {
		if err := visit(u, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func newPlan(out *output) *cobra.Command {
	var f appFlags
	exitCode := false
	cmd := &cobra.Command{
		Use:   "plan (--repo URL|DIR --path DIR | -f FILE)",
		Short: "say what apply would create, update and prune, with diffs; write nothing",
		Long: `Renders the application and says what apply would create, update and prune,
with YAML diffs (Secret values masked), and when its hooks would run. Writes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := open(cmd.Context(), &f, out, false)
			if err != nil {
				return err
			}
			defer s.close()
			statuses, err := s.pass(cmd.Context(), s.r.Plan)
			changes := 0
			if f.output == "json" {
				printJSON(out, statuses, err)
			} else {
				for _, st := range statuses {
					printPlan(out, s, st)
				}
			}
			for _, st := range statuses {
				changes += countChanges(st.Result)
			}
			if err != nil {
				return failure(statuses, err)
			}
			if exitCode && changes > 0 {
				return &exitError{code: ExitChanges}
			}
			return nil
		},
	}
	f.register(cmd.Flags(), "plan")
	cmd.Flags().BoolVar(&exitCode, "exit-code", false, "exit with 3 when there is anything to create, update or prune")
	return cmd
}

func newApply(out *output) *cobra.Command {
	var f appFlags
	cmd := &cobra.Command{
		Use:   "apply (--repo URL|DIR --path DIR | -f FILE)",
		Short: "apply, prune and wait until healthy",
		Long: `Applies the application with server-side apply (CRDs and namespaces first, then
waves, hooks in their phases when something changes), prunes what it applied
before and the repository no longer has, waits until everything is healthy,
and prints a line per write, the diffs, a table and a summary.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := open(cmd.Context(), &f, out, true)
			if err != nil {
				return err
			}
			defer s.close()
			// A manual unit (Argo CD without automated sync) is synced as
			// `argocd app sync` does, hooks included; the others are
			// reconciled, so hooks run only when something changes.
			statuses, err := s.pass(cmd.Context(), func(ctx context.Context, u reconcile.Unit) (reconcile.Status, error) {
				if u.Sync.Manual {
					return s.r.Sync(ctx, u)
				}
				return s.r.Reconcile(ctx, u)
			})
			if f.output == "json" {
				printJSON(out, statuses, err)
			} else {
				for _, st := range statuses {
					printApplied(out, s, st)
				}
			}
			if err != nil {
				return failure(statuses, err)
			}
			return nil
		},
	}
	f.register(cmd.Flags(), "apply")
	return cmd
}

func newSync(out *output) *cobra.Command {
	var f appFlags
	var interval time.Duration
	var once bool
	var maxTicks int
	cmd := &cobra.Command{
		Use:   "sync (--repo URL|DIR --path DIR | -f FILE) [--interval 30s] [--once | --max-ticks N]",
		Short: "a reconcile loop: self-heal, prune, retry, until interrupted",
		Long: `A reconcile loop, the engine's: every --interval it fetches (one reference
listing when nothing moved), renders only when the revision changed,
applies what drifted and prunes; a change made in the cluster by anyone
else is reverted as soon as the watch sees it (self-heal); a failure is
retried with backoff. A pass with nothing to do is one line. Stops on
Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval <= 0 {
				return usagef("--interval must be positive, not %s", interval)
			}
			if maxTicks < 0 {
				return usagef("--max-ticks must not be negative")
			}
			if once {
				if maxTicks > 1 {
					return usagef("--once and --max-ticks %d exclude each other", maxTicks)
				}
				maxTicks = 1
			}
			s, err := open(cmd.Context(), &f, out, true)
			if err != nil {
				return err
			}
			defer s.close()
			return s.loop(cmd.Context(), interval, maxTicks)
		},
	}
	f.register(cmd.Flags(), "sync")
	cmd.Flags().DurationVar(&interval, "interval", 30*time.Second, "time between passes")
	cmd.Flags().BoolVar(&once, "once", false, "run one pass and exit (same as --max-ticks 1)")
	cmd.Flags().IntVar(&maxTicks, "max-ticks", 0, "exit after this many passes of each application (0: run until interrupted)")
	return cmd
}

// loop runs the units in a reconcile.Loop until interrupted or maxTicks
// passes of each.
func (s *session) loop(ctx context.Context, interval time.Duration, maxTicks int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	every := "every " + interval.String()
	if maxTicks == 1 {
		every = "once"
	} else if maxTicks > 1 {
		every += fmt.Sprintf(", %s", plural(maxTicks, "pass", "passes"))
	}
	for _, u := range s.app.units {
		if s.flags.output == "" {
			s.out.printf("sync: %s of %s %s on %s, owner %s", describeSource(u), s.app.repoName, every, s.client.Config().Host, u.Ref())
		}
	}
	units := s.app.units
	for i := range units {
		units[i].Sync.SelfHeal = true
		units[i].Interval = interval
	}
	opts := reconcile.DefaultLoopOptions()
	opts.Interval = interval
	var (
		mu    sync.Mutex // OnStatus runs on the Loop's workers
		ticks = map[reconcile.Ref]int{}
		last  error
		done  int
	)
	opts.OnStatus = func(st reconcile.Status) {
		mu.Lock()
		defer mu.Unlock()
		ticks[st.Unit]++
		n := ticks[st.Unit]
		if maxTicks > 0 && n > maxTicks {
			return
		}
		printTick(s, n, st)
		if st.Err != nil {
			last = failure([]reconcile.Status{st}, st.Err)
		} else {
			last = nil
		}
		if maxTicks > 0 && n == maxTicks {
			done++
			if done == len(units) {
				cancel()
			}
		}
	}
	loop := reconcile.NewLoop(s.r, opts)
	if err := loop.Set(units...); err != nil {
		return usagef("%v", err)
	}
	if err := loop.Run(ctx); err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	if maxTicks > 0 && done == len(units) {
		return last
	}
	if s.flags.output == "" {
		s.out.printf("sync: stopped after %s", plural(totalTicks(ticks), "pass", "passes"))
	}
	return nil
}

func totalTicks(t map[reconcile.Ref]int) int {
	n := 0
	for _, v := range t {
		n += v
	}
	return n
}

func newDelete(out *output) *cobra.Command {
	var f appFlags
	var yes, withNamespace bool
	cmd := &cobra.Command{
		Use:   "delete (--repo URL|DIR --path DIR | -f FILE) [--yes]",
		Short: "remove an application: prune everything it applied, then its inventory",
		Long: `Removes an application, as argocd app delete and flux delete kustomization
do: everything it applied is pruned (in reverse order, namespaces last),
then its inventory. Objects another application shares, or that were
applied from another repository, are kept. A namespace converge created on
request stays unless --delete-namespace. Asks first, unless --yes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := open(cmd.Context(), &f, out, true)
			if err != nil {
				return err
			}
			defer s.close()
			for _, u := range s.app.units {
				if !yes && !confirm(cmd, fmt.Sprintf("Delete everything %s applied on %s? [y/N] ", u.Ref(), s.client.Config().Host)) {
					return &exitError{code: ExitFailed, msg: "not deleted: not confirmed (pass --yes to skip the question)"}
				}
				res, err := s.r.Delete(cmd.Context(), u, withNamespace)
				if res != nil {
					printDeleted(out, u, res)
				}
				if err != nil {
					return err
				}
			}
			return nil
		},
	}
	f.register(cmd.Flags(), "delete")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&withNamespace, "delete-namespace", false, "also delete the namespace converge created on request (--create-namespace), with everything in it")
	return cmd
}

func confirm(cmd *cobra.Command, question string) bool {
	fmt.Fprint(cmd.OutOrStdout(), question)
	answer, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && answer == "" {
		return false
	}
	a := strings.ToLower(strings.TrimSpace(answer))
	return a == "y" || a == "yes"
}

// failure turns a failed pass into the one line the command ends with.
func failure(statuses []reconcile.Status, err error) error {
	for _, st := range statuses {
		if st.Result == nil {
			continue
		}
		failed := st.Result.Failed()
		if len(failed) == 0 {
			continue
		}
		first := failed[0]
		msg := first.Reason
		if first.Err != nil {
			msg = first.Err.Error()
		}
		return fmt.Errorf("%s failed; first: %s: %s", plural(len(failed), "object", "objects"), first.ID, msg)
	}
	if errors.Is(err, reconcile.ErrEmptyRender) {
		return errors.New("the render holds no objects; pass --allow-empty to prune everything this application applied")
	}
	var se *reconcile.StageError
	if errors.As(err, &se) {
		if errors.Is(err, apply.ErrRefused) {
			msg := oneLine(se.Err.Error())
			if strings.Contains(msg, "no default namespace given") {
				msg += " (pass --namespace)"
			}
			return fmt.Errorf("the rendered set was refused, nothing was written: %s", msg)
		}
		return fmt.Errorf("%s: %s", se.Stage, rootCause(se.Err))
	}
	return err
}
