package argocd

import (
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/converge-dev/converge/reconcile"
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
func (l *loader) appProject(d *doc, n *node) {
	n.accept("apiVersion", "kind", "status")
	m := readMeta(n, l.opts.Namespace, false)
	if m.name == "" {
		return
	}
	spec := n.obj("spec")
	r := reconcile.Restrictions{Project: m.name}
	for i, s := range spec.strs("sourceRepos") {
		if strings.HasPrefix(s, "!") {
			d.fail(spec.at("sourceRepos")+"["+strconv.Itoa(i)+"]", ErrUnsupported, "negated source repositories are not supported; list the permitted ones")
			continue
		}
		r.SourceRepos = append(r.SourceRepos, s)
	}
	for _, dn := range spec.objs("destinations") {
		server, name, ns := dn.str("server"), dn.str("name"), dn.str("namespace")
		if strings.HasPrefix(server, "!") || strings.HasPrefix(name, "!") || strings.HasPrefix(ns, "!") {
			d.fail(dn.path, ErrUnsupported, "negated destinations are not supported; list the permitted ones")
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
	p := &project{object: d.object, restrictions: r, sourceNamespaces: spec.strs("sourceNamespaces")}

	spec.inform("description", "informational; converge keeps no project descriptions")
	spec.inform("roles", "Argo CD's API roles and tokens have no meaning to converge: the host's own access control guards it")
	spec.inform("orphanedResources", "converge does not look for objects no unit applied")
	spec.refuse("syncWindows", "sync windows are not supported: a reconcile.Gate that refuses outside the window does this")
	spec.refuse("signatureKeys", "Argo CD's key IDs name keys of its GnuPG keyring, which converge does not have: set the armored keys in Source.Verify")
	spec.refuse("destinationServiceAccounts", "per-destination service accounts are not supported: a unit applies as Destination.ServiceAccount of its own namespace")
	if spec.boolean("permitOnlyProjectScopedClusters") {
		d.fail(spec.at("permitOnlyProjectScopedClusters"), ErrUnsupported, "converge has no project-scoped clusters")
	}
	if prev := l.projects[m.name]; prev != nil {
		d.fail("metadata.name", ErrInvalid, "AppProject %q is also defined by %s", m.name, prev.object)
		return
	}
	p.failed = len(d.errs) > 0
	l.projects[m.name] = p
}

// kinds reads a list of {group, kind} patterns.
func kinds(d *doc, spec *node, key string) []reconcile.GroupKindPattern {
	var out []reconcile.GroupKindPattern
	for _, n := range spec.objs(key) {
		g := reconcile.GroupKindPattern{Group: n.str("group"), Kind: n.str("kind")}
		if g.Kind == "" {
			d.fail(n.at("kind"), ErrInvalid, "required")
			continue
		}
		out = append(out, g)
	}
	return out
}

// restrict gives the unit its project's restrictions.
func (l *loader) restrict(d *doc, p, nsPath, name string, u *reconcile.Unit) {
	proj := l.projects[name]
	switch {
	case proj == nil && name == "default":
		return // Argo CD's default project permits everything
	case proj == nil && l.opts.RequireProjects:
		d.fail(p, ErrMissing, "project %q has no AppProject in the input", short(name))
		return
	case proj == nil:
		d.warn(p, "project %q has no AppProject in the input: its restrictions are not enforced", short(name))
		return
	case proj.failed:
		d.fail(p, ErrInvalid, "project %q did not load", short(name))
		return
	}
	if u.Namespace != l.opts.Namespace && !matchAny(proj.sourceNamespaces, u.Namespace) {
		d.fail(nsPath, ErrInvalid, "project %q does not permit Applications in namespace %q (spec.sourceNamespaces)", short(name), u.Namespace)
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
