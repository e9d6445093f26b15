package argocd

import (
	"cmp"
	"errors"
	"fmt"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/source/git"
)

// APIVersion is the apiVersion of the documents Load reads.
const APIVersion = "argoproj.io/v1alpha1"

// group is Argo CD's API group.
const group = "argoproj.io"

// DefaultNamespace is Argo CD's own namespace, where Applications and
// AppProjects are when they name none.
const DefaultNamespace = "argocd"

// maxErrors bounds the field errors one Load reports.
const maxErrors = 50

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
	Warnings []Warning
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
			d := newDoc(objectName(o, i, opts.Namespace))
			l.appProject(d, d.root(o.Object, ""))
			l.end(d)
		}
	}
	for i, o := range objs {
		d := newDoc(objectName(o, i, opts.Namespace))
		kind := o.GetKind()
		switch {
		case o.GetAPIVersion() != APIVersion && o.GroupVersionKind().Group == group && isArgoKind(kind):
			d.fail("apiVersion", ErrUnsupported, "%q is not %s, the version of Argo CD's %s", short(o.GetAPIVersion()), APIVersion, kind)
		case o.GetAPIVersion() != APIVersion || !isArgoKind(kind):
			d.fail("kind", ErrUnsupported, "%s %s is not an Argo CD Application, ApplicationSet or AppProject (%s)", short(o.GetAPIVersion()), short(kind), APIVersion)
		case kind == "Application":
			l.application(d, d.root(o.Object, ""), opts.Namespace)
		case kind == "ApplicationSet":
			l.applicationSet(d, d.root(o.Object, ""))
		case kind == "AppProject":
			continue // read above
		}
		l.end(d)
	}
	return l.result()
}

func isArgoKind(kind string) bool {
	return kind == "Application" || kind == "ApplicationSet" || kind == "AppProject"
}

// objectName names a decoded object for messages.
func objectName(o *unstructured.Unstructured, i int, defaultNS string) string {
	kind := short(o.GetKind())
	if o.GetName() == "" {
		return fmt.Sprintf("%s (object %d)", kind, i+1)
	}
	return kind + " " + short(cmp.Or(o.GetNamespace(), defaultNS)) + "/" + short(o.GetName())
}

// loader holds what one Load builds.
type loader struct {
	opts     Options
	projects map[string]*project
	units    []reconcile.Unit
	objects  []string // the object each unit came from
	cascades []Cascade
	warnings []Warning
	warned   map[Warning]bool
	errs     []*FieldError
	budget   int64 // bytes ApplicationSet expansion may still produce
}

// end closes a document: its unread fields become errors, and its
// findings join the loader's.
func (l *loader) end(d *doc) {
	d.finish()
	l.errs = append(l.errs, d.errs...)
	l.warn(d.warnings...)
}

// maxTotalWarnings bounds the warnings of one Load.
const maxTotalWarnings = 1000

// warn keeps warnings once each, up to maxTotalWarnings.
func (l *loader) warn(ws ...Warning) {
	for _, w := range ws {
		if l.warned[w] {
			continue
		}
		if l.warned == nil {
			l.warned = map[Warning]bool{}
		}
		l.warned[w] = true
		switch {
		case len(l.warnings) < maxTotalWarnings:
			l.warnings = append(l.warnings, w)
		case len(l.warnings) == maxTotalWarnings:
			l.warnings = append(l.warnings, Warning{Object: w.Object, Message: "more warnings left out"})
		}
	}
}

// add keeps a unit that loaded without errors.
func (l *loader) add(d *doc, u *reconcile.Unit, cascade *Cascade) {
	for i, prev := range l.units {
		if prev.Ref() == u.Ref() {
			d.fail("metadata.name", ErrInvalid, "unit %s is also defined by %s", u.Ref(), l.objects[i])
			return
		}
	}
	if err := u.Validate(); err != nil {
		d.fail("", ErrInvalid, "%v", err)
		return
	}
	l.units = append(l.units, *u)
	l.objects = append(l.objects, d.object)
	if cascade != nil {
		cascade.Unit = u.Ref()
		l.cascades = append(l.cascades, *cascade)
	}
}

func (l *loader) result() (*Result, error) {
	if len(l.errs) > 0 {
		errs := make([]error, 0, min(len(l.errs), maxErrors)+1)
		for i, e := range l.errs {
			if i == maxErrors {
				errs = append(errs, fmt.Errorf("and %d more errors", len(l.errs)-maxErrors))
				break
			}
			errs = append(errs, e)
		}
		return nil, errors.Join(errs...)
	}
	return &Result{Units: l.units, Cascades: l.cascades, Warnings: l.warnings}, nil
}

func budgetOf(o Options) int64 {
	if o.Decode.MaxBytes > 0 {
		return o.Decode.MaxBytes
	}
	return object.DefaultMaxBytes
}

// meta is what converge reads of an object's metadata.
type meta struct {
	name, namespace string
	generation      int64
	finalizers      []string
	annotations     map[string]string
}

// readMeta reads metadata; unit is set when the name becomes a unit's.
func readMeta(n *node, defaultNS string, unit bool) meta {
	md := n.obj("metadata")
	m := meta{
		name:        md.str("name"),
		namespace:   cmp.Or(md.str("namespace"), defaultNS),
		finalizers:  md.strs("finalizers"),
		annotations: md.strMap("annotations"),
	}
	md.strMap("labels")
	if g, ok := md.integer("generation"); ok {
		m.generation = g
	}
	md.refuse("generateName", "a generated name cannot identify a unit; set metadata.name")
	// What the API server writes: harmless when an object is copied from
	// `kubectl get -o yaml`.
	md.accept("uid", "resourceVersion", "creationTimestamp", "managedFields", "ownerReferences",
		"selfLink", "deletionTimestamp", "deletionGracePeriodSeconds")
	switch {
	case m.name == "":
		n.d.fail(md.at("name"), ErrInvalid, "required")
	case unit && (len(validation.IsDNS1123Label(m.name)) > 0 || len(m.name) > 54):
		n.d.fail(md.at("name"), ErrInvalid, "%q: a unit's name is a DNS label of at most 54 characters (lower-case letters, digits, '-')", short(m.name))
	}
	if errs := validation.IsDNS1123Label(m.namespace); len(errs) > 0 {
		n.d.fail(md.at("namespace"), ErrInvalid, "%q is not a namespace name", short(m.namespace))
	}
	return m
}
