package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/converge-dev/converge/check"
	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/promote"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/source"
)

// checkFlags are converge check's flags.
type checkFlags struct {
	repo, ref, failOn, output string
	history                   bool
	disable                   []string
	kubeconfig, context       string
	registries                []string
	insecureRegistries        bool
}

func newCheck(out *output) *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check --repo URL|DIR [--ref REV] [--history] [--kubeconfig K] [--registry HOST] [--fail-on high] [--output text|json|sarif] [--disable ID,...]",
		Short: "Check a GitOps repository against the readiness checklist and its anti-patterns",
		Long: `Check runs the GitOps readiness checklist and anti-patterns as rules over
a repository at a revision (--repo, --ref, as plan reads them): plaintext
Secrets and credentials, latest image tags, push-based deploys in CI files,
Argo CD and Flux sync settings, the environment layout, invalid YAML.
--history also reads the repository's Git history (every branch and tag,
and, in a local clone, the commits a force push or reset dropped) for
Secrets that any commit added, removed since or not, and its branches for
one branch per environment: at most 10,000
commits, 256 MiB of blobs and 60 seconds, with a note of what was not read.

--kubeconfig (and --context) also read that cluster: objects a GitOps tool
applied that another field manager (kubectl edit, kubectl apply) changed
since, with who, when and which fields; objects in GitOps-managed
namespaces that no GitOps tool applied; bindings that give write access to
system:authenticated or to people there. --registry HOST resolves the tags
of images on that registry (anonymously; --insecure-registry for plain
HTTP) and reports a tag pinned with a digest that points elsewhere now.

The report groups findings by checklist item, each with a score; --output
json or sarif (2.1.0, for code scanning) instead of text. No finding holds
a secret value. --disable turns rules off by ID; the annotation
check.converge.dev/disable: "ID,..." turns them off for one object, and
check.converge.dev/disable-reason says why, which the report quotes.

Exit codes: 0 nothing at or above --fail-on was found; 1 something was, or
the repository could not be read; 2 bad usage.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCheck(cmd.Context(), out, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.repo, "repo", "", "the repository: a Git URL or a local directory")
	fl.StringVar(&f.ref, "ref", "", "the revision: a branch, tag or commit (a local directory: anything git rev-parse accepts)")
	fl.BoolVar(&f.history, "history", false, "also read the Git history for Secrets committed, even if removed since")
	fl.StringVar(&f.failOn, "fail-on", "high", "exit 1 when a finding at or above this severity is found: info, low, medium, high or critical")
	fl.StringVar(&f.output, "output", "text", "the report's format: text, json or sarif")
	fl.StringSliceVar(&f.disable, "disable", nil, "rule IDs not to run, comma-separated")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "also check this cluster (GitOps-managed objects changed by hand, unowned objects, write access)")
	fl.StringVar(&f.context, "context", "", "with --kubeconfig: the kubeconfig context (default: the current one)")
	fl.StringArrayVar(&f.registries, "registry", nil, "resolve the tags of images on this registry host for moved tags (repeatable)")
	fl.BoolVar(&f.insecureRegistries, "insecure-registry", false, "with --registry: reach the registries over plain HTTP")
	return cmd
}

func runCheck(ctx context.Context, out *output, f checkFlags) error {
	threshold, err := check.ParseSeverity(f.failOn)
	if err != nil {
		return usagef("--fail-on: %v", strings.TrimPrefix(err.Error(), "check: "))
	}
	if !slices.Contains([]string{"text", "json", "sarif"}, f.output) {
		return usagef("--output %q: want text, json or sarif", f.output)
	}
	if f.context != "" && f.kubeconfig == "" {
		return usagef("--context needs --kubeconfig")
	}
	if f.insecureRegistries && len(f.registries) == 0 {
		return usagef("--insecure-registry needs --registry")
	}
	rules := check.RepositoryRules(check.DefaultRepositoryOptions())
	known := []string{"secret-history", "layout-branch-per-environment", "image-tag-moved"}
	for _, r := range append(rules, check.ClusterRules(nil, check.ClusterOptions{})...) {
		known = append(known, r.Meta().ID)
	}
	for _, id := range f.disable {
		if !slices.Contains(known, id) {
			return usagef("--disable %q: no such rule (the rules: %s)", id, strings.Join(known, ", "))
		}
	}
	rs, err := resolveRepo(ctx, f.repo, f.ref, f.ref != "")
	if err != nil {
		return err
	}
	if f.history && rs.source.Dir != "" && !isGitRoot(rs.source.Dir) {
		return fmt.Errorf("repository %s is not the root of a Git repository, which --history needs", f.repo)
	}
	if f.kubeconfig != "" {
		cfg, err := loadKubeconfig(clusterFlags{kubeconfig: f.kubeconfig, context: f.context})
		if err != nil {
			return err
		}
		if err := ping(ctx, cfg); err != nil {
			return err
		}
		c, err := cluster.New(cfg)
		if err != nil {
			return err
		}
		rules = append(rules, check.ClusterRules(c, check.DefaultClusterOptions())...)
	}
	if len(f.registries) > 0 {
		rules = append(rules, check.MovedTags(registryDigests(f.insecureRegistries), check.MovedTagsOptions{Registries: f.registries}))
	}
	snap, err := fetchSnapshot(ctx, rs)
	if err != nil {
		return err
	}
	if f.history {
		h, cleanup, err := historyRules(ctx, rs)
		if err != nil {
			return err
		}
		defer cleanup()
		rules = append(rules, h...)
	}
	rep, err := check.Run(ctx, check.NewTarget(snap.FS, snap.Revision, check.DefaultLimits()), rules, check.Options{Disabled: f.disable})
	if err != nil {
		return err
	}
	if err := out.write(func(w io.Writer) error {
		switch f.output {
		case "json":
			return rep.WriteJSON(w)
		case "sarif":
			return rep.WriteSARIF(w, check.DefaultSARIFOptions())
		}
		return rep.WriteText(w)
	}); err != nil {
		return err
	}
	if rep.Fails(threshold) {
		n := 0
		for _, fd := range rep.Findings() {
			if fd.Severity >= threshold {
				n++
			}
		}
		return &exitError{code: ExitFailed, msg: fmt.Sprintf("%d %s at or above %s", n, pluralWord(n, "finding"), threshold)}
	}
	return nil
}

// fetchSnapshot reads the repository at the revision, trying a remote
// revision's other references (a tag of that name) when the first is
// not found.
func fetchSnapshot(ctx context.Context, rs repoSource) (*source.Snapshot, error) {
	fetcher := reconcile.NewFetcher(reconcile.FetcherOptions{AllowFileURLs: true, Timeout: 2 * time.Minute})
	u := &reconcile.Unit{Name: "check", Source: rs.source}
	for {
		snap, err := fetcher.Fetch(ctx, u)
		if notFound(err) && len(rs.candidates) > 0 {
			u.Source.Ref, rs.candidates = rs.candidates[0], rs.candidates[1:]
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cannot fetch %s at %s: %s", rs.display, cmpOr(rs.rev, "its working tree"), rootCause(err))
		}
		return snap, nil
	}
}

// historyRules opens the local repository, or clones the remote one into
// a temporary directory that cleanup removes, for the secret-history and
// layout-branch-per-environment rules.
func historyRules(ctx context.Context, rs repoSource) ([]check.Rule, func(), error) {
	if !isURL(rs.identity) {
		repo, err := check.OpenRepository(rs.identity)
		if err != nil {
			return nil, nil, fmt.Errorf("history of %s: %s", rs.display, rootCause(err))
		}
		return []check.Rule{check.SecretHistory(repo, check.DefaultHistoryOptions()), check.BranchLayout(repo)}, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "converge-check-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { _ = os.RemoveAll(tmp) }
	repo, err := check.CloneRepository(ctx, rs.identity, tmp)
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("history of %s: %s", rs.display, rootCause(err))
	}
	return []check.Rule{check.SecretHistory(repo, check.DefaultHistoryOptions()), check.BranchLayout(repo)}, cleanup, nil
}

// registryDigests resolves tags with promote's registry client,
// anonymously.
func registryDigests(insecure bool) check.DigestFunc {
	return func(ctx context.Context, image, tag string) (string, error) {
		var opts []promote.RepositoryOption
		if insecure {
			opts = append(opts, promote.WithInsecure())
		}
		repo, err := promote.NewImageRepository(image, opts...)
		if err != nil {
			return "", err
		}
		return repo.Digest(ctx, tag)
	}
}

// write gives fn stdout, holding the lock.
func (o *output) write(fn func(io.Writer) error) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return fn(o.stdout)
}

func pluralWord(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
