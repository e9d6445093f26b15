package argocd

import (
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/internal/manifest"
)

// project is a loaded AppProject.
type project struct {
	object           string
	restrictions     reconcile.Restrictions
	sourceNamespaces []string
	failed           bool
}

// appProject loads an AppProject into the restrictions its Applications
// get.
func (l *loader) appProject(d *manifest.Doc, n *manifest.Node) {
	n.Accept("apiVersion", "kind", "status")
	m := manifest.ReadMeta(n, l.opts.Namespace)
	if m.Name == "" {
		return
	}
	spec := n.Obj("spec")
	r := reconcile.Restrictions{Project: m.Name}
	for i, s := range spec.Strs("sourceRepos") {
		if strings.HasPrefix(s, "!") {
			d.Fail(spec.At("sourceRepos")+"["+strconv.Itoa(i)+"]", ErrUnsupported, "negated source repositories are not supported; list the permitted ones")
			continue
		}
		r.SourceRepos = append(r.SourceRepos, s)
	}
	for _, dn := range spec.Objs("destinations") {
		server, name, ns := dn.Str("server"), dn.Str("name"), dn.Str("namespace")
		if strings.HasPrefix(server, "!") || strings.HasPrefix(name, "!") || strings.HasPrefix(ns, "!") {
			d.Fail(dn.Path(), ErrUnsupported, "negated destinations are not supported; list the permitted ones")
			continue
		}
		// Argo CD permits a destination whose server or name matches; a
		// pattern with neither permits nothing.
		for _, c := range []string{server, name} {
			if c != "" {
				r.Destinations = append(r.Destinations, reconcile.DestinationPattern{Cluster: c, Namespace: ns})
			}
		}
	}
	r.ClusterResources = kinds(d, spec, "clusterResourceWhitelist")
	r.ClusterResourcesDenied = kinds(d, spec, "clusterResourceBlacklist")
	r.NamespacedResources = kinds(d, spec, "namespaceResourceWhitelist")
	r.NamespacedResourcesDenied = kinds(d, spec, "namespaceResourceBlacklist")
	p := &project{object: d.Object(), restrictions: r, sourceNamespaces: spec.Strs("sourceNamespaces")}

	spec.Inform("description", "informational; converge keeps no project descriptions")
	spec.Inform("roles", "Argo CD's API roles and tokens have no meaning to converge: the host's own access control guards it")
	spec.Inform("orphanedResources", "converge does not look for objects no unit applied")
	spec.Refuse("syncWindows", "sync windows are not supported: a reconcile.Gate that refuses outside the window does this")
	spec.Refuse("signatureKeys", "Argo CD's key IDs name keys of its GnuPG keyring, which converge does not have: set the armored keys in Source.Verify")
	spec.Refuse("destinationServiceAccounts", "per-destination service accounts are not supported: a unit applies as Destination.ServiceAccount of its own namespace")
	if spec.Bool("permitOnlyProjectScopedClusters") {
		d.Fail(spec.At("permitOnlyProjectScopedClusters"), ErrUnsupported, "converge has no project-scoped clusters")
	}
	if prev := l.projects[m.Name]; prev != nil {
		d.Fail("metadata.name", ErrInvalid, "AppProject %q is also defined by %s", m.Name, prev.object)
		return
	}
	p.failed = d.Failed()
	l.projects[m.Name] = p
}

// kinds reads a list of {group, kind} patterns.
func kinds(d *manifest.Doc, spec *manifest.Node, key string) []reconcile.GroupKindPattern {
	var out []reconcile.GroupKindPattern
	for _, n := range spec.Objs(key) {
		g := reconcile.GroupKindPattern{Group: n.Str("group"), Kind: n.Str("kind")}
		if g.Kind == "" {
			d.Fail(n.At("kind"), ErrInvalid, "required")
			continue
		}
		out = append(out, g)
	}
	return out
}

// restrict gives the unit its project's restrictions.
func (l *loader) restrict(d *manifest.Doc, p, nsPath, name string, u *reconcile.Unit) {
	proj := l.projects[name]
	switch {
	case proj == nil && name == "default":
		return // Argo CD's default project permits everything
	case proj == nil && l.opts.RequireProjects:
		d.Fail(p, ErrMissing, "project %q has no AppProject in the input", manifest.Short(name))
		return
	case proj == nil:
		d.Warn(p, "project %q has no AppProject in the input: its restrictions are not enforced", manifest.Short(name))
		return
	case proj.failed:
		d.Fail(p, ErrInvalid, "project %q did not load", manifest.Short(name))
		return
	}
	if u.Namespace != l.opts.Namespace && !matchAny(proj.sourceNamespaces, u.Namespace) {
		d.Fail(nsPath, ErrInvalid, "project %q does not permit Applications in namespace %q (spec.sourceNamespaces)", manifest.Short(name), u.Namespace)
		return
	}
	r := proj.restrictions
	r.SourceRepos = slices.Clone(r.SourceRepos)
	r.Destinations = slices.Clone(r.Destinations)
	r.ClusterResources, r.ClusterResourcesDenied = slices.Clone(r.ClusterResources), slices.Clone(r.ClusterResourcesDenied)
	r.NamespacedResources, r.NamespacedResourcesDenied = slices.Clone(r.NamespacedResources), slices.Clone(r.NamespacedResourcesDenied)
	u.Restrictions = &r
}

func matchAny(globs []string, s string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}
