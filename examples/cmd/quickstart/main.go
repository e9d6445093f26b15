// Command quickstart is what `make run` runs: a tour of the converge CLI
// on a local control plane, start to finish, in a couple of minutes.
//
// It copies examples/gitops-deploy into a new Git repository in a temporary
// folder (read through a file:// URL, which source/git allows on request),
// starts one living control plane (etcd, kube-apiserver, controllers, kwok
// fake nodes), and runs, in this process, what a user would type:
//
//	converge plan  --repo file://… --path clusters/dev   # everything to create
//	converge apply --repo file://… --path clusters/dev   # apply, wait until healthy
//	(a hand edit in the cluster)    converge check --history --kubeconfig …
//	                                                     # the checklist: the edit is found
//	                                converge sync --once # self-heal
//	(a commit: web 1.5.0 → 1.5.1)   converge diff        # the pull-request preview
//	                                converge sync --once # the diff and the roll-out
//	converge promote --from dev --to staging --app web   # a commit, gated on dev's health
//	converge rollback --env staging --app web            # a revert commit
//	(the reference operator takes clusters/dev over)     # and applies the next commit itself
//
// It stops the plane and removes the folder when it ends, also on Ctrl-C.
//
//	cd examples && go run ./cmd/quickstart [-source gitops-deploy]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/examples/internal/cli"
	"github.com/converge-dev/converge/examples/internal/quiet"
	"github.com/converge-dev/converge/examples/operator"
	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/internal/testenv"
	"github.com/converge-dev/converge/reconcile"
)

func main() {
	quiet.Loggers()
	source := flag.String("source", "gitops-deploy", "the deployment repository to copy (examples/gitops-deploy)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *source, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "quickstart: interrupted; everything it started is stopped")
		os.Exit(130)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "quickstart: %v\n", err)
		os.Exit(1)
	}
}

// tour holds what the steps share.
type tour struct {
	ctx   context.Context
	out   io.Writer
	errs  io.Writer
	start time.Time
	step  int
	env   *testenv.Env
	work  string // the repository's work tree
	url   string // its file:// URL
}

const steps = 13

func (t *tour) say(title string) {
	t.step++
	t.printf("\n━━ %d/%d  %s  [%s]\n", t.step, steps, title, time.Since(t.start).Round(time.Second))
}

// converge runs the CLI in this process, printing the command line first.
func (t *tour) converge(want int, args ...string) error {
	shown := append([]string{}, args...)
	for i, a := range shown {
		if t.env != nil && a == t.env.Kubeconfig {
			shown[i] = "$KUBECONFIG"
		}
	}
	t.printf("$ converge %s\n", strings.Join(shown, " "))
	errs := t.errs
	if want != cli.ExitOK {
		errs = t.out // what the step says about the exit it is meant to have is part of the tour
	}
	if code := cli.Main(t.ctx, args, t.out, errs); code != want {
		if t.ctx.Err() != nil {
			return t.ctx.Err()
		}
		return fmt.Errorf("converge %s exited %d, expected %d", args[0], code, want)
	}
	return nil
}

func (t *tour) printf(format string, args ...any) {
	fmt.Fprintf(t.out, format, args...)
}

func (t *tour) git(args ...string) (string, error) {
	return gittest.Git(t.work, args...)
}

// run takes the tour, printing to out (and the CLI's errors to errs).
func run(ctx context.Context, source string, out, errs io.Writer) (err error) {
	t := &tour{ctx: ctx, out: out, errs: errs, start: time.Now()}
	t.printf("converge quickstart: reconcile a GitOps repository into a local cluster, then change it.\n")

	t.say("Build (or find) the control-plane binaries")
	assets, err := testenv.AssetsDir()
	if err != nil {
		return err
	}
	t.printf("etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok from %s\n", assets)
	if err := os.Setenv("KUBEBUILDER_ASSETS", assets); err != nil {
		return err
	}

	t.say("Create a Git repository from examples/gitops-deploy")
	tmp, err := os.MkdirTemp("", "converge-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	t.work = filepath.Join(tmp, "gitops-deploy")
	if err := copyTree(source, t.work); err != nil {
		return fmt.Errorf("copy %s: %w", source, err)
	}
	if _, err := t.git("init", "--quiet", "--initial-branch=main"); err != nil {
		return err
	}
	// converge promote and rollback push to this repository while main
	// is checked out: git updates the work tree with the push.
	if _, err := t.git("config", "receive.denyCurrentBranch", "updateInstead"); err != nil {
		return err
	}
	if _, err := t.git("add", "--all"); err != nil {
		return err
	}
	if _, err := t.git("commit", "--quiet", "-m", "gitops-deploy: infrastructure, web and api in dev, staging and prod"); err != nil {
		return err
	}
	first, err := t.git("rev-parse", "HEAD")
	if err != nil {
		return err
	}
	t.url = "file://" + filepath.ToSlash(t.work)
	t.printf("%s, branch main at %s. converge reads it through source/git (a file:// URL,\nallowed with git.WithFileURLs; hosts use https or ssh the same way).\n", t.url, first[:12])
	tree, _ := t.git("ls-files", "apps/web", "infrastructure", "clusters")
	t.printf("%s\n", indent(tree, "  "))

	t.say("Start a local control plane")
	start := time.Now()
	t.env, err = testenv.Start(testenv.Options{Mode: testenv.Living})
	if err != nil {
		return fmt.Errorf("start the control plane: %w", err)
	}
	defer func() {
		if serr := t.env.Stop(); serr != nil && err == nil {
			err = fmt.Errorf("stop the control plane: %w", serr)
		}
		t.printf("\nThe control plane is stopped and the temporary repository removed; nothing is left running.\n")
	}()
	t.printf("etcd + kube-apiserver + kube-controller-manager + kube-scheduler + kwok (3 fake nodes) up in %s at %s\n",
		time.Since(start).Round(100*time.Millisecond), t.env.Config.Host)
	t.printf("KUBECONFIG=%s (gone when the quickstart ends)\n", t.env.Kubeconfig)
	common := []string{"--repo", t.url, "--path", "clusters/dev", "--kubeconfig", t.env.Kubeconfig}

	t.say("Plan: what applying clusters/dev would do to an empty cluster")
	if err := t.converge(cli.ExitChanges, append([]string{"plan"}, append(common, "--exit-code")...)...); err != nil {
		return err
	}

	t.say("Apply: CRDs and namespaces first, then the rest; wait until healthy")
	if err := t.converge(cli.ExitOK, append([]string{"apply"}, common...)...); err != nil {
		return err
	}

	t.say("Someone edits the cluster by hand")
	if err := handEdit(ctx, t.env.Client); err != nil {
		return err
	}
	t.printf("kubectl-edit set Deployment shop/web to 3 replicas and image shop-web:hotfix (a field manager other than converge)\n")

	t.say("Check the repository, its history and the cluster against the GitOps readiness checklist")
	t.printf("The repository passes every rule; the hand edit is the one finding at or above high, so check exits 1.\n")
	if err := t.converge(cli.ExitFailed, "check", "--repo", t.url, "--history", "--kubeconfig", t.env.Kubeconfig); err != nil {
		return err
	}

	t.say("The next sync puts Git back")
	if err := t.converge(cli.ExitOK, append([]string{"sync", "--once"}, common...)...); err != nil {
		return err
	}

	t.say("Commit a new image tag for web in dev, and preview it like a pull request")
	kfile := filepath.Join(t.work, "apps", "web", "overlays", "dev", "kustomization.yaml")
	data, err := os.ReadFile(kfile)
	if err != nil {
		return err
	}
	if !strings.Contains(string(data), "newTag: 1.5.0") {
		return errors.New("apps/web/overlays/dev/kustomization.yaml does not pin newTag: 1.5.0 any more; update the quickstart")
	}
	if err := os.WriteFile(kfile, []byte(strings.Replace(string(data), "newTag: 1.5.0", "newTag: 1.5.1", 1)), 0o644); err != nil {
		return err
	}
	if _, err := t.git("commit", "--quiet", "-am", "web: 1.5.1 in dev"); err != nil {
		return err
	}
	second, err := t.git("rev-parse", "HEAD")
	if err != nil {
		return err
	}
	t.printf("committed %s: apps/web/overlays/dev/kustomization.yaml newTag 1.5.0 → 1.5.1\n", second[:12])
	if err := t.converge(cli.ExitChanges, "diff", "--repo", t.url, "--base", first, "--head", "main", "--exit-code"); err != nil {
		return err
	}

	t.say("Sync: the new commit is applied and web rolls out")
	if err := t.converge(cli.ExitOK, append([]string{"sync", "--once"}, common...)...); err != nil {
		return err
	}
	var d appsv1.Deployment
	if err := t.env.Client.Get(ctx, types.NamespacedName{Namespace: "shop", Name: "web"}, &d); err != nil {
		return err
	}
	t.printf("Deployment shop/web runs %s: %d/%d replicas updated and available\n",
		d.Spec.Template.Spec.Containers[0].Image, d.Status.UpdatedReplicas, d.Status.AvailableReplicas)

	t.say("Promote what dev runs, healthy, to staging")
	t.printf("The gate plans clusters/dev against the cluster: Synced and Healthy, or nothing is promoted.\n")
	if err := t.converge(cli.ExitOK, "promote", "--repo", t.url, "--from", "dev", "--to", "staging", "--app", "web", "--kubeconfig", t.env.Kubeconfig); err != nil {
		return err
	}
	trailers, err := t.git("log", "-1", "--format=%(trailers)")
	if err != nil {
		return err
	}
	t.printf("the commit's provenance, which converge rollback reads:\n%s\n", indent(trailers, "  "))

	t.say("Roll staging back: a revert commit, never an apply")
	if err := t.converge(cli.ExitOK, "rollback", "--repo", t.url, "--env", "staging", "--app", "web"); err != nil {
		return err
	}

	if err := t.operator(ctx); err != nil {
		return err
	}

	t.printf(`
Done in %s. Where to go next:
  - examples/README.md: the repository layout and every converge command and flag;
  - run the CLI yourself, against your cluster or a local one that lives as long as the command:
      cd examples && go run ./cmd/converge sync --repo gitops-deploy --path clusters/dev --local --interval 10s
  - converge plan -f FILE runs an Argo CD Application or a Flux Kustomization file as it is;
  - converge promote --pr and converge rollback --pr do the same through a pull request (Gitea, GitHub, GitLab);
  - README.md: the packages (reconcile, source, render, diff, apply, health) and how to wire them in your own host;
  - make test: everything above, end to end, on real control planes.
`, time.Since(t.start).Round(time.Second))
	return nil
}

// operator hands clusters/dev over from the CLI to the reference
// operator: an Application of the same name as the CLI's unit owns the
// same objects, so nothing is re-created; then a commit is applied by
// the operator on its own, within its interval.
func (t *tour) operator(ctx context.Context) error {
	t.say("Hand clusters/dev to the reference operator: continuous reconciliation as a controller")
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	if err := operator.InstallCRD(ctx, t.env.Config); err != nil {
		return err
	}
	scheme, err := operator.Scheme()
	if err != nil {
		return err
	}
	c, err := client.New(t.env.Config, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	opts := operator.DefaultOptions()
	opts.MetricsAddr, opts.HealthAddr = "0", "0"
	opts.DefaultInterval, opts.AllowFileURLs = 3*time.Second, true
	done := make(chan error, 1)
	go func() { done <- operator.Run(ctx, t.env.Config, opts) }()
	defer func() { stop(); <-done }()

	// The CLI's unit is named by the repository and path; an
	// Application of that name and namespace is the same owner.
	name := reconcile.DefaultName(t.url, "clusters/dev")
	app := &v1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: v1alpha1.ApplicationSpec{
			Source:     v1alpha1.Source{RepoURL: t.url, TargetRevision: "main", Path: "clusters/dev"},
			SyncPolicy: v1alpha1.SyncPolicy{Prune: true},
		},
	}
	if err := c.Create(ctx, app); err != nil {
		return err
	}
	t.printf("created Application default/%s (the CLI's owner name), interval 3s\n", name)
	head, err := t.git("rev-parse", "HEAD")
	if err != nil {
		return err
	}
	if err := t.waitApplication(ctx, c, app, head); err != nil {
		return err
	}
	writes := "no object re-created"
	if p := app.Status.LastPlan; p != nil {
		writes = fmt.Sprintf("last pass: %d created, %d configured, %d unchanged", p.Created, p.Configured, p.Unchanged)
	}
	t.printf("%s: Ready, %s, %s at %s (%s)\n", name, app.Status.Sync, app.Status.Health, shortRev(app.Status.LastAppliedRevision), writes)

	kfile := filepath.Join(t.work, "apps", "web", "overlays", "dev", "kustomization.yaml")
	data, err := os.ReadFile(kfile)
	if err != nil {
		return err
	}
	if err := os.WriteFile(kfile, []byte(strings.Replace(string(data), "newTag: 1.5.1", "newTag: 1.5.2", 1)), 0o644); err != nil {
		return err
	}
	if _, err := t.git("commit", "--quiet", "-am", "web: 1.5.2 in dev"); err != nil {
		return err
	}
	head, err = t.git("rev-parse", "HEAD")
	if err != nil {
		return err
	}
	t.printf("committed %s: web 1.5.1 → 1.5.2 in dev; no converge command runs now\n", head[:12])
	start := time.Now()
	if err := t.waitApplication(ctx, c, app, head); err != nil {
		return err
	}
	var d appsv1.Deployment
	if err := t.env.Client.Get(ctx, types.NamespacedName{Namespace: "shop", Name: "web"}, &d); err != nil {
		return err
	}
	t.printf("the operator applied it %s later: Deployment shop/web runs %s\n", time.Since(start).Round(time.Second), d.Spec.Template.Spec.Containers[0].Image)
	return nil
}

// waitApplication waits until app is Ready at commit head.
func (t *tour) waitApplication(ctx context.Context, c client.Client, app *v1alpha1.Application, head string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		if err := c.Get(ctx, client.ObjectKeyFromObject(app), app); err != nil {
			return err
		}
		ready := meta.FindStatusCondition(app.Status.Conditions, v1alpha1.ConditionReady)
		if ready != nil && ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == app.Generation &&
			strings.HasSuffix(app.Status.LastAppliedRevision, head) {
			return nil
		}
		select {
		case <-ctx.Done():
			msg := "no status yet"
			if ready != nil {
				msg = ready.Reason + ": " + ready.Message
			}
			return fmt.Errorf("Application %s is not Ready at %s: %s", app.Name, head[:12], msg)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func shortRev(rev string) string {
	if i := strings.Index(rev, "sha1:"); i >= 0 && len(rev) >= i+17 {
		return rev[:i+17]
	}
	return rev
}

// handEdit changes Deployment shop/web the way `kubectl edit` would: an
// Update under another field manager.
func handEdit(ctx context.Context, c client.Client) error {
	var d appsv1.Deployment
	key := types.NamespacedName{Namespace: "shop", Name: "web"}
	if err := c.Get(ctx, key, &d); err != nil {
		return err
	}
	d.Spec.Replicas = new(int32(3))
	d.Spec.Template.Spec.Containers[0].Image = "ghcr.io/converge-dev/shop-web:hotfix"
	return c.Update(ctx, &d, client.FieldOwner("kubectl-edit"))
}

// copyTree copies the regular files under src to dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

func indent(text, prefix string) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n")
}
