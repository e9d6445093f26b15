package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/argocd"
	"github.com/converge-dev/converge/reconcile/flux"
	"github.com/converge-dev/converge/rollout/analysis"
	"github.com/converge-dev/converge/source/git"
)

// appFlags are the flags of plan, apply, sync and delete: which
// application, and how to run it.
type appFlags struct {
	file            string
	repo, ref, path string
	owner, ownerNS  string
	namespace       string
	createNamespace bool
	prune           bool
	allowEmpty      bool
	wait            bool
	timeout         time.Duration
	verbose         bool
	output          string
	healthOverrides []string
	noWaitFor       []string
	remoteBases     []string
	analysisArgs    []string
	keys            keyFlags
	cluster         clusterFlags
}

func (f *appFlags) register(fs *pflag.FlagSet, cmd string) {
	fs.StringVarP(&f.file, "filename", "f", "", "an Argo CD Application (or ApplicationSet) or a Flux GitRepository+Kustomization file to run as it is")
	fs.StringVar(&f.repo, "repo", "", "Git URL (https, http, ssh, file) or local directory of the repository")
	fs.StringVar(&f.ref, "ref", "", `revision: a branch, tag, semver range, commit or refs/... name; in a local repository anything git rev-parse takes (HEAD~1, a short hash, origin/main). Default "main"; a local directory is read from disk unless --ref is given`)
	fs.StringVar(&f.path, "path", "", "directory of the repository to render, e.g. clusters/dev")
	fs.StringVar(&f.owner, "owner", "", `name of the application, recorded on every object it applies (default: the path and a hash of the repository, "clusters-dev-1a2b3c4d")`)
	fs.StringVar(&f.ownerNS, "owner-namespace", "", `namespace of the application, where its inventory ConfigMap is kept (default "default")`)
	fs.StringVarP(&f.namespace, "namespace", "n", "", "namespace for namespaced objects that name none")
	fs.BoolVar(&f.createNamespace, "create-namespace", false, "create --namespace when it does not exist (it is never pruned: converge delete --delete-namespace removes it)")
	fs.BoolVar(&f.prune, "prune", true, "delete objects this application applied before that left the repository")
	fs.BoolVar(&f.allowEmpty, "allow-empty", false, "let an empty render prune everything the application applied")
	fs.StringSliceVar(&f.healthOverrides, "health-override", nil, "fix the health of a kind no controller reports on, e.g. ServiceMonitor.monitoring.coreos.com=Healthy (repeatable)")
	fs.StringSliceVar(&f.noWaitFor, "no-wait-for", nil, "report but do not wait for a kind or object: Kind.group or Kind.group/namespace/name (repeatable)")
	fs.StringSliceVar(&f.remoteBases, "allow-remote-base", nil, "let Kustomize fetch remote bases under this URL prefix, e.g. https://github.com/myorg (repeatable)")
	fs.BoolVar(&f.verbose, "verbose", false, "also list unchanged objects")
	if cmd != "delete" {
		fs.StringVarP(&f.output, "output", "o", "", `"json" for a machine-readable result`)
	}
	if cmd != "delete" {
		f.keys.register(fs)
		fs.StringArrayVar(&f.analysisArgs, "analysis-arg", nil, "an argument given to every analysis a Rollout runs, name=value, after the Rollout's own (repeatable)")
	}
	if cmd == "apply" || cmd == "sync" {
		fs.BoolVar(&f.wait, "wait", true, "wait until every applied object is healthy")
		fs.DurationVar(&f.timeout, "timeout", 5*time.Minute, "how long a pass may take, its health wait included")
	}
	f.cluster.register(fs)
}

// app is what the flags name: the units to run, and how to fall back to
// other revisions of a remote repository.
type app struct {
	units    []reconcile.Unit
	warnings []string
	// candidates are further references of a remote --ref that may be a
	// branch or a tag: tried in order when the first is not found.
	candidates []git.Reference
	repoName   string // for messages, without credentials
	rev        string // the revision asked for, for messages
	fromFile   bool

	// analysisArgs are --analysis-arg's, given to the rollout engine.
	analysisArgs []analysis.Arg
}

// resolve turns the flags into units, before anything touches a cluster.
func (f *appFlags) resolve(ctx context.Context) (*app, error) {
	if f.output != "" && f.output != "json" {
		return nil, usagef("--output %q: the only format is json", f.output)
	}
	if f.cluster.local && f.cluster.kubeconfig != "" {
		return nil, usagef("--local and --kubeconfig exclude each other")
	}
	skip, err := health.ParseSkip(f.noWaitFor...)
	if err != nil {
		return nil, usagef("--no-wait-for: %v", err)
	}
	if _, err := health.ParseOverrides(f.healthOverrides...); err != nil {
		return nil, usagef("--health-override: %v", err)
	}
	analysisArgs, err := parseArgs("--analysis-arg", f.analysisArgs)
	if err != nil {
		return nil, err
	}
	var a *app
	if f.file != "" {
		if f.repo != "" || f.path != "" || f.ref != "" || f.owner != "" {
			return nil, usagef("-f runs the file as it is: --repo, --ref, --path and --owner come from it")
		}
		if a, err = loadFile(f.file); err != nil {
			return nil, err
		}
	} else {
		if a, err = f.unitFromFlags(ctx); err != nil {
			return nil, err
		}
	}
	a.analysisArgs = analysisArgs
	if f.keys.given() {
		if _, err := f.keys.decryptor(); err != nil {
			return nil, err
		}
		decryptUnits(a.units)
	}
	for i := range a.units {
		u := &a.units[i]
		if f.timeout > 0 {
			u.Timeout = f.timeout
		}
		u.Health.Wait = u.Health.Wait || f.wait
		u.Health.Skip.Kinds = append(u.Health.Skip.Kinds, skip.Kinds...)
		u.Health.Skip.Objects = append(u.Health.Skip.Objects, skip.Objects...)
		if f.namespace != "" {
			u.Destination.Namespace = f.namespace
		}
		if f.createNamespace {
			u.Sync.CreateNamespace = true
		}
		if f.allowEmpty {
			u.Sync.AllowEmpty = true
		}
	}
	return a, nil
}

func (f *appFlags) unitFromFlags(ctx context.Context) (*app, error) {
	p, err := checkPath(f.path)
	if err != nil {
		return nil, err
	}
	rs, err := resolveRepo(ctx, f.repo, f.ref, f.ref != "")
	if err != nil {
		return nil, err
	}
	name := f.owner
	if name == "" {
		name = reconcile.DefaultName(rs.identity, p)
	} else if errs := validation.IsDNS1123Label(name); len(errs) > 0 || len(name) > 54 {
		return nil, usagef("--owner %q must be lower-case letters, digits and '-', at most 54 characters", name)
	}
	u := reconcile.Unit{
		Name:        name,
		Namespace:   cmpOr(f.ownerNS, "default"),
		Source:      rs.source,
		Path:        p,
		Destination: reconcile.Destination{Namespace: f.namespace},
		Sync:        reconcile.Sync{Prune: f.prune},
		Render:      reconcile.Render{Recurse: true},
	}
	if err := u.Validate(); err != nil {
		return nil, usagef("%s", strings.TrimPrefix(err.Error(), reconcile.ErrInvalidUnit.Error()+" "))
	}
	return &app{units: []reconcile.Unit{u}, candidates: rs.candidates, repoName: rs.display, rev: rs.rev}, nil
}

// loadFile reads an Argo CD or Flux file, by the API groups it uses.
func loadFile(name string) (*app, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	a := &app{fromFile: true, repoName: filepath.Base(name)}
	switch {
	case bytes.Contains(data, []byte("argoproj.io/")):
		res, err := argocd.Load(bytes.NewReader(data), argocd.DefaultOptions())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		a.units = res.Units
		for _, w := range res.Warnings {
			a.warnings = append(a.warnings, w.String())
		}
	case bytes.Contains(data, []byte("toolkit.fluxcd.io/")):
		res, err := flux.Load(bytes.NewReader(data), flux.DefaultOptions())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		a.units = res.Units
		for _, w := range res.Warnings {
			a.warnings = append(a.warnings, w.String())
		}
	default:
		return nil, usagef("%s holds no Argo CD Application or Flux Kustomization", name)
	}
	if len(a.units) == 0 {
		return nil, usagef("%s holds no application to run", name)
	}
	return a, nil
}

// checkPath validates --path: relative, inside the repository.
func checkPath(p string) (string, error) {
	if p == "" {
		return "", usagef("--path is required (for example --path clusters/dev)")
	}
	clean := path.Clean(filepath.ToSlash(p))
	if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", usagef("--path %s must be relative to the repository root, inside it", p)
	}
	return clean, nil
}

func cmpOr(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
