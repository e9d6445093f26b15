package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic/dynamicinformer"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// CacheOptions scope a [Cache].
type CacheOptions struct {
	// Namespaces limits the cache to these namespaces (plus cluster-scoped
	// objects). Objects in other namespaces are read with a direct GET.
	// Empty means all namespaces.
	Namespaces []string
	// Selector limits the cache to objects with matching labels, such as
	// converge's ownership label. Objects outside it are read with a direct
	// GET, so a miss costs a request; with no selector a miss is a
	// NotFound answered from memory.
	Selector labels.Selector
	// KindSelectors override Selector for some kinds: labels.Everything()
	// caches every object of a kind that is cheap to hold in full, such as
	// Namespaces, so that a miss proves absence and costs no request.
	KindSelectors map[schema.GroupKind]labels.Selector
	// Transform, when set, rewrites each object before it is stored, to
	// trim what the cache keeps. See [TrimManagedFields].
	Transform toolscache.TransformFunc
	// IgnoreCRDChanges stops the cache from watching
	// CustomResourceDefinitions, for hosts not allowed to list them. By
	// default a CRD added, changed or removed refreshes the client's REST
	// mapper and OpenAPI schemas.
	IgnoreCRDChanges bool
}

// Cache is a watch-backed view of live objects. It starts a watch (an
// informer) for each resource on first use and answers from memory after
// that, so reading an object whose kind is watched costs no request. It is
// safe for concurrent use.
//
// Objects returned by the cache are shared: callers must not modify them
// (DeepCopy first).
type Cache struct {
	client *Client
	opts   CacheOptions

	mu          sync.Mutex
	informers   map[informerKey]*informer
	stop        chan struct{}
	stopped     bool
	watchingCRD bool
	crds        *informer // every CRD, trimmed, indexed by the kind it defines
	crdDeadline time.Time
}

type informerKey struct {
	gvr       schema.GroupVersionResource
	namespace string // "" for cluster-scoped resources or all namespaces
	selector  string // the label selector of the kind
}

type informer struct {
	informer toolscache.SharedIndexInformer
	synced   chan struct{} // closed once the initial list is in
}

// NewCache returns a cache over c. Call Stop when done.
func NewCache(c *Client, opts CacheOptions) *Cache {
	if opts.Selector == nil {
		opts.Selector = labels.Everything()
	}
	return &Cache{client: c, opts: opts, informers: map[informerKey]*informer{}, stop: make(chan struct{})}
}

// Stop ends every watch. The cache answers no more reads after it.
func (c *Cache) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped {
		c.stopped = true
		close(c.stop)
	}
}

// Get returns the live object of kind gvk, or an error satisfying
// apierrors.IsNotFound. The object is the cache's own: do not modify it.
func (c *Cache) Get(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (*unstructured.Unstructured, error) {
	return c.get(ctx, gvk, namespace, name, true)
}

// Lookup reads the object from memory only, starting the watch for its
// kind on first use. found is false when the cache holds no such object:
// with a Selector, an object outside it may still exist on the server, and
// an object outside the cached namespaces is an error. The object is the
// cache's own: do not modify it.
func (c *Cache) Lookup(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (obj *unstructured.Unstructured, found bool, err error) {
	obj, err = c.get(ctx, gvk, namespace, name, false)
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return obj, true, nil
}

// Selective reports whether the cache holds only objects with matching
// labels, so that a miss in Lookup does not prove an object absent.
func (c *Cache) Selective() bool { return !c.opts.Selector.Empty() }

// SelectiveFor is Selective for one kind, whose selector KindSelectors
// may override.
func (c *Cache) SelectiveFor(gk schema.GroupKind) bool { return !c.selectorFor(gk).Empty() }

// Holds reports whether the cache would hold an object of kind gk with
// the given labels (in a namespace it covers).
func (c *Cache) Holds(gk schema.GroupKind, l labels.Set) bool { return c.selectorFor(gk).Matches(l) }

func (c *Cache) selectorFor(gk schema.GroupKind) labels.Selector {
	if s, ok := c.opts.KindSelectors[gk]; ok && s != nil {
		return s
	}
	return c.opts.Selector
}

// get reads from memory; on a miss that does not prove absence (outside
// the namespaces or the selector) it reads the API server when direct is
// set, and reports NotFound otherwise.
func (c *Cache) get(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string, direct bool) (*unstructured.Unstructured, error) {
	m, err := c.client.RESTMapping(ctx, gvk)
	if err != nil {
		return nil, err
	}
	namespaced := m.Scope.Name() == meta.RESTScopeNameNamespace
	if namespaced && namespace == "" {
		return nil, fmt.Errorf("%s %s is namespaced but has no namespace", gvk.Kind, name)
	}
	if !namespaced {
		namespace = ""
	}
	key, covered := c.keyFor(m, namespace, namespaced)
	if !covered {
		if !direct {
			return nil, fmt.Errorf("namespace %q is outside the cache", namespace)
		}
		return c.client.Get(ctx, gvk, namespace, name)
	}
	inf, err := c.start(ctx, key)
	if err != nil {
		return nil, err
	}
	storeKey := name
	if namespace != "" {
		storeKey = namespace + "/" + name
	}
	item, exists, err := inf.informer.GetStore().GetByKey(storeKey)
	if err != nil {
		return nil, err
	}
	if exists {
		return item.(*unstructured.Unstructured), nil
	}
	if direct && c.SelectiveFor(gvk.GroupKind()) {
		// Outside the selector does not mean absent.
		return c.client.Get(ctx, gvk, namespace, name)
	}
	return nil, apierrors.NewNotFound(m.Resource.GroupResource(), name)
}

// Prime starts watches for the given kinds in every namespace the cache
// covers and waits until they are synced, so later reads cost nothing.
func (c *Cache) Prime(ctx context.Context, gvks ...schema.GroupVersionKind) error {
	for _, gvk := range gvks {
		m, err := c.client.RESTMapping(ctx, gvk)
		if err != nil {
			return err
		}
		namespaced := m.Scope.Name() == meta.RESTScopeNameNamespace
		namespaces := []string{""}
		if namespaced && len(c.opts.Namespaces) > 0 {
			namespaces = c.opts.Namespaces
		}
		for _, ns := range namespaces {
			key, _ := c.keyFor(m, ns, namespaced)
			if _, err := c.start(ctx, key); err != nil {
				return err
			}
		}
	}
	return nil
}

// WaitForSync waits until every watch started so far has its initial list,
// the watch of CRDs included.
func (c *Cache) WaitForSync(ctx context.Context) error {
	c.mu.Lock()
	infs := make([]*informer, 0, len(c.informers)+1)
	for _, inf := range c.informers {
		infs = append(infs, inf)
	}
	if c.crds != nil {
		infs = append(infs, c.crds)
	}
	c.mu.Unlock()
	for _, inf := range infs {
		select {
		case <-inf.synced:
		case <-ctx.Done():
			return fmt.Errorf("wait for cache sync: %w", ctx.Err())
		}
	}
	return nil
}

// keyFor says which informer covers a namespace of a resource, and whether
// any does.
func (c *Cache) keyFor(m *meta.RESTMapping, namespace string, namespaced bool) (informerKey, bool) {
	selector := c.selectorFor(m.GroupVersionKind.GroupKind()).String()
	if !namespaced || len(c.opts.Namespaces) == 0 {
		return informerKey{gvr: m.Resource, selector: selector}, true
	}
	return informerKey{gvr: m.Resource, namespace: namespace, selector: selector}, slices.Contains(c.opts.Namespaces, namespace)
}

// start returns the informer for key, starting it on first use, and waits
// until it has synced.
func (c *Cache) start(ctx context.Context, key informerKey) (*informer, error) {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return nil, fmt.Errorf("cache is stopped")
	}
	inf, ok := c.informers[key]
	if !ok {
		selector := key.selector
		// No resync period: the watch delivers every change, and a periodic
		// resync would only cost CPU.
		shared := dynamicinformer.NewFilteredDynamicInformer(c.client.watches, key.gvr, key.namespace, 0,
			toolscache.Indexers{}, func(o *metav1.ListOptions) { o.LabelSelector = selector })
		inf = &informer{informer: shared.Informer(), synced: make(chan struct{})}
		if c.opts.Transform != nil {
			if err := inf.informer.SetTransform(c.opts.Transform); err != nil {
				c.mu.Unlock()
				return nil, err
			}
		}
		c.logWatchErrors(inf.informer, key.gvr.Resource)
		c.informers[key] = inf
		if !c.opts.IgnoreCRDChanges && !c.watchingCRD {
			c.watchingCRD = true
			c.watchCRDs()
		}
		go inf.informer.RunWithContext(c.runContext())
		go func() {
			if toolscache.WaitForCacheSync(c.stop, inf.informer.HasSynced) {
				close(inf.synced)
			}
		}()
	}
	c.mu.Unlock()
	select {
	case <-inf.synced:
		return inf, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for watch on %s: %w", key.gvr.Resource, ctx.Err())
	case <-c.stop:
		return nil, fmt.Errorf("cache is stopped")
	}
}

// AddEventHandler calls h for changes to objects of kind gvk in the
// namespaces the cache covers, starting the watch if needed. It returns a
// function that removes the handler.
func (c *Cache) AddEventHandler(ctx context.Context, gvk schema.GroupVersionKind, namespace string, h toolscache.ResourceEventHandler) (remove func(), err error) {
	m, err := c.client.RESTMapping(ctx, gvk)
	if err != nil {
		return nil, err
	}
	namespaced := m.Scope.Name() == meta.RESTScopeNameNamespace
	if !namespaced {
		namespace = ""
	}
	key, covered := c.keyFor(m, namespace, namespaced)
	if !covered {
		return nil, fmt.Errorf("namespace %q is outside the cache", namespace)
	}
	inf, err := c.start(ctx, key)
	if err != nil {
		return nil, err
	}
	reg, err := inf.informer.AddEventHandler(h)
	if err != nil {
		return nil, err
	}
	return func() { _ = inf.informer.RemoveEventHandler(reg) }, nil
}

// TrimManagedFields returns a cache transform that keeps only the
// managedFields entries of the given managers (converge's own, for apply
// receipts) and drops the last-applied-configuration annotation, which
// together are most of an object's size in memory. Diffs computed from a
// trimmed cache cannot name the other managers of conflicting fields.
func TrimManagedFields(keep ...string) toolscache.TransformFunc {
	return func(obj any) (any, error) {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return obj, nil
		}
		entries := u.GetManagedFields()
		kept := entries[:0]
		for _, e := range entries {
			if slices.Contains(keep, e.Manager) {
				kept = append(kept, e)
			}
		}
		if len(kept) != len(entries) {
			u.SetManagedFields(kept)
		}
		if ann := u.GetAnnotations(); ann != nil {
			if _, ok := ann["kubectl.kubernetes.io/last-applied-configuration"]; ok {
				delete(ann, "kubectl.kubernetes.io/last-applied-configuration")
				u.SetAnnotations(ann)
			}
		}
		return u, nil
	}
}

var gvrCRD = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// crdSyncWait bounds how long CRD lookups wait, in all, for the watch of
// CRDs to sync, whatever their contexts allow: a health check must not
// hang on a cluster that does not answer.
const crdSyncWait = 30 * time.Second

// crdKindIndex indexes CRDs by "group/Kind" of the kind they define.
const crdKindIndex = "groupKind"

// watchCRDs starts the cache's one watch of CRDs: it invalidates the
// client's discovery and schemas whenever a CRD is added, changes its
// spec, or goes away, so new kinds map and changed schemas compare
// without a restart, and it answers CRD lookups. It takes neither the
// cache's selector nor its namespaces: a CRD another unit applied defines
// kinds this one's objects use. Called with c.mu held.
func (c *Cache) watchCRDs() {
	inf := dynamicinformer.NewFilteredDynamicInformer(c.client.watches, gvrCRD, "", 0,
		toolscache.Indexers{crdKindIndex: indexCRDByKind}, nil).Informer()
	_ = inf.SetTransform(trimCRD)
	_, _ = inf.AddEventHandler(toolscache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(_ any, initial bool) {
			if !initial {
				c.client.Invalidate()
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			o, ok1 := oldObj.(*unstructured.Unstructured)
			n, ok2 := newObj.(*unstructured.Unstructured)
			if !ok1 || !ok2 || o.GetGeneration() != n.GetGeneration() {
				c.client.Invalidate()
			}
		},
		DeleteFunc: func(any) { c.client.Invalidate() },
	})
	c.logWatchErrors(inf, "customresourcedefinitions")
	c.crds = &informer{informer: inf, synced: make(chan struct{})}
	c.crdDeadline = time.Now().Add(crdSyncWait)
	go inf.RunWithContext(c.runContext())
	go func(synced chan struct{}) {
		if toolscache.WaitForCacheSync(c.stop, inf.HasSynced) {
			close(synced)
		}
	}(c.crds.synced)
}

// CRD returns the live CRD that defines gk, or found false when there is
// none. The first call starts the cache's watch of CRDs if no read has
// (one list and one watch of every CRD, whatever the cache's namespaces
// and selector) and waits, within ctx and at most 30 seconds in all, for
// it to sync; after that every call reads memory. A cache told not to
// watch CRDs (IgnoreCRDChanges, for hosts not allowed to list them) finds
// none. The CRD is trimmed to its names, scope, versions (without their
// schemas) and status: do not modify it.
func (c *Cache) CRD(ctx context.Context, gk schema.GroupKind) (*unstructured.Unstructured, bool, error) {
	if c.opts.IgnoreCRDChanges {
		return nil, false, nil
	}
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return nil, false, fmt.Errorf("CRD of %s: cache is stopped", gk)
	}
	if !c.watchingCRD {
		c.watchingCRD = true
		c.watchCRDs()
	}
	crds, deadline := c.crds, c.crdDeadline
	c.mu.Unlock()
	select {
	case <-crds.synced:
	default:
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		select {
		case <-crds.synced:
		case <-ctx.Done():
			return nil, false, fmt.Errorf("CRD of %s: wait for the watch of CRDs: %w", gk, ctx.Err())
		case <-c.stop:
			return nil, false, fmt.Errorf("CRD of %s: cache is stopped", gk)
		case <-timer.C:
			return nil, false, fmt.Errorf("CRD of %s: the watch of CRDs has not synced within %s", gk, crdSyncWait)
		}
	}
	items, err := crds.informer.GetIndexer().ByIndex(crdKindIndex, gk.Group+"/"+gk.Kind)
	if err != nil {
		return nil, false, fmt.Errorf("CRD of %s: %w", gk, err)
	}
	var found *unstructured.Unstructured
	for _, item := range items {
		u, ok := item.(*unstructured.Unstructured)
		if !ok {
			continue
		}
		// Two CRDs may claim one kind; the API server serves the one whose
		// names it accepted.
		if found == nil || established(u) && !established(found) {
			found = u
		}
	}
	return found, found != nil, nil
}

// runContext is the context informers run with: done when the cache
// stops, and carrying the client's logger, so that client-go's reflectors
// log through it instead of klog's global output on stderr.
func (c *Cache) runContext() context.Context {
	return klog.NewContext(wait.ContextForChannel(c.stop), c.client.log)
}

// logWatchErrors hands an informer's watch errors (a dropped connection,
// an expired resourceVersion) to the client's logger; client-go's default
// handler writes them to stderr.
func (c *Cache) logWatchErrors(inf toolscache.SharedIndexInformer, resource string) {
	_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *toolscache.Reflector, err error) {
		c.client.log.V(1).Info("watch failed; client-go retries it", "resource", resource, "error", err.Error())
	})
}

func indexCRDByKind(obj any) ([]string, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, nil
	}
	group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
	if kind == "" {
		return nil, nil
	}
	return []string{group + "/" + kind}, nil
}

// trimCRD keeps what health reads of a CRD: its names, each version's
// name, flags and subresources, and its status. The schemas, most of a
// CRD's size (kube-prometheus-stack's are megabytes), are dropped.
func trimCRD(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	spec, _ := u.Object["spec"].(map[string]any)
	versions, _ := spec["versions"].([]any)
	kept := make([]any, 0, len(versions))
	for _, v := range versions {
		m, ok := v.(map[string]any)
		if !ok {
			continue
		}
		t := map[string]any{}
		for _, k := range []string{"name", "served", "storage", "subresources"} {
			if x, ok := m[k]; ok {
				t[k] = x
			}
		}
		kept = append(kept, t)
	}
	out := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": u.GetAPIVersion(), "kind": u.GetKind(),
		"metadata": map[string]any{"name": u.GetName(), "uid": string(u.GetUID()),
			"resourceVersion": u.GetResourceVersion(), "generation": u.GetGeneration()},
		"spec": map[string]any{"group": spec["group"], "names": spec["names"], "scope": spec["scope"], "versions": kept},
	}}
	if st, ok := u.Object["status"]; ok {
		out.Object["status"] = st
	}
	return out, nil
}

// established reports whether the CRD's Established condition is True.
func established(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}
