package flux

import (
	"strings"
	"time"

	"github.com/converge-dev/converge/reconcile"
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
func (l *loader) gitRepository(d *doc, n *node) {
	n.accept("apiVersion", "kind", "status")
	m := readMeta(n, l.opts.Namespace, false)
	spec := n.obj("spec")
	g := &gitRepo{object: d.object, namespace: m.namespace}
	src := &g.source

	src.URL = spec.str("url")
	if src.URL == "" {
		d.fail(spec.at("url"), ErrInvalid, "required")
	} else if _, err := git.ParseURL(src.URL, true); err != nil {
		d.fail(spec.at("url"), ErrUnsupported, "%v", err)
	}
	src.Ref = gitRef(d, spec.obj("ref"))
	src.SecretRef = secretName(d, spec, "secretRef")
	g.interval = durationField(d, spec, "interval", true)
	if spec.present("timeout") {
		durationField(d, spec, "timeout", false)
		d.warn(spec.at("timeout"), "a fetch is bounded by the unit's timeout (the Kustomization's) and the fetcher's FetcherOptions.Timeout, not per source")
	}
	if text := spec.str("ignore"); text != "" {
		for _, line := range strings.Split(text, "\n") {
			if line = strings.TrimRight(line, "\r"); strings.TrimSpace(line) != "" && !strings.HasPrefix(line, "#") {
				src.Ignore = append(src.Ignore, line)
			}
		}
		if _, err := render.NewIgnore(src.Ignore); err != nil {
			d.fail(spec.at("ignore"), ErrInvalid, "%v", err)
		}
	}
	src.Submodules = spec.boolean("recurseSubmodules")
	l.verify(d, spec.obj("verify"), g)
	g.suspend = spec.boolean("suspend")
	if g.suspend {
		d.warn(spec.at("suspend"), "converge fetches at every pass and cannot keep serving the last artifact: the units of this source are suspended too")
	}
	switch p := spec.str("provider"); p {
	case "", "generic":
	default:
		d.fail(spec.at("provider"), ErrUnsupported, "%q authentication is not supported: use a secretRef", short(p))
	}
	spec.refuse("include", "including other GitRepositories' files is not supported: use Git submodules (recurseSubmodules) or one Kustomization per repository")
	spec.refuse("proxySecretRef", "a per-source proxy is not supported: the fetcher uses the process's proxy settings (HTTPS_PROXY)")
	spec.refuse("sparseCheckout", "sparse checkouts are not supported: the unit renders its path, and ignore can leave the rest out")
	spec.refuse("serviceAccountName", "workload identity authentication is not supported: use a secretRef")
	// v1beta2 only.
	spec.inform("gitImplementation", "deprecated in Flux and without effect: converge uses its own Git client")
	spec.inform("accessFrom", "cross-namespace access lists are not enforced: any Kustomization of the input may use this source")

	if prev := l.repos[reconcile.Ref{Name: m.name, Namespace: m.namespace}]; prev != nil {
		d.fail("metadata.name", ErrInvalid, "GitRepository %s/%s is also defined by %s", m.namespace, m.name, prev.object)
		return
	}
	g.failed = len(d.errs) > 0
	l.repos[reconcile.Ref{Name: m.name, Namespace: m.namespace}] = g
	l.repoOrder = append(l.repoOrder, g)
}

// gitRef maps spec.ref with Flux's precedence: commit over name over
// semver over tag over branch; a commit with a branch searches that
// branch. No reference is the branch "master", Flux's default.
func gitRef(d *doc, r *node) git.Reference {
	branch, tag, semver, name, commit := r.str("branch"), r.str("tag"), r.str("semver"), r.str("name"), r.str("commit")
	ignored := func(winner string, fields ...string) {
		for _, f := range fields {
			if r.present(f) {
				d.warn(r.at(f), "ignored: %s takes precedence, as in Flux", winner)
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
		d.fail(r.path, ErrInvalid, "%v", err)
	}
	return ref
}

// verify reads spec.verify: the mode, and the keys the host resolves from
// the Secret it names.
func (l *loader) verify(d *doc, v *node, g *gitRepo) {
	if v.m == nil {
		return
	}
	var mode git.VerifyMode
	switch m := v.str("mode"); m {
	case "", "HEAD", "head":
		mode = git.VerifyHead
	case "Tag":
		mode = git.VerifyTag
	case "TagAndHEAD":
		mode = git.VerifyTagAndHead
	default:
		d.fail(v.at("mode"), ErrInvalid, "%q is not HEAD, Tag or TagAndHEAD", short(m))
	}
	secret := secretName(d, v, "secretRef")
	if secret == "" {
		d.fail(v.at("secretRef"), ErrInvalid, "required")
		return
	}
	if l.opts.VerifyKeys == nil {
		d.fail(v.path, ErrUnsupported, "the keys are in Secret %s/%s, and Options.VerifyKeys is not set to read them", g.namespace, short(secret))
		return
	}
	keys, err := l.opts.VerifyKeys(g.namespace, secret)
	if err != nil {
		d.fail(v.at("secretRef"), ErrMissing, "Secret %s/%s: %v", g.namespace, short(secret), err)
		return
	}
	if len(keys) == 0 {
		d.fail(v.at("secretRef"), ErrInvalid, "Secret %s/%s holds no key", g.namespace, short(secret))
		return
	}
	g.source.Verify = &reconcile.Verify{Mode: mode, Keys: keys}
}

// secretName reads a {name: ...} reference.
func secretName(d *doc, n *node, key string) string {
	if !n.present(key) {
		n.accept(key)
		return ""
	}
	ref := n.obj(key)
	name := ref.str("name")
	if name == "" && ref.m != nil {
		d.fail(ref.at("name"), ErrInvalid, "required")
	}
	return name
}

// durationField reads a Flux duration ("1m", "1h30m"), positive.
func durationField(d *doc, n *node, key string, required bool) time.Duration {
	v := n.str(key)
	if v == "" {
		if required && !n.present(key) {
			d.fail(n.at(key), ErrInvalid, "required")
		}
		return 0
	}
	t, err := time.ParseDuration(v)
	if err != nil || t <= 0 {
		d.fail(n.at(key), ErrInvalid, "%q is not a positive duration such as \"1m\" or \"1h30m\"", short(v))
		return 0
	}
	return t
}
