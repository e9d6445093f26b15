package flux

import (
	"cmp"
	"path"
	"strings"

	"github.com/converge-dev/converge/reconcile"
)

// kustomization loads a Kustomization into a unit.
func (l *loader) kustomization(d *doc, n *node) {
	n.accept("apiVersion", "kind", "status")
	m := readMeta(n, l.opts.Namespace, true)
	u := &reconcile.Unit{Name: m.name, Namespace: m.namespace, Generation: m.generation}
	spec := n.obj("spec")
	if spec.m == nil {
		d.fail(spec.path, ErrInvalid, "required")
		return
	}
	repo := l.sourceRef(d, spec.obj("sourceRef"), u)

	interval := durationField(d, spec, "interval", true)
	// The unit reconciles as often as the more frequent of the two: new
	// commits are seen at the GitRepository's interval, drift is corrected
	// at the Kustomization's, and a pass over an unchanged revision is one
	// reference listing.
	u.Interval = interval
	if repo != nil && repo.interval > 0 && (u.Interval == 0 || repo.interval < u.Interval) {
		u.Interval = repo.interval
	}
	// Flux's retryInterval and timeout default to the interval.
	retryInterval := durationField(d, spec, "retryInterval", false)
	u.Retry = reconcile.Retry{Backoff: cmp.Or(retryInterval, interval), Factor: 1}
	u.Timeout = cmp.Or(durationField(d, spec, "timeout", false), interval)

	// Flux joins the path to the source's root: "./apps", "apps" and
	// "/apps" are the same directory.
	raw := spec.str("path")
	u.Path = path.Clean(strings.TrimLeft(raw, "/"))
	switch {
	case u.Path == ".":
		u.Path = ""
	case u.Path == ".." || strings.HasPrefix(u.Path, "../"):
		d.fail(spec.at("path"), ErrInvalid, "%q leaves the source: a path is relative to its root, inside it", short(raw))
	}
	u.Render.Recurse = true // Flux renders plain directories with kustomize create --autodetect --recursive
	u.Sync.Prune = spec.boolean("prune")
	u.Sync.Recreate = spec.boolean("force")
	u.Suspend = spec.boolean("suspend") || repo != nil && repo.suspend
	u.Destination.TargetNamespace = spec.str("targetNamespace")
	u.Destination.ServiceAccount = spec.str("serviceAccountName")
	l.kubeConfig(d, spec.obj("kubeConfig"), u)

	l.health(d, spec, u)
	l.dependsOn(d, spec, u)
	postBuild(d, spec.obj("postBuild"), u)
	if dn := spec.obj("decryption"); dn.m != nil {
		provider := dn.str("provider")
		if provider != "sops" {
			d.fail(dn.at("provider"), ErrUnsupported, "%q: converge decrypts sops only", short(provider))
		}
		u.Decryption = &reconcile.Decryption{Provider: provider, SecretRef: secretName(d, dn, "secretRef")}
	}
	overrides(d, spec, &u.Render.Options)

	cascade := u.Sync.Prune
	switch p := spec.str("deletionPolicy"); p {
	case "", "MirrorPrune":
	case "Delete", "WaitForTermination":
		cascade = true
	case "Orphan":
		cascade = false
	default:
		d.fail(spec.at("deletionPolicy"), ErrInvalid, "%q is not MirrorPrune, Delete, WaitForTermination or Orphan", short(p))
	}
	rules := l.healthExprs(d, spec)
	spec.inform("validation", "deprecated in Flux: converge always lets the API server validate objects")
	if len(d.errs) > 0 {
		return
	}
	if l.add(d, u, cascade) && len(rules) > 0 {
		l.rules = append(l.rules, UnitRules{Unit: u.Ref(), Rules: rules})
	}
}

// sourceRef resolves spec.sourceRef into the unit's source.
func (l *loader) sourceRef(d *doc, s *node, u *reconcile.Unit) *gitRepo {
	if s.m == nil {
		d.fail(s.path, ErrInvalid, "required")
		return nil
	}
	kind, name := s.str("kind"), s.str("name")
	ns := s.str("namespace")
	if ns == "" {
		ns = u.Namespace
	}
	s.str("apiVersion")
	switch kind {
	case "GitRepository":
	case "OCIRepository", "Bucket", "ExternalArtifact":
		d.fail(s.at("kind"), ErrUnsupported, "%s sources are not supported: converge fetches Git repositories (GitRepository)", kind)
		return nil
	default:
		d.fail(s.at("kind"), ErrInvalid, "%q is not GitRepository, OCIRepository, Bucket or ExternalArtifact", short(kind))
		return nil
	}
	if name == "" {
		d.fail(s.at("name"), ErrInvalid, "required")
		return nil
	}
	g := l.repos[reconcile.Ref{Name: name, Namespace: ns}]
	switch {
	case g == nil && l.opts.ResolveSource != nil:
		src, err := l.opts.ResolveSource(ns, name)
		if err != nil {
			d.fail(s.path, ErrMissing, "GitRepository %s/%s: %v", ns, short(name), err)
			return nil
		}
		u.Source = src
		return nil
	case g == nil:
		d.fail(s.path, ErrMissing, "GitRepository %s/%s is not in the input (Options.ResolveSource can resolve it)", ns, short(name))
		return nil
	case g.failed:
		d.fail(s.path, ErrInvalid, "GitRepository %s/%s did not load", ns, short(name))
		return nil
	}
	g.used = true
	u.Source = g.source
	u.Source.Ignore = append([]string(nil), g.source.Ignore...)
	if g.source.SecretRef != "" && ns != u.Namespace {
		// Source.SecretRef is read from the unit's namespace: reading the
		// GitRepository's Secret from another would be a different Secret.
		d.fail(s.at("namespace"), ErrUnsupported, "the GitRepository's secretRef %s is in namespace %s and the unit reads credentials from its own (%s): put the Kustomization in %s, or give the unit Credentials", g.source.SecretRef, ns, u.Namespace, ns)
	}
	return g
}
