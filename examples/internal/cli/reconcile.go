package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render/kustomize"
	"github.com/converge-dev/converge/source"
)

// reconcileFlags are the flags plan, apply and sync share.
type reconcileFlags struct {
	repo, ref, path string
	cluster         clusterFlags

	owner, ownerNamespace string
	namespace             string
	createNamespace       bool
	prune, wait           bool
	timeout               time.Duration
	verbose               bool
}

func (f *reconcileFlags) register(fs *flag.FlagSet, cmd string) {
	fs.StringVar(&f.repo, "repo", "", "Git URL (https, http, ssh, file) or local directory of the repository")
	fs.StringVar(&f.ref, "ref", "", `branch, tag or full commit hash to read (default "main"; a local directory is read from disk unless --ref is given)`)
	fs.StringVar(&f.path, "path", "", "directory of the repository to render, e.g. clusters/dev")
	fs.StringVar(&f.cluster.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, then ~/.kube/config)")
	fs.StringVar(&f.cluster.context, "context", "", "kubeconfig context (default: the current one)")
	fs.BoolVar(&f.cluster.local, "local", false, "start a local control plane (etcd, kube-apiserver, controllers, kwok nodes) for this command and stop it on exit")
	fs.StringVar(&f.cluster.testbin, "testbin", "", "with --local: folder of the control-plane binaries (default $CONVERGE_TESTBIN, $KUBEBUILDER_ASSETS, or built by hack/testbin/build.sh)")
	fs.StringVar(&f.owner, "owner", "", `name recorded on every applied object, for prune (default derived from --path: "clusters/dev" gives "clusters-dev")`)
	fs.StringVar(&f.ownerNamespace, "owner-namespace", "", `namespace of the owner, where its inventory ConfigMap lives (default "default")`)
	fs.StringVar(&f.namespace, "namespace", "", "namespace for namespaced objects that name none")
	fs.BoolVar(&f.createNamespace, "create-namespace", false, "create --namespace when the repository does not define it")
	fs.BoolVar(&f.prune, "prune", true, "delete objects this owner applied before that left the repository")
	fs.BoolVar(&f.verbose, "verbose", false, "also list unchanged objects")
	if cmd != "plan" {
		fs.BoolVar(&f.wait, "wait", true, "wait until every applied object is healthy")
		fs.DurationVar(&f.timeout, "timeout", 5*time.Minute, "how long to wait for health")
	}
}

// reconciler renders one path of one repository and applies it for one
// owner. Its Applier, and so its watch cache and apply receipts, live as
// long as it does: a sync reuses them on every tick.
type reconciler struct {
	flags    reconcileFlags
	path     string
	src      source.Source
	renderer *kustomize.Renderer
	client   *cluster.Client
	applier  *apply.Applier
	health   *healthChecker
	out      *output
	release  func()

	// header, when set, is printed once before the first line of a run,
	// so that a sync tick with nothing to say is one line.
	header     string
	headerOnce sync.Once
}

// printf prints a line of a run, after the run's header.
func (r *reconciler) printf(format string, args ...any) {
	r.headerOnce.Do(func() {
		if r.header != "" {
			r.out.printf("%s", r.header)
		}
	})
	r.out.printf(format, args...)
}

// startRun sets the header the next run prints before its first line.
func (r *reconciler) startRun(header string) {
	r.header = header
	r.headerOnce = sync.Once{}
}

// spoke reports whether the current run printed anything.
func (r *reconciler) spoke() bool {
	spoke := true
	r.headerOnce.Do(func() { spoke = false })
	return spoke
}

// newReconciler checks the flags, fetches and renders once (so that a bad
// repository or path fails before any cluster work), then connects.
func newReconciler(ctx context.Context, f reconcileFlags, out *output) (*reconciler, *rendered, error) {
	p, err := checkPath(f.path)
	if err != nil {
		return nil, nil, err
	}
	if f.cluster.local && f.cluster.kubeconfig != "" {
		return nil, nil, usagef("--local and --kubeconfig exclude each other")
	}
	owner := f.owner
	if owner == "" {
		owner = ownerFor(p)
	}
	if errs := validation.IsDNS1123Label(owner); len(errs) > 0 || len(owner) > 54 {
		return nil, nil, usagef("--owner %q must be lower-case letters, digits and '-', at most 54 characters", owner)
	}
	if f.ownerNamespace != "" {
		if errs := validation.IsDNS1123Label(f.ownerNamespace); len(errs) > 0 {
			return nil, nil, usagef("--owner-namespace %q is not a namespace name", f.ownerNamespace)
		}
	}
	src, err := openRepo(f.repo, f.ref, f.ref != "")
	if err != nil {
		return nil, nil, err
	}
	r := &reconciler{
		flags:    f,
		path:     p,
		src:      src,
		renderer: kustomize.New(kustomize.WithCache(kustomize.NewCache())),
		out:      out,
		release:  func() {},
	}
	first, err := r.render(ctx)
	if err != nil {
		return nil, nil, err
	}
	cfg, release, err := connect(ctx, f.cluster, out)
	if err != nil {
		return nil, nil, err
	}
	r.release = release
	if r.client, err = cluster.New(cfg); err != nil {
		r.close()
		return nil, nil, err
	}
	if r.health, err = newHealthChecker(); err != nil {
		r.close()
		return nil, nil, err
	}
	r.applier, err = apply.New(r.client, apply.Owner{Name: owner, Namespace: f.ownerNamespace}, apply.WithHealthChecker(r.health))
	if err != nil {
		r.close()
		return nil, nil, usagef("--owner: %v", err)
	}
	return r, first, nil
}

func (r *reconciler) close() {
	if r.applier != nil {
		r.applier.Close()
	}
	r.release()
}

// rendered is one render of the path.
type rendered struct {
	set      *object.Set
	revision string
}

func (r *reconciler) render(ctx context.Context) (*rendered, error) {
	snap, err := r.src.Fetch(ctx)
	if err != nil {
		return nil, err
	}
	set, err := renderPath(ctx, r.renderer, snap, r.path)
	if err != nil {
		return nil, err
	}
	return &rendered{set: set, revision: snap.Revision}, nil
}

func (r *reconciler) options() apply.Options {
	o := apply.DefaultOptions()
	o.Prune = r.flags.prune
	o.Wait = r.flags.wait
	if r.flags.timeout > 0 {
		o.WaitTimeout = r.flags.timeout
	}
	o.Namespace = r.flags.namespace
	o.CreateNamespace = r.flags.createNamespace
	return o
}

// run applies (or plans) a rendered set, printing a line per object
// written and the health of workloads as they roll out.
func (r *reconciler) run(ctx context.Context, rd *rendered, dry bool) (*apply.Result, error) {
	r.health.learn(rd.set)
	opts := r.options()
	if dry {
		return r.applier.Plan(ctx, rd.set, opts)
	}
	start := time.Now()
	opts.Progress = func(e apply.Event) {
		if e.Action == apply.Unchanged && !r.flags.verbose {
			return
		}
		line := fmt.Sprintf("  %-11s %s", strings.ToLower(string(e.Action)), e.ID)
		if e.Phase != apply.PhaseSync && e.Phase != apply.PhasePrune && e.Phase != "" {
			line += fmt.Sprintf(" (%s hook)", e.Phase)
		}
		if e.Err != nil {
			line += ": " + oneLine(e.Err.Error())
		}
		r.printf("%s  %s", line, since(start))
	}
	var watch *healthWatch
	if opts.Wait {
		watch = r.watchHealth(ctx, rd.set.IDs(), start)
	}
	res, err := r.applier.Apply(ctx, rd.set, opts)
	if watch != nil {
		watch.stop(res)
	}
	return res, err
}

// printDiffs prints the diff of every object an apply or plan changes.
func (r *reconciler) printDiffs(res *apply.Result, created bool) {
	for _, o := range res.Objects {
		if o.Diff == nil || o.Diff.Diff == "" {
			continue
		}
		if o.Action != apply.Configured && o.Action != apply.Recreated && !(created && o.Action == apply.Created) {
			continue
		}
		r.printf("  ~ %s", o.ID)
		r.out.block("      ", o.Diff.Diff)
	}
}

// failure turns a failed apply into the one line the command ends with.
func failure(res *apply.Result, err error) error {
	if res == nil {
		return err
	}
	failed := res.Failed()
	if len(failed) == 0 {
		return err
	}
	first := failed[0]
	msg := first.Reason
	if first.Err != nil {
		msg = first.Err.Error()
	}
	noun := "object"
	if len(failed) > 1 {
		noun = "objects"
	}
	return fmt.Errorf("%d %s failed; first: %s: %s", len(failed), noun, first.ID, msg)
}

func since(start time.Time) string {
	return fmt.Sprintf("(%s)", time.Since(start).Round(10*time.Millisecond))
}

// mapRefused marks a set refused before anything was written as the
// repository's fault, not the tool's.
func mapRefused(err error) error {
	if errors.Is(err, apply.ErrRefused) {
		return fmt.Errorf("the rendered set was refused, nothing was written: %w", err)
	}
	return err
}
