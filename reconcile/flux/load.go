package flux

import (
	"cmp"
	"io"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/internal/manifest"
)

// API groups of the documents Load reads.
const (
	SourceGroup    = "source.toolkit.fluxcd.io"
	KustomizeGroup = "kustomize.toolkit.fluxcd.io"
	ImageGroup     = "image.toolkit.fluxcd.io"
)

// DefaultNamespace is Flux's own namespace, where documents that name none
// are.
const DefaultNamespace = "flux-system"

// Options are the settings of Load. The zero value is DefaultOptions.
type Options struct {
	// Namespace is the namespace of documents that name none;
	// DefaultNamespace when empty.
	Namespace string
	// ResolveSource returns the source of a GitRepository that a
	// Kustomization names and the input does not hold (one the host has
	// loaded before, or reads from its cluster). Without it such a
	// Kustomization is an error.
	ResolveSource func(namespace, name string) (reconcile.Source, error)
	// VerifyKeys returns the public keys held by the Secret a
	// GitRepository's spec.verify.secretRef names (every value of the
	// Secret's data is one key, as in Flux). Without it spec.verify is an
	// error: a policy without keys would refuse every commit.
	VerifyKeys func(namespace, secret string) ([]string, error)
	// KubeConfigCluster names the cluster a Kustomization's
	// spec.kubeConfig points to, as the Reconciler's ClusterResolver
	// (WithClusters) knows it. Without it spec.kubeConfig is an error.
	KubeConfigCluster func(ref KubeConfigRef) (string, error)
	// Decode bounds the stream (bytes, documents, depth, aliases), and
	// Decode.Source names it in errors.
	Decode object.DecodeOptions
}

// KubeConfigRef is a Kustomization's spec.kubeConfig: a Secret (and the
// key in it) or a ConfigMap holding the remote cluster's kubeconfig, in the
// Kustomization's namespace.
type KubeConfigRef struct {
	Namespace string
	// Secret and Key name spec.kubeConfig.secretRef ("value" or
	// "value.yaml" when Key is empty, as Flux reads it).
	Secret, Key string
	// ConfigMap names spec.kubeConfig.configMapRef (a workload identity
	// provider's settings).
	ConfigMap string
}

// DefaultOptions returns the default settings: Flux's namespace
// "flux-system", no resolvers, the object package's decoding limits.
func DefaultOptions() Options {
	return Options{Namespace: DefaultNamespace, Decode: object.DefaultDecodeOptions()}
}

// Result is what Load found: a unit per Kustomization, in the order of the
// input, and what Flux does that the unit does not say.
type Result struct {
	Units []reconcile.Unit
	// Cascades lists the units whose Kustomization deletes its objects
	// when it is deleted (spec.prune with the default deletionPolicy, or
	// deletionPolicy Delete or WaitForTermination): deleting the
	// Kustomization must delete what the unit applied (Reconciler.Delete).
	Cascades []Cascade
	// HealthRules are the CEL health rules of the units'
	// spec.healthCheckExprs, rewritten for health.Rule (which sees the
	// object as self); give them to the health engine of the Reconciler
	// (reconcile.WithHealthChecker, health.WithRules). They apply to every
	// object of their kinds that engine checks, not to one unit's alone.
	HealthRules []UnitRules
	// Skipped lists the documents that are not units: Flux's image
	// automation (ImageRepository, ImagePolicy, ImageUpdateAutomation),
	// which is the promote package's concern.
	Skipped  []object.ID
	Warnings []Warning
}

// UnitRules are the health rules of one unit's Kustomization.
type UnitRules struct {
	Unit  reconcile.Ref
	Rules []health.Rule
}

// Cascade says that deleting a unit's Kustomization deletes its objects.
type Cascade struct {
	Unit reconcile.Ref
	// Propagation is Flux's: background.
	Propagation metav1.DeletionPropagation
}

// Cascade reports whether deleting the Kustomization of ref must delete
// the unit's objects.
func (r *Result) Cascade(ref reconcile.Ref) (Cascade, bool) {
	for _, c := range r.Cascades {
		if c.Unit == ref {
			return c, true
		}
	}
	return Cascade{}, false
}

// Load reads a stream of YAML or JSON documents (GitRepositories and
// Kustomizations of source.toolkit.fluxcd.io and
// kustomize.toolkit.fluxcd.io v1 or v1beta2, in any order, and image
// automation documents, which it skips) and returns a unit per
// Kustomization, its source the GitRepository its sourceRef names. Every
// field is mapped onto the unit, accepted with a Warning, or refused: Load
// then returns no Result and an error joining a *FieldError per refused
// field (up to 50), each naming the object and the field's path. A stream
// that does not decode gives the *object.DecodeError, which names the
// document and line.
func Load(r io.Reader, opts Options) (*Result, error) {
	opts.Namespace = cmp.Or(opts.Namespace, DefaultNamespace)
	objs, err := object.Decode(r, opts.Decode)
	if err != nil {
		return nil, err
	}
	l := &loader{opts: opts, repos: map[reconcile.Ref]*gitRepo{}}
	// GitRepositories first, so that a Kustomization may come before its
	// source.
	for i, o := range objs {
		if g := o.GroupVersionKind(); g.Group == SourceGroup && g.Kind == "GitRepository" {
			d := manifest.NewDoc(manifest.ObjectName(o, i, opts.Namespace))
			if checkVersion(d, o) {
				l.gitRepository(d, d.Root(o.Object, ""))
			}
			l.found.End(d)
		}
	}
	for i, o := range objs {
		gvk := o.GroupVersionKind()
		d := manifest.NewDoc(manifest.ObjectName(o, i, opts.Namespace))
		switch {
		case gvk.Group == SourceGroup && gvk.Kind == "GitRepository":
			continue // read above
		case gvk.Group == KustomizeGroup && gvk.Kind == "Kustomization":
			if checkVersion(d, o) {
				l.kustomization(d, d.Root(o.Object, ""))
			}
		case gvk.Group == ImageGroup:
			l.skipped = append(l.skipped, object.ID{Group: gvk.Group, Kind: gvk.Kind, Namespace: cmp.Or(o.GetNamespace(), opts.Namespace), Name: o.GetName()})
			d.Warn("", "image automation is the promote package's concern, not a unit's; skipped")
		case gvk.Group == SourceGroup:
			d.Fail("kind", ErrUnsupported, "%s sources are not supported: converge fetches Git repositories (GitRepository)", manifest.Short(gvk.Kind))
		case strings.HasSuffix(gvk.Group, ".toolkit.fluxcd.io"):
			d.Fail("kind", ErrUnsupported, "%s %s is not supported: converge loads GitRepositories and Kustomizations", manifest.Short(o.GetAPIVersion()), manifest.Short(gvk.Kind))
		default:
			d.Fail("kind", ErrUnsupported, "%s %s is not a Flux GitRepository or Kustomization", manifest.Short(o.GetAPIVersion()), manifest.Short(gvk.Kind))
		}
		l.found.End(d)
	}
	for _, g := range l.repoOrder {
		if !g.used && !g.failed {
			l.found.Warn(Warning{Object: g.object, Message: "no Kustomization of the input uses this source; it loads no unit"})
		}
	}
	return l.result()
}

// checkVersion refuses the versions Load does not read.
func checkVersion(d *manifest.Doc, o *unstructured.Unstructured) bool {
	switch o.GroupVersionKind().Version {
	case "v1", "v1beta2":
		return true
	}
	d.Fail("apiVersion", ErrUnsupported, "%q: converge reads %s v1 and v1beta2", manifest.Short(o.GetAPIVersion()), o.GetKind())
	return false
}

// loader holds what one Load builds.
type loader struct {
	opts      Options
	repos     map[reconcile.Ref]*gitRepo
	repoOrder []*gitRepo
	units     manifest.Units
	cascades  []Cascade
	rules     []UnitRules
	skipped   []object.ID
	found     manifest.Findings
}

func (l *loader) result() (*Result, error) {
	if err := l.found.Err(); err != nil {
		return nil, err
	}
	return &Result{Units: l.units.List(), Cascades: l.cascades, HealthRules: l.rules, Skipped: l.skipped, Warnings: l.found.Warnings()}, nil
}
