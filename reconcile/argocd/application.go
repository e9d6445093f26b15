package argocd

import (
	"cmp"
	"sort"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/converge-dev/converge/reconcile"
)

// Argo CD's finalizers.
const (
	resourcesFinalizer  = "resources-finalizer.argocd.argoproj.io"
	postDeleteFinalizer = "post-delete-finalizer.argocd.argoproj.io"
)

// application loads an Application (or the Application an ApplicationSet
// element expands to) into a unit.
func (l *loader) application(d *doc, n *node, defaultNS string) {
	n.accept("apiVersion", "kind", "status")
	n.inform("operation", "a sync operation Argo CD was asked to run; converge ignores it (Reconciler.Sync applies a unit on demand)")
	m := readMeta(n, defaultNS, true)
	u := &reconcile.Unit{Name: m.name, Namespace: m.namespace, Generation: m.generation}
	cascade := l.finalizers(d, n.path, m.finalizers)
	applicationAnnotations(d, joinPath(joinPath(n.path, "metadata"), "annotations"), m.annotations)

	spec := n.obj("spec")
	if spec.m == nil {
		d.fail(spec.path, ErrInvalid, "required")
		return
	}
	// The destination first: a Helm source checks its namespace.
	l.destination(d, spec.obj("destination"), u)
	l.sources(d, spec, u)
	l.syncPolicy(d, spec.obj("syncPolicy"), u)
	u.Ignore = ignoreDifferences(d, spec.objs("ignoreDifferences"))
	spec.inform("info", "informational entries for Argo CD's UI; converge keeps no such list")
	spec.inform("revisionHistoryLimit", "converge keeps no deployment history: Status has the last applied revision and Git the rest")
	spec.refuse("sourceHydrator", "source hydration (rendered manifests pushed to another branch) is not supported; point the Application at the rendered branch, or at the dry source")

	project := spec.str("project")
	if project == "" {
		project = "default"
	}
	l.restrict(d, spec.at("project"), joinPath(joinPath(n.path, "metadata"), "namespace"), project, u)
	if len(d.errs) == 0 {
		l.add(d, u, cascade)
	}
}

// finalizers reads what deleting the Application does.
func (l *loader) finalizers(d *doc, base string, fs []string) *Cascade {
	var c *Cascade
	for i, f := range fs {
		p := joinPath(joinPath(base, "metadata"), "finalizers") + "[" + strconv.Itoa(i) + "]"
		switch f {
		case resourcesFinalizer, resourcesFinalizer + "/foreground":
			c = &Cascade{Propagation: metav1.DeletePropagationForeground}
		case resourcesFinalizer + "/background":
			c = &Cascade{Propagation: metav1.DeletePropagationBackground}
		case postDeleteFinalizer, postDeleteFinalizer + "/cleanup":
			d.warn(p, "converge runs no post-delete hooks; Reconciler.Delete deletes the unit's objects, hooks included")
		default:
			d.warn(p, "a finalizer converge does not act on; it is left to whoever added it")
		}
	}
	return c
}

// applicationAnnotations reports the annotations that make Argo CD, its
// notifications or its image updater do something.
func applicationAnnotations(d *doc, base string, a map[string]string) {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := joinPath(base, k)
		switch {
		case k == "argocd.argoproj.io/refresh":
			// A request to refresh now, which every pass does.
		case strings.HasPrefix(k, "notifications.argoproj.io/"):
			d.warn(p, "Argo CD notifications are not sent; converge tells the host's reconcile.Notifier about failures, degradations and recoveries")
		case strings.HasPrefix(k, "argocd-image-updater.argoproj.io/"):
			d.warn(p, "image updates are the promote package's concern, not the unit's")
		case strings.Contains(k, "argoproj.io/"):
			d.warn(p, "an Argo CD annotation converge does not act on")
		}
	}
}

// destination reads spec.destination.
func (l *loader) destination(d *doc, n *node, u *reconcile.Unit) {
	if n.m == nil {
		d.fail(n.path, ErrInvalid, "required")
		return
	}
	server, name := n.str("server"), n.str("name")
	switch {
	case server != "" && name != "":
		d.fail(n.path, ErrInvalid, "server and name are both set; set one (Argo CD refuses both too)")
	case server == "" && name == "":
		d.fail(n.path, ErrInvalid, "a server or a name is required")
	}
	cluster := cmp.Or(server, name)
	if cluster == "https://kubernetes.default.svc" || cluster == "in-cluster" {
		cluster = "" // the Reconciler's own cluster
	}
	u.Destination.Cluster = cluster
	u.Destination.Namespace = n.str("namespace")
}
