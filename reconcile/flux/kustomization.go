package flux

import (
	"cmp"
	"path"
	"strings"

	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/internal/manifest"
)

// kustomization loads a Kustomization into a unit.
func (l *loader) kustomization(d *manifest.Doc, n *manifest.Node) {
	n.Accept("apiVersion", "kind", "status")
	m := manifest.ReadUnitMeta(n, l.opts.Namespace)
	u := &reconcile.Unit{Name: m.Name, Namespace: m.Namespace, Generation: m.Generation}
	spec := n.Obj("spec")
	if spec.Map() == nil {
		d.Fail(spec.Path(), ErrInvalid, "required")
		return
	}
	repo := l.sourceRef(d, spec.Obj("sourceRef"), u)

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
	raw := spec.Str("path")
	u.Path = path.Clean(strings.TrimLeft(raw, "/"))
	switch {
	case u.Path == ".":
		u.Path = ""
	case u.Path == ".." || strings.HasPrefix(u.Path, "../"):
		d.Fail(spec.At("path"), ErrInvalid, "%q leaves the source: a path is relative to its root, inside it", manifest.Short(raw))
	}
	u.Render.Recurse = true // Flux renders plain directories with kustomize create --autodetect --recursive
	u.Sync.Prune = spec.Bool("prune")
	u.Sync.Recreate = spec.Bool("force")
	u.Suspend = spec.Bool("suspend") || repo != nil && repo.suspend
	u.Destination.TargetNamespace = spec.Str("targetNamespace")
	u.Destination.ServiceAccount = spec.Str("serviceAccountName")
	l.kubeConfig(d, spec.Obj("kubeConfig"), u)

	l.health(d, spec, u)
	l.dependsOn(d, spec, u)
	postBuild(d, spec.Obj("postBuild"), u)
	if dn := spec.Obj("decryption"); dn.Map() != nil {
		provider := dn.Str("provider")
		if provider != "sops" {
			d.Fail(dn.At("provider"), ErrUnsupported, "%q: converge decrypts sops only", manifest.Short(provider))
		}
		u.Decryption = &reconcile.Decryption{Provider: provider, SecretRef: secretName(d, dn, "secretRef")}
	}
	overrides(d, spec, &u.Render.Options)

	cascade := u.Sync.Prune
	switch p := spec.Str("deletionPolicy"); p {
	case "", "MirrorPrune":
	case "Delete", "WaitForTermination":
		cascade = true
	case "Orphan":
		cascade = false
	default:
		d.Fail(spec.At("deletionPolicy"), ErrInvalid, "%q is not MirrorPrune, Delete, WaitForTermination or Orphan", manifest.Short(p))
	}
	rules := l.healthExprs(d, spec)
	spec.Inform("validation", "deprecated in Flux: converge always lets the API server validate objects")
	if d.Failed() {
		return
	}
	if l.add(d, u, cascade) && len(rules) > 0 {
		l.rules = append(l.rules, UnitRules{Unit: u.Ref(), Rules: rules})
	}
}

// sourceRef resolves spec.sourceRef into the unit's source.
func (l *loader) sourceRef(d *manifest.Doc, s *manifest.Node, u *reconcile.Unit) *gitRepo {
	if s.Map() == nil {
		d.Fail(s.Path(), ErrInvalid, "required")
		return nil
	}
	kind, name := s.Str("kind"), s.Str("name")
	ns := s.Str("namespace")
	if ns == "" {
		ns = u.Namespace
	}
	s.Str("apiVersion")
	switch kind {
	case "GitRepository":
	case "OCIRepository", "Bucket", "ExternalArtifact":
		d.Fail(s.At("kind"), ErrUnsupported, "%s sources are not supported: converge fetches Git repositories (GitRepository)", kind)
		return nil
	default:
		d.Fail(s.At("kind"), ErrInvalid, "%q is not GitRepository, OCIRepository, Bucket or ExternalArtifact", manifest.Short(kind))
		return nil
	}
	if name == "" {
		d.Fail(s.At("name"), ErrInvalid, "required")
		return nil
	}
	g := l.repos[reconcile.Ref{Name: name, Namespace: ns}]
	switch {
	case g == nil && l.opts.ResolveSource != nil:
		src, err := l.opts.ResolveSource(ns, name)
		if err != nil {
			d.Fail(s.Path(), ErrMissing, "GitRepository %s/%s: %v", ns, manifest.Short(name), err)
			return nil
		}
		u.Source = src
		return nil
	case g == nil:
		d.Fail(s.Path(), ErrMissing, "GitRepository %s/%s is not in the input (Options.ResolveSource can resolve it)", ns, manifest.Short(name))
		return nil
	case g.failed:
		d.Fail(s.Path(), ErrInvalid, "GitRepository %s/%s did not load", ns, manifest.Short(name))
		return nil
	}
	g.used = true
	u.Source = g.source
	u.Source.Ignore = append([]string(nil), g.source.Ignore...)
	if g.source.SecretRef != "" && ns != u.Namespace {
		// Source.SecretRef is read from the unit's namespace: reading the
		// GitRepository's Secret from another would be a different Secret.
		d.Fail(s.At("namespace"), ErrUnsupported, "the GitRepository's secretRef %s is in namespace %s and the unit reads credentials from its own (%s): put the Kustomization in %s, or give the unit Credentials", g.source.SecretRef, ns, u.Namespace, ns)
	}
	return g
}
