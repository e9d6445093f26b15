package check

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/object"
)

// ClusterReader is what the cluster rules read of a live cluster.
// *cluster.Client satisfies it.
type ClusterReader interface {
	// List returns every object of a kind in a namespace ("" for all,
	// and for cluster-scoped kinds).
	List(ctx context.Context, gvk schema.GroupVersionKind, namespace string) ([]unstructured.Unstructured, error)
	// NamespaceContents returns the metadata, managed fields included,
	// of every object in a namespace.
	NamespaceContents(ctx context.Context, namespace string, selector labels.Selector) ([]metav1.PartialObjectMetadata, error)
}

// ClusterOptions configure the cluster rules. A zero field takes its
// default.
type ClusterOptions struct {
	// Owners are the field managers of GitOps tools: an object one of
	// them applied is GitOps-managed. Default: converge, Argo CD's and
	// Flux's controllers.
	Owners []string
	// Allowed are the other field managers that may change a managed
	// object without it being a hand edit: the control plane's own
	// controllers by default. Changes to subresources (status, scale)
	// are never hand edits.
	Allowed []string
	// Namespaces are the namespaces to read. Default: every namespace
	// that holds an object a GitOps owner applied, except kube-system,
	// kube-public and kube-node-lease.
	Namespaces []string
	// MaxNamespaces bounds how many namespaces are read (each costs about
	// forty list requests); the report says which were not. Default 100.
	MaxNamespaces int
}

// DefaultClusterOptions returns the field managers of converge, Argo CD
// and Flux as owners, the control plane's controllers as allowed, and
// 100 namespaces at most.
func DefaultClusterOptions() ClusterOptions {
	return ClusterOptions{
		Owners: []string{object.FieldManager, "argocd-controller", "argocd-application-controller",
			"kustomize-controller", "helm-controller"},
		Allowed: []string{"kube-controller-manager", "kube-scheduler", "kubelet", "kube-apiserver",
			"before-first-apply", "kwok"},
		MaxNamespaces: 100,
	}
}

func (o ClusterOptions) withDefaults() ClusterOptions {
	d := DefaultClusterOptions()
	if len(o.Owners) == 0 {
		o.Owners = d.Owners
	}
	if o.Allowed == nil {
		o.Allowed = d.Allowed
	}
	if o.MaxNamespaces <= 0 {
		o.MaxNamespaces = d.MaxNamespaces
	}
	return o
}

// SectionKubectl is the checklist item the cluster's hand edits and
// write grants come under.
const SectionKubectl Section = "`kubectl` write access restricted in GitOps-managed clusters"

var (
	handEditMeta = Meta{
		ID: "cluster-hand-edit", Title: "A GitOps-managed object changed by hand",
		Severity: SeverityHigh, Section: SectionKubectl,
		Fix: "Make the change in Git and let the GitOps tool apply it (self-heal reverts it otherwise); restrict kubectl to read-only",
	}
	unownedMeta = Meta{
		ID: "cluster-unowned-object", Title: "An object in a GitOps-managed namespace that no GitOps tool applied",
		Severity: SeverityMedium, Section: SectionManifests,
		Fix: "Add the object's manifest to the repository, or delete it from the cluster",
	}
	rbacWriteMeta = Meta{
		ID: "cluster-rbac-write", Title: "Write access for everyone or for people in GitOps-managed namespaces",
		Severity: SeverityMedium, Section: SectionKubectl,
		Fix: "Bind people (and system:authenticated) to read-only roles in GitOps-managed namespaces; writes go through Git",
	}
)

// ClusterRules returns the rules over the live cluster r reads:
//
//   - cluster-hand-edit: an object a GitOps owner applied whose fields
//     another field manager (kubectl-edit, kubectl-client-side-apply,
//     anything not in opts.Allowed) changed since, with who, when and
//     which fields, from managed fields;
//   - cluster-unowned-object: an object in a GitOps-managed namespace
//     that no owner applied and no controller created (it has no owner
//     references and a field manager outside opts.Allowed made it);
//   - cluster-rbac-write: a ClusterRoleBinding, or a RoleBinding in a
//     managed namespace, that gives write verbs to system:authenticated
//     or system:unauthenticated (high) or to users and groups of people
//     (medium); service accounts and system: identities are not people.
//
// The three share one read of the cluster, made by the first that runs.
// The rules ignore the [Target] they are given: they read the cluster.
func ClusterRules(r ClusterReader, opts ClusterOptions) []Rule {
	s := &clusterScan{reader: r, opts: opts.withDefaults()}
	return []Rule{
		NewRule(handEditMeta, func(ctx context.Context, _ *Target) ([]Finding, error) {
			if err := s.load(ctx); err != nil {
				return nil, err
			}
			return s.handEdits(), s.incomplete()
		}),
		NewRule(unownedMeta, func(ctx context.Context, _ *Target) ([]Finding, error) {
			if err := s.load(ctx); err != nil {
				return nil, err
			}
			return s.unowned(), s.incomplete()
		}),
		NewRule(rbacWriteMeta, func(ctx context.Context, _ *Target) ([]Finding, error) {
			if err := s.load(ctx); err != nil {
				return nil, err
			}
			found, err := s.rbac(ctx)
			return found, errors.Join(err, s.incomplete())
		}),
	}
}

// clusterScan is the one read of the cluster the cluster rules share.
type clusterScan struct {
	reader ClusterReader
	opts   ClusterOptions

	once    sync.Once
	err     error
	managed []string // the namespaces read, sorted
	objects []metav1.PartialObjectMetadata
	notes   []string
}

var systemNamespaces = []string{"kube-system", "kube-public", "kube-node-lease"}

func (s *clusterScan) load(ctx context.Context) error {
	s.once.Do(func() { s.err = s.read(ctx) })
	return s.err
}

func (s *clusterScan) incomplete() error {
	if len(s.notes) == 0 {
		return nil
	}
	return &IncompleteError{Notes: s.notes}
}

func (s *clusterScan) read(ctx context.Context) error {
	names := s.opts.Namespaces
	discover := len(names) == 0
	if discover {
		list, err := s.reader.List(ctx, schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, "")
		if err != nil {
			return fmt.Errorf("list namespaces: %w", err)
		}
		for _, ns := range list {
			if !slices.Contains(systemNamespaces, ns.GetName()) {
				names = append(names, ns.GetName())
			}
		}
	}
	slices.Sort(names)
	if len(names) > s.opts.MaxNamespaces {
		s.notes = append(s.notes, fmt.Sprintf("read %d of %d namespaces; not read: %s", s.opts.MaxNamespaces, len(names), strings.Join(clip(names[s.opts.MaxNamespaces:], 10), ", ")))
		names = names[:s.opts.MaxNamespaces]
	}
	for _, ns := range names {
		objs, err := s.reader.NamespaceContents(ctx, ns, labels.Everything())
		if err != nil {
			return fmt.Errorf("read namespace %s: %w", ns, err)
		}
		if discover && !slices.ContainsFunc(objs, s.owned) {
			continue // no GitOps owner here: not a managed namespace
		}
		s.managed = append(s.managed, ns)
		s.objects = append(s.objects, objs...)
	}
	return nil
}

// clip returns at most n items of list, and "…" for the rest.
func clip(list []string, n int) []string {
	if len(list) <= n {
		return list
	}
	return append(slices.Clone(list[:n]), fmt.Sprintf("… (%d more)", len(list)-n))
}

func (s *clusterScan) owned(o metav1.PartialObjectMetadata) bool {
	return slices.ContainsFunc(o.ManagedFields, func(e metav1.ManagedFieldsEntry) bool {
		return slices.Contains(s.opts.Owners, e.Manager)
	})
}

func (s *clusterScan) allowed(e metav1.ManagedFieldsEntry) bool {
	return e.Subresource != "" || slices.Contains(s.opts.Owners, e.Manager) || slices.Contains(s.opts.Allowed, e.Manager)
}

func clusterFinding(m Meta, o metav1.PartialObjectMetadata, format string, args ...any) Finding {
	id := object.ID{Group: o.GroupVersionKind().Group, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}
	return Finding{Rule: m.ID, Severity: m.Severity, Message: fmt.Sprintf(format, args...), Location: Location{Object: &id}}
}

func (s *clusterScan) handEdits() []Finding {
	var out []Finding
	for _, o := range s.objects {
		if !s.owned(o) || disables(o.Annotations[AnnotationDisable], handEditMeta.ID) {
			continue
		}
		for _, e := range o.ManagedFields {
			if s.allowed(e) {
				continue
			}
			when := "at an unknown time"
			if e.Time != nil {
				when = "at " + e.Time.UTC().Format("2006-01-02 15:04:05Z")
			}
			out = append(out, clusterFinding(handEditMeta, o, "%s %s was changed by %q (%s) %s, outside Git: %s",
				o.Kind, objectName(o), e.Manager, strings.ToLower(string(e.Operation)), when, fieldList(e)))
		}
	}
	return out
}

func (s *clusterScan) unowned() []Finding {
	var out []Finding
	for _, o := range s.objects {
		if s.owned(o) || len(o.OwnerReferences) > 0 || disables(o.Annotations[AnnotationDisable], unownedMeta.ID) {
			continue
		}
		var by []string
		for _, e := range o.ManagedFields {
			if !s.allowed(e) && !slices.Contains(by, e.Manager) {
				by = append(by, e.Manager)
			}
		}
		if len(by) == 0 {
			continue // made by the control plane itself (kube-root-ca.crt, the default ServiceAccount)
		}
		out = append(out, clusterFinding(unownedMeta, o, "%s %s in GitOps-managed namespace %s was made by %s, not from Git",
			o.Kind, objectName(o), o.Namespace, quoteAll(by)))
	}
	return out
}

func objectName(o metav1.PartialObjectMetadata) string {
	if o.Namespace == "" {
		return o.Name
	}
	return o.Namespace + "/" + o.Name
}

func quoteAll(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// fieldList names the fields a managed-fields entry holds, as dotted
// paths to their leaves ("spec.replicas", "spec.template.spec.containers
// [name=web].image"), at most eight.
func fieldList(e metav1.ManagedFieldsEntry) string {
	if e.FieldsV1 == nil {
		return "no fields recorded"
	}
	var paths []string
	walkFields(e.FieldsV1.Raw, "", 0, &paths)
	if len(paths) == 0 {
		return "no fields recorded"
	}
	return strings.Join(clip(paths, 8), ", ")
}

// walkFields appends the leaf paths of a FieldsV1 document to paths, at
// most 100 and 20 levels deep.
func walkFields(raw []byte, prefix string, depth int, paths *[]string) {
	if len(*paths) >= 100 || depth > 20 {
		return
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if k == "." {
			continue
		}
		p := prefix
		switch kind, name, _ := strings.Cut(k, ":"); kind {
		case "f":
			if p != "" {
				p += "."
			}
			p += name
		case "k":
			p += "[" + keyFields(name) + "]"
		case "v":
			p += "[=" + name + "]"
		case "i":
			p += "[" + name + "]"
		default:
			continue
		}
		if v := m[k]; p != "" && (len(v) <= 2 || isSetMarker(v)) {
			*paths = append(*paths, p)
		}
		walkFields(m[k], p, depth+1, paths)
	}
}

// isSetMarker reports whether v is {".":{}}, alone: a set or map
// entry owned as a whole, with nothing owned inside it.
func isSetMarker(v json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(v, &m) == nil && len(m) == 1 && m["."] != nil
}

// keyFields turns a list key ({"name":"web"}) into name=web.
func keyFields(k string) string {
	var m map[string]any
	if json.Unmarshal([]byte(k), &m) != nil {
		return k
	}
	var parts []string
	for _, f := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%v", f, m[f]))
	}
	return strings.Join(parts, ",")
}
