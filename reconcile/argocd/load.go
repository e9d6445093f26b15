package argocd

import (
	"cmp"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/internal/manifest"
	"github.com/converge-dev/converge/source/git"
)

// APIVersion is the apiVersion of the documents Load reads.
const APIVersion = "argoproj.io/v1alpha1"

// group is Argo CD's API group.
const group = "argoproj.io"

// DefaultNamespace is Argo CD's own namespace, where Applications and
// AppProjects are when they name none.
const DefaultNamespace = "argocd"

// Options are the settings of Load. The zero value is DefaultOptions.
type Options struct {
	// Namespace is Argo CD's own namespace: the namespace of documents that
	// name none, and the one an Application needs no project's
	// sourceNamespaces to live in. DefaultNamespace when empty.
	Namespace string
	// RequireProjects refuses an Application whose project is not
	// "default" and has no AppProject in the input. By default such an
	// Application loads without restrictions, with a Warning.
	RequireProjects bool
	// DefaultBranch is the branch a targetRevision of HEAD (or none)
	// stands for: the repository's default branch, which Argo CD asks the
	// remote for and converge does not. Empty means "main", with a Warning.
	DefaultBranch string
	// ResolveRevision, when set, decides what a targetRevision that could
	// name a branch or a tag is (a host can list the remote's references).
	// candidates are the branch, then the tag, of that name. Without it a
	// version ("v1.4.2", "1.4.2-rc.1") is a tag and any other name a
	// branch.
	ResolveRevision func(repoURL string, candidates []git.Reference) (git.Reference, error)
	// Decode bounds the stream (bytes, documents, depth, aliases), and
	// Decode.Source names it in errors.
	Decode object.DecodeOptions
}

// DefaultOptions returns the default settings: Argo CD's namespace
// "argocd", projects not required, the object package's decoding limits.
func DefaultOptions() Options {
	return Options{Namespace: DefaultNamespace, Decode: object.DefaultDecodeOptions()}
}

// Result is what Load found: the units, in the order of the input (an
// ApplicationSet's in the order of its elements), what deleting their
// Applications must do, and the fields converge accepted without honouring
// them as Argo CD does.
type Result struct {
	Units []reconcile.Unit
	// Cascades lists the units whose Application carries Argo CD's
	// resources finalizer: deleting the Application must delete what the
	// unit applied (Reconciler.Delete), as Argo CD's cascading delete does.
	// A unit not listed keeps its objects when its Application goes.
	Cascades []Cascade
	// Generated lists the Applications the ApplicationSets generate, one
	// per element that loaded, in the order of their elements: what Argo CD's
	// ApplicationSet controller would create, for a host that keeps them
	// as Application objects (the reference operator does). Each is the
	// template with the element's parameters substituted as text (a
	// boolean or integer field that a parameter made "true" or "3" holds
	// the typed value), in the ApplicationSet's namespace unless the
	// template names another.
	Generated []Generated
	Warnings  []Warning
}

// Generated is one Application an ApplicationSet generates.
type Generated struct {
	Set         reconcile.Ref // the ApplicationSet
	Application *unstructured.Unstructured
}

// Cascade says that deleting a unit's Application deletes its objects,
// and how.
type Cascade struct {
	Unit reconcile.Ref
	// Propagation is the finalizer's deletion propagation: foreground for
	// resources-finalizer.argocd.argoproj.io (and its /foreground form),
	// background for its /background form. Set it as the unit's
	// Sync.PropagationPolicy before calling Reconciler.Delete.
	Propagation metav1.DeletionPropagation
}

// Cascade reports whether deleting the Application of ref must delete
// the unit's objects, and how.
func (r *Result) Cascade(ref reconcile.Ref) (Cascade, bool) {
	for _, c := range r.Cascades {
		if c.Unit == ref {
			return c, true
		}
	}
	return Cascade{}, false
}

// Load reads a stream of YAML or JSON documents (Applications,
// ApplicationSets and AppProjects, in any order) and returns their units.
// Every field of every document is either mapped onto the unit, accepted
// with a Warning, or refused: Load then returns no Result and an error
// joining a *FieldError for each refused field (up to 50), each naming the
// object and the field's path. A stream that does not decode gives the
// *object.DecodeError, which names the document and line.
func Load(r io.Reader, opts Options) (*Result, error) {
	opts.Namespace = cmp.Or(opts.Namespace, DefaultNamespace)
	objs, err := object.Decode(r, opts.Decode)
	if err != nil {
		return nil, err
	}
	l := &loader{opts: opts, projects: map[string]*project{}, budget: budgetOf(opts)}
	// AppProjects first, so that an Application may come before its project.
	for i, o := range objs {
		if o.GetKind() == "AppProject" && o.GetAPIVersion() == APIVersion {
			d := manifest.NewDoc(manifest.ObjectName(o, i, opts.Namespace))
			l.appProject(d, d.Root(o.Object, ""))
			l.found.End(d)
		}
	}
	for i, o := range objs {
		d := manifest.NewDoc(manifest.ObjectName(o, i, opts.Namespace))
		kind := o.GetKind()
		switch {
		case o.GetAPIVersion() != APIVersion && o.GroupVersionKind().Group == group && isArgoKind(kind):
			d.Fail("apiVersion", ErrUnsupported, "%q is not %s, the version of Argo CD's %s", manifest.Short(o.GetAPIVersion()), APIVersion, kind)
		case o.GetAPIVersion() != APIVersion || !isArgoKind(kind):
			d.Fail("kind", ErrUnsupported, "%s %s is not an Argo CD Application, ApplicationSet or AppProject (%s)", manifest.Short(o.GetAPIVersion()), manifest.Short(kind), APIVersion)
		case kind == "Application":
			l.application(d, d.Root(o.Object, ""), opts.Namespace)
		case kind == "ApplicationSet":
			l.applicationSet(d, d.Root(o.Object, ""))
		case kind == "AppProject":
			continue // read above
		}
		l.found.End(d)
	}
	return l.result()
}

func isArgoKind(kind string) bool {
	return kind == "Application" || kind == "ApplicationSet" || kind == "AppProject"
}

// loader holds what one Load builds.
type loader struct {
	opts      Options
	projects  map[string]*project
	units     manifest.Units
	cascades  []Cascade
	generated []Generated
	found     manifest.Findings
	budget    int64 // bytes ApplicationSet expansion may still produce
}

// add keeps a unit that loaded without errors.
func (l *loader) add(d *manifest.Doc, u *reconcile.Unit, cascade *Cascade) {
	if !l.units.Add(d, u) {
		return
	}
	if cascade != nil {
		cascade.Unit = u.Ref()
		l.cascades = append(l.cascades, *cascade)
	}
}

func (l *loader) result() (*Result, error) {
	if err := l.found.Err(); err != nil {
		return nil, err
	}
	return &Result{Units: l.units.List(), Cascades: l.cascades, Generated: l.generated, Warnings: l.found.Warnings()}, nil
}

func budgetOf(o Options) int64 {
	if o.Decode.MaxBytes > 0 {
		return o.Decode.MaxBytes
	}
	return object.DefaultMaxBytes
}
