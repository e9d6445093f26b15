package operator

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-logr/logr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/yaml"

	"github.com/converge-dev/converge/reconcile"
)

// The upstream CRDs of the kinds SetupCompat serves, copied from their Go
// modules at the versions hack/operator/compat-crds.sh pins (a test fails
// when a copy differs): Argo CD v3.5.7, Flux source-controller and
// kustomize-controller v1.9.6.
var (
	//go:embed config/compat/argocd/application-crd.yaml
	argoApplicationCRD []byte
	//go:embed config/compat/argocd/applicationset-crd.yaml
	argoApplicationSetCRD []byte
	//go:embed config/compat/argocd/appproject-crd.yaml
	argoAppProjectCRD []byte
	//go:embed config/compat/flux/source.toolkit.fluxcd.io_gitrepositories.yaml
	fluxGitRepositoryCRD []byte
	//go:embed config/compat/flux/kustomize.toolkit.fluxcd.io_kustomizations.yaml
	fluxKustomizationCRD []byte
)

// CompatOptions say which other tools' resources SetupCompat serves, and
// how.
type CompatOptions struct {
	// ArgoCD serves argoproj.io/v1alpha1 Applications (with the
	// AppProjects they name) and ApplicationSets.
	ArgoCD bool
	// Flux serves kustomize.toolkit.fluxcd.io/v1 Kustomizations of
	// source.toolkit.fluxcd.io/v1 GitRepositories.
	Flux bool
	// ArgoCDNamespace is Argo CD's own namespace, where AppProjects are
	// read and where Applications live unless their AppProject lists
	// other sourceNamespaces; "argocd" when empty.
	ArgoCDNamespace string
	// ArgoCDInterval is how often an Application is compared with its
	// source, Argo CD's timeout.reconciliation; 3 minutes when zero, as in
	// Argo CD.
	ArgoCDInterval time.Duration
	// RetryInterval is the first wait after a failed pass of a resource
	// that says no retry of its own; 10 seconds when zero.
	RetryInterval time.Duration
	// DependencyRetry is how soon a Kustomization waiting for a
	// dependency is tried again (also as soon as the dependency's status
	// changes); 30 seconds when zero, as in Flux's --requeue-dependency.
	DependencyRetry time.Duration
	// Concurrency is how many resources of each kind are reconciled at
	// once; 4 when zero.
	Concurrency int
	// Recorder records events on the resources; none when nil.
	Recorder events.EventRecorder
	// Log receives what happens outside a reconcile; discarded when unset.
	Log logr.Logger
}

// DefaultCompatOptions serve neither tool; the other settings are Argo
// CD's and Flux's defaults.
func DefaultCompatOptions() CompatOptions {
	var o CompatOptions
	o.defaults()
	return o
}

func (o *CompatOptions) defaults() {
	if o.ArgoCDNamespace == "" {
		o.ArgoCDNamespace = "argocd"
	}
	if o.ArgoCDInterval <= 0 {
		o.ArgoCDInterval = 3 * time.Minute
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = 10 * time.Second
	}
	if o.DependencyRetry <= 0 {
		o.DependencyRetry = 30 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Log.GetSink() == nil {
		o.Log = logr.Discard()
	}
}

// SetupCompat registers, with mgr, controllers of Argo CD's and Flux's own
// resources (those opts enables), read as unstructured objects and
// reconciled by engine through the SDK's compat loaders
// (reconcile/argocd.Load, reconcile/flux.Load), each writing its status in
// its tool's own shape ([ArgoCDApplicationReconciler],
// [FluxKustomizationReconciler]). The CRDs must be installed
// ([InstallCompatCRDs]). Share engine with the Application controller, so
// that every unit of the cluster shares one watch cache.
//
// A converge Application, an Argo CD Application and a Flux
// Kustomization of the same namespace and name would be one unit to the
// engine: keep their names apart.
func SetupCompat(mgr ctrl.Manager, engine *reconcile.Reconciler, opts CompatOptions) error {
	if engine == nil {
		return errors.New("operator: SetupCompat: no engine")
	}
	opts.defaults()
	if opts.ArgoCD {
		r := &ArgoCDApplicationReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Engine: engine, Options: opts}
		if err := r.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("operator: %w", err)
		}
		s := &ArgoCDApplicationSetReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Options: opts}
		if err := s.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("operator: %w", err)
		}
	}
	if opts.Flux {
		r := &FluxKustomizationReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Engine: engine,
			Mapper: mgr.GetRESTMapper(), Options: opts}
		if err := r.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("operator: %w", err)
		}
		g := &FluxGitRepositoryReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Engine: engine, Options: opts}
		if err := g.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("operator: %w", err)
		}
	}
	return nil
}

// InstallCompatCRDs applies the upstream CRDs of the kinds opts enables
// with server-side apply (Argo CD's ApplicationSet CRD is too large for a
// client-side apply's annotation) and waits until the API server serves
// them.
func InstallCompatCRDs(ctx context.Context, cfg *rest.Config, opts CompatOptions) error {
	s := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		return err
	}
	var docs [][]byte
	if opts.ArgoCD {
		docs = append(docs, argoApplicationCRD, argoApplicationSetCRD, argoAppProjectCRD)
	}
	if opts.Flux {
		docs = append(docs, fluxGitRepositoryCRD, fluxKustomizationCRD)
	}
	for _, doc := range docs {
		if err := installCRD(ctx, c, doc); err != nil {
			return err
		}
	}
	return nil
}

// newObject returns an empty unstructured object of gvk.
func newObject(gvk schema.GroupVersionKind) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u
}

// manifestOf writes objs as a YAML stream for a loader, without what the
// API server keeps for itself (status, managedFields), which a loader
// ignores or would only have to skip.
func manifestOf(objs ...*unstructured.Unstructured) ([]byte, error) {
	var b bytes.Buffer
	for _, o := range objs {
		c := o.DeepCopy()
		unstructured.RemoveNestedField(c.Object, "status")
		c.SetManagedFields(nil)
		out, err := yaml.Marshal(c.Object)
		if err != nil {
			return nil, fmt.Errorf("%s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
		b.WriteString("---\n")
		b.Write(out)
	}
	return b.Bytes(), nil
}

// statusOf returns a copy of obj's status, never nil.
func statusOf(obj *unstructured.Unstructured) map[string]any {
	st, _, _ := unstructured.NestedMap(obj.Object, "status")
	if st == nil {
		st = map[string]any{}
	}
	return st
}

// toMap turns a typed value (a condition, a struct of the tool's status)
// into the plain JSON values an unstructured object holds, so that it
// compares equal to what the API server returns.
func toMap(v any) (map[string]any, error) {
	return runtime.DefaultUnstructuredConverter.ToUnstructured(v)
}

// patchStatus writes status into obj when it differs from before: an
// unchanged pass costs no write. subresource says whether the kind's CRD
// has the status subresource (Flux's have; Argo CD's Application has not,
// so its status is written with the object).
func patchStatus(ctx context.Context, c client.Client, obj *unstructured.Unstructured, before, status map[string]any, subresource bool) error {
	if equality.Semantic.DeepEqual(before, status) {
		return nil
	}
	base := obj.DeepCopy()
	if err := unstructured.SetNestedField(base.Object, before, "status"); err != nil {
		return err
	}
	if err := unstructured.SetNestedField(obj.Object, status, "status"); err != nil {
		return err
	}
	var err error
	if subresource {
		err = c.Status().Patch(ctx, obj, client.MergeFrom(base))
	} else {
		err = c.Patch(ctx, obj, client.MergeFrom(base))
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("write status of %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

// conditionsOf reads the metav1.Conditions of a status (Flux's shape).
func conditionsOf(status map[string]any) []metav1.Condition {
	raw, _, _ := unstructured.NestedSlice(status, "conditions")
	out := make([]metav1.Condition, 0, len(raw))
	for _, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		var c metav1.Condition
		if runtime.DefaultUnstructuredConverter.FromUnstructured(m, &c) == nil {
			out = append(out, c)
		}
	}
	return out
}

// setConditions writes conditions into status as plain JSON values.
func setConditions(status map[string]any, conds []metav1.Condition) error {
	out := make([]any, 0, len(conds))
	for _, c := range conds {
		m, err := toMap(&c)
		if err != nil {
			return err
		}
		out = append(out, m)
	}
	status["conditions"] = out
	return nil
}

// addFinalizer adds name to obj's finalizers with a patch of its metadata.
func addFinalizer(ctx context.Context, c client.Client, obj *unstructured.Unstructured, name string) error {
	base := obj.DeepCopy()
	obj.SetFinalizers(append(obj.GetFinalizers(), name))
	if err := c.Patch(ctx, obj, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("add finalizer to %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

// removeFinalizers removes the finalizers names selects from obj.
func removeFinalizers(ctx context.Context, c client.Client, obj *unstructured.Unstructured, names func(string) bool) error {
	var keep []string
	for _, f := range obj.GetFinalizers() {
		if !names(f) {
			keep = append(keep, f)
		}
	}
	if len(keep) == len(obj.GetFinalizers()) {
		return nil
	}
	base := obj.DeepCopy()
	obj.SetFinalizers(keep)
	if err := c.Patch(ctx, obj, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove finalizer of %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

// recordEvent records an event on obj when rec is set.
func recordEvent(rec events.EventRecorder, obj runtime.Object, eventType, reason, action, msg string) {
	if rec == nil || reason == "" {
		return
	}
	rec.Eventf(obj, nil, eventType, reason, action, "%s", truncate(msg, 1024))
}

// commitOf returns the commit of a revision as the SDK writes it
// ("main@sha1:abc…" gives "abc…"), or the revision when it has none.
func commitOf(rev string) string {
	if i := strings.LastIndex(rev, ":"); i >= 0 {
		return rev[i+1:]
	}
	return rev
}

// specChanged passes updates that changed an unstructured object's spec,
// annotations (a refresh or reconcile request) or deletion: for a kind
// without the status subresource, metadata.generation also moves with
// every status write, so it cannot tell a new spec.
type specChanged struct{ predicate.Funcs }

func (specChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*unstructured.Unstructured)
	n, ok2 := e.ObjectNew.(*unstructured.Unstructured)
	if !ok1 || !ok2 {
		return true
	}
	return !equality.Semantic.DeepEqual(o.Object["spec"], n.Object["spec"]) ||
		!equality.Semantic.DeepEqual(o.GetAnnotations(), n.GetAnnotations()) ||
		(o.GetDeletionTimestamp() == nil) != (n.GetDeletionTimestamp() == nil) ||
		!equality.Semantic.DeepEqual(o.Object["operation"], n.Object["operation"])
}
