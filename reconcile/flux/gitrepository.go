package flux

import (
	"strings"
	"time"

	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/internal/manifest"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/source/git"
)

// gitRepo is a loaded GitRepository.
type gitRepo struct {
	object    string
	namespace string
	source    reconcile.Source
	interval  time.Duration
	suspend   bool
	failed    bool
	used      bool
}

// gitRepository loads a GitRepository into the source of the units whose
// Kustomizations name it.
func (l *loader) gitRepository(d *manifest.Doc, n *manifest.Node) {
	n.Accept("apiVersion", "kind", "status")
	m := manifest.ReadMeta(n, l.opts.Namespace)
	spec := n.Obj("spec")
	g := &gitRepo{object: d.Object(), namespace: m.Namespace}
	src := &g.source

	src.URL = spec.Str("url")
	if src.URL == "" {
		d.Fail(spec.At("url"), ErrInvalid, "required")
	} else if _, err := git.ParseURL(src.URL, true); err != nil {
		d.Fail(spec.At("url"), ErrUnsupported, "%v", err)
	}
	src.Ref = gitRef(d, spec.Obj("ref"))
	src.SecretRef = secretName(d, spec, "secretRef")
	g.interval = durationField(d, spec, "interval", true)
	if spec.Present("timeout") {
		durationField(d, spec, "timeout", false)
		d.Warn(spec.At("timeout"), "a fetch is bounded by the unit's timeout (the Kustomization's) and the fetcher's FetcherOptions.Timeout, not per source")
	}
	if text := spec.Str("ignore"); text != "" {
		for _, line := range strings.Split(text, "\n") {
			if line = strings.TrimRight(line, "\r"); strings.TrimSpace(line) != "" && !strings.HasPrefix(line, "#") {
				src.Ignore = append(src.Ignore, line)
			}
		}
		if _, err := render.NewIgnore(src.Ignore); err != nil {
			d.Fail(spec.At("ignore"), ErrInvalid, "%v", err)
		}
	}
	src.Submodules = spec.Bool("recurseSubmodules")
	l.verify(d, spec.Obj("verify"), g)
	g.suspend = spec.Bool("suspend")
	if g.suspend {
		d.Warn(spec.At("suspend"), "converge fetches at every pass and cannot keep serving the last artifact: the units of this source are suspended too")
	}
	switch p := spec.Str("provider"); p {
	case "", "generic":
	default:
		d.Fail(spec.At("provider"), ErrUnsupported, "%q authentication is not supported: use a secretRef", manifest.Short(p))
	}
	spec.Refuse("include", "including other GitRepositories' files is not supported: use Git submodules (recurseSubmodules) or one Kustomization per repository")
	spec.Refuse("proxySecretRef", "a per-source proxy is not supported: the fetcher uses the process's proxy settings (HTTPS_PROXY)")
	spec.Refuse("sparseCheckout", "sparse checkouts are not supported: the unit renders its path, and ignore can leave the rest out")
	spec.Refuse("serviceAccountName", "workload identity authentication is not supported: use a secretRef")
	// v1beta2 only.
	spec.Inform("gitImplementation", "deprecated in Flux and without effect: converge uses its own Git client")
	spec.Inform("accessFrom", "cross-namespace access lists are not enforced: any Kustomization of the input may use this source")

	if prev := l.repos[reconcile.Ref{Name: m.Name, Namespace: m.Namespace}]; prev != nil {
		d.Fail("metadata.name", ErrInvalid, "GitRepository %s/%s is also defined by %s", m.Namespace, m.Name, prev.object)
		return
	}
	g.failed = d.Failed()
	l.repos[reconcile.Ref{Name: m.Name, Namespace: m.Namespace}] = g
	l.repoOrder = append(l.repoOrder, g)
}

// gitRef maps spec.ref with Flux's precedence: commit over name over
// semver over tag over branch; a commit with a branch searches that
// branch. No reference is the branch "master", Flux's default.
func gitRef(d *manifest.Doc, r *manifest.Node) git.Reference {
	branch, tag, semver, name, commit := r.Str("branch"), r.Str("tag"), r.Str("semver"), r.Str("name"), r.Str("commit")
	ignored := func(winner string, fields ...string) {
		for _, f := range fields {
			if r.Present(f) {
				d.Warn(r.At(f), "ignored: %s takes precedence, as in Flux", winner)
			}
		}
	}
	var ref git.Reference
	switch {
	case commit != "":
		ref = git.Reference{Commit: commit, Branch: branch}
		ignored("commit", "name", "semver", "tag")
	case name != "":
		ref = git.Reference{Name: name}
		ignored("name", "semver", "tag", "branch")
	case semver != "":
		ref = git.Reference{SemVer: semver}
		ignored("semver", "tag", "branch")
	case tag != "":
		ref = git.Reference{Tag: tag}
		ignored("tag", "branch")
	case branch != "":
		ref = git.Reference{Branch: branch}
	default:
		ref = git.Reference{Branch: "master"}
	}
	if err := ref.Validate(); err != nil {
		d.Fail(r.Path(), ErrInvalid, "%v", err)
	}
	return ref
}

// verify reads spec.verify: the mode, and the keys the host resolves from
// the Secret it names.
func (l *loader) verify(d *manifest.Doc, v *manifest.Node, g *gitRepo) {
	if v.Map() == nil {
		return
	}
	var mode git.VerifyMode
	switch m := v.Str("mode"); m {
	case "", "HEAD", "head":
		mode = git.VerifyHead
	case "Tag":
		mode = git.VerifyTag
	case "TagAndHEAD":
		mode = git.VerifyTagAndHead
	default:
		d.Fail(v.At("mode"), ErrInvalid, "%q is not HEAD, Tag or TagAndHEAD", manifest.Short(m))
	}
	secret := secretName(d, v, "secretRef")
	if secret == "" {
		d.Fail(v.At("secretRef"), ErrInvalid, "required")
		return
	}
	if l.opts.VerifyKeys == nil {
		d.Fail(v.Path(), ErrUnsupported, "the keys are in Secret %s/%s, and Options.VerifyKeys is not set to read them", g.namespace, manifest.Short(secret))
		return
	}
	keys, err := l.opts.VerifyKeys(g.namespace, secret)
	if err != nil {
		d.Fail(v.At("secretRef"), ErrMissing, "Secret %s/%s: %v", g.namespace, manifest.Short(secret), err)
		return
	}
	if len(keys) == 0 {
		d.Fail(v.At("secretRef"), ErrInvalid, "Secret %s/%s holds no key", g.namespace, manifest.Short(secret))
		return
	}
	g.source.Verify = &reconcile.Verify{Mode: mode, Keys: keys}
}

// secretName reads a {name: ...} reference.
func secretName(d *manifest.Doc, n *manifest.Node, key string) string {
	if !n.Present(key) {
		n.Accept(key)
		return ""
	}
	ref := n.Obj(key)
	name := ref.Str("name")
	if name == "" && ref.Map() != nil {
		d.Fail(ref.At("name"), ErrInvalid, "required")
	}
	return name
}

// durationField reads a Flux duration ("1m", "1h30m"), positive.
func durationField(d *manifest.Doc, n *manifest.Node, key string, required bool) time.Duration {
	v := n.Str(key)
	if v == "" {
		if required && !n.Present(key) {
			d.Fail(n.At(key), ErrInvalid, "required")
		}
		return 0
	}
	t, err := time.ParseDuration(v)
	if err != nil || t <= 0 {
		d.Fail(n.At(key), ErrInvalid, "%q is not a positive duration such as \"1m\" or \"1h30m\"", manifest.Short(v))
		return 0
	}
	return t
}
