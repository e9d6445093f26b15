package argocd

import (
	"cmp"
	"sort"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/internal/manifest"
)

// Argo CD's finalizers.
const (
	resourcesFinalizer  = "resources-finalizer.argocd.argoproj.io"
	postDeleteFinalizer = "post-delete-finalizer.argocd.argoproj.io"
)

// application loads an Application (or the Application an ApplicationSet
// element expands to) into a unit.
func (l *loader) application(d *manifest.Doc, n *manifest.Node, defaultNS string) {
	n.Accept("apiVersion", "kind", "status")
	n.Inform("operation", "a sync operation Argo CD was asked to run; converge ignores it (Reconciler.Sync applies a unit on demand)")
	m := manifest.ReadUnitMeta(n, defaultNS)
	u := &reconcile.Unit{Name: m.Name, Namespace: m.Namespace, Generation: m.Generation}
	cascade := l.finalizers(d, n.Path(), m.Finalizers)
	applicationAnnotations(d, manifest.JoinPath(manifest.JoinPath(n.Path(), "metadata"), "annotations"), m.Annotations)

	spec := n.Obj("spec")
	if spec.Map() == nil {
		d.Fail(spec.Path(), ErrInvalid, "required")
		return
	}
	// The destination first: a Helm source checks its namespace.
	l.destination(d, spec.Obj("destination"), u)
	l.sources(d, spec, u)
	l.syncPolicy(d, spec.Obj("syncPolicy"), u)
	u.Ignore = ignoreDifferences(d, spec.Objs("ignoreDifferences"))
	spec.Inform("info", "informational entries for Argo CD's UI; converge keeps no such list")
	spec.Inform("revisionHistoryLimit", "converge keeps no deployment history: Status has the last applied revision and Git the rest")
	spec.Refuse("sourceHydrator", "source hydration (rendered manifests pushed to another branch) is not supported; point the Application at the rendered branch, or at the dry source")

	project := spec.Str("project")
	if project == "" {
		project = "default"
	}
	l.restrict(d, spec.At("project"), manifest.JoinPath(manifest.JoinPath(n.Path(), "metadata"), "namespace"), project, u)
	if !d.Failed() {
		l.add(d, u, cascade)
	}
}

// finalizers reads what deleting the Application does.
func (l *loader) finalizers(d *manifest.Doc, base string, fs []string) *Cascade {
	var c *Cascade
	for i, f := range fs {
		p := manifest.JoinPath(manifest.JoinPath(base, "metadata"), "finalizers") + "[" + strconv.Itoa(i) + "]"
		switch f {
		case resourcesFinalizer, resourcesFinalizer + "/foreground":
			c = &Cascade{Propagation: metav1.DeletePropagationForeground}
		case resourcesFinalizer + "/background":
			c = &Cascade{Propagation: metav1.DeletePropagationBackground}
		case postDeleteFinalizer, postDeleteFinalizer + "/cleanup":
			d.Warn(p, "converge runs no post-delete hooks; Reconciler.Delete deletes the unit's objects, hooks included")
		default:
			d.Warn(p, "a finalizer converge does not act on; it is left to whoever added it")
		}
	}
	return c
}

// applicationAnnotations reports the annotations that make Argo CD, its
// notifications or its image updater do something.
func applicationAnnotations(d *manifest.Doc, base string, a map[string]string) {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := manifest.JoinPath(base, k)
		switch {
		case k == "argocd.argoproj.io/refresh":
			// A request to refresh now, which every pass does.
		case strings.HasPrefix(k, "notifications.argoproj.io/"):
			d.Warn(p, "Argo CD notifications are not sent; converge tells the host's reconcile.Notifier about failures, degradations and recoveries")
		case strings.HasPrefix(k, "argocd-image-updater.argoproj.io/"):
			d.Warn(p, "image updates are the promote package's concern, not the unit's")
		case strings.Contains(k, "argoproj.io/"):
			d.Warn(p, "an Argo CD annotation converge does not act on")
		}
	}
}

// destination reads spec.destination.
func (l *loader) destination(d *manifest.Doc, n *manifest.Node, u *reconcile.Unit) {
	if n.Map() == nil {
		d.Fail(n.Path(), ErrInvalid, "required")
		return
	}
	server, name := n.Str("server"), n.Str("name")
	switch {
	case server != "" && name != "":
		d.Fail(n.Path(), ErrInvalid, "server and name are both set; set one (Argo CD refuses both too)")
	case server == "" && name == "":
		d.Fail(n.Path(), ErrInvalid, "a server or a name is required")
	}
	cluster := cmp.Or(server, name)
	if cluster == "https://kubernetes.default.svc" || cluster == "in-cluster" {
		cluster = "" // the Reconciler's own cluster
	}
	u.Destination.Cluster = cluster
	u.Destination.Namespace = n.Str("namespace")
}
