package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Client reaches one API server. It is safe for concurrent use, and meant
// to be shared by everything that talks to that cluster.
type Client struct {
	config    *rest.Config
	dynamic   dynamic.Interface
	metadata  metadata.Interface
	watches   dynamic.Interface // for the Cache's informers; see WithCompressedWatches
	discovery discovery.CachedDiscoveryInterface
	mapper    *restmapper.DeferredDiscoveryRESTMapper
	counter   *requestCounter
	schemas   *schemaCache
	log       logr.Logger

	compressedWatches bool

	// mappings remembers answers of the mapper per group, version and
	// kind until Invalidate: the discovery mapper builds and searches its
	// whole table on each call, which costs more than the rest of an
	// in-sync diff.
	mappings sync.Map // schema.GroupVersionKind → *meta.RESTMapping
}

// Option configures [New].
type Option func(*Client)

// WithLogger sets the logger; by default nothing is logged.
func WithLogger(l logr.Logger) Option { return func(c *Client) { c.log = l } }

// WithCompressedWatches lets the API server gzip the streams of the
// Cache's watches, as client-go does by default. converge turns that off:
// the server compresses a watch stream event by event, which on a bulk
// apply of 1,000 objects added about a third to the API server's CPU time
// and half a second of the client's. Compressed watches only pay off on a
// slow link to a distant API server.
func WithCompressedWatches() Option { return func(c *Client) { c.compressedWatches = true } }

// New returns a Client for cfg. cfg is copied; every request made through
// the Client, or through [Client.Config], is counted in [Client.Requests].
func New(cfg *rest.Config, opts ...Option) (*Client, error) {
	c := &Client{counter: &requestCounter{counts: Requests{}}, log: logr.Discard()}
	for _, o := range opts {
		o(c)
	}
	if cfg == nil {
		return nil, errors.New("cluster: nil rest.Config")
	}
	c.config = rest.CopyConfig(cfg)
	c.config.Wrap(c.counter.wrap)
	if c.config.WarningHandler == nil && c.config.WarningHandlerWithContext == nil {
		// client-go's default prints the server's warnings (deprecated
		// APIs) to stderr through klog, behind the host's back.
		c.config.WarningHandlerWithContext = warningLogger{log: c.log}
	}
	if c.config.QPS == 0 {
		// client-go's default of 5 QPS throttles a reconcile of thousands
		// of objects; the API server's own flow control is the real limit.
		c.config.QPS, c.config.Burst = 200, 400
	}
	dc, err := discovery.NewDiscoveryClientForConfig(c.config)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	c.discovery = memory.NewMemCacheClient(dc)
	c.mapper = restmapper.NewDeferredDiscoveryRESTMapper(c.discovery)
	if c.dynamic, err = dynamic.NewForConfig(c.config); err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	if c.metadata, err = metadata.NewForConfig(c.config); err != nil {
		return nil, fmt.Errorf("metadata client: %w", err)
	}
	c.watches = c.dynamic
	if !c.compressedWatches && !c.config.DisableCompression {
		wc := rest.CopyConfig(c.config)
		wc.DisableCompression = true
		if c.watches, err = dynamic.NewForConfig(wc); err != nil {
			return nil, fmt.Errorf("dynamic client for watches: %w", err)
		}
	}
	c.schemas = newSchemaCache(c.discovery)
	return c, nil
}

// Config returns the client's rest.Config, whose requests are counted too.
func (c *Client) Config() *rest.Config { return rest.CopyConfig(c.config) }

// Dynamic returns the dynamic client.
func (c *Client) Dynamic() dynamic.Interface { return c.dynamic }

// Requests returns the requests made so far.
func (c *Client) Requests() Requests { return c.counter.snapshot() }

// RESTMapping maps a kind to its resource. A kind the cached discovery does
// not know (a CRD created since) refreshes discovery once before failing.
// A remembered mapping costs nothing; a miss asks the API server, for as
// long as ctx allows.
func (c *Client) RESTMapping(ctx context.Context, gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	if m, ok := c.mappings.Load(gvk); ok {
		return m.(*meta.RESTMapping), nil
	}
	m, err := within(ctx, func() (*meta.RESTMapping, error) {
		m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) {
			c.Invalidate()
			m, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		}
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", gvk, err)
	}
	c.mappings.Store(gvk, m)
	return m, nil
}

// Invalidate drops cached discovery and schemas, after CRDs or API
// services change.
func (c *Client) Invalidate() {
	c.mappings.Clear()
	c.mapper.Reset()
	c.schemas.invalidate()
}

// ResourceFor returns the dynamic client for obj's kind and namespace.
func (c *Client) ResourceFor(ctx context.Context, obj *unstructured.Unstructured) (dynamic.ResourceInterface, *meta.RESTMapping, error) {
	m, err := c.RESTMapping(ctx, obj.GroupVersionKind())
	if err != nil {
		return nil, nil, err
	}
	ri := c.dynamic.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			return nil, nil, fmt.Errorf("%s %s is namespaced but has no namespace", obj.GetKind(), obj.GetName())
		}
		return ri.Namespace(obj.GetNamespace()), m, nil
	}
	return ri, m, nil
}

// Get reads one object from the API server (one request).
func (c *Client) Get(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (*unstructured.Unstructured, error) {
	probe := &unstructured.Unstructured{}
	probe.SetGroupVersionKind(gvk)
	probe.SetNamespace(namespace)
	ri, _, err := c.ResourceFor(ctx, probe)
	if err != nil {
		return nil, err
	}
	return ri.Get(ctx, name, metav1.GetOptions{})
}

// ErrNoName is returned for an object without a name where one is needed.
var ErrNoName = errors.New("object has no name")

// DryRunApply sends obj as a server-side apply with dryRun=All under the
// given field manager, forcing ownership, and returns the object the
// server would store. It writes nothing.
func (c *Client) DryRunApply(ctx context.Context, obj *unstructured.Unstructured, fieldManager string) (*unstructured.Unstructured, error) {
	if obj.GetName() == "" {
		return nil, ErrNoName
	}
	ri, _, err := c.ResourceFor(ctx, obj)
	if err != nil {
		return nil, err
	}
	return ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{
		FieldManager: fieldManager,
		Force:        true,
		DryRun:       []string{metav1.DryRunAll},
	})
}

// Impersonate returns a copy of cfg that acts as the service account
// namespace/name, so that a host can apply a tenant's objects with only the
// tenant's permissions.
func Impersonate(cfg *rest.Config, namespace, serviceAccount string) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + namespace + ":" + serviceAccount,
	}
	return c
}

// warningLogger hands the API server's warnings to the Client's logger.
type warningLogger struct{ log logr.Logger }

func (w warningLogger) HandleWarningHeaderWithContext(_ context.Context, code int, _ string, text string) {
	if code == 299 && text != "" {
		w.log.Info("API server warning", "warning", text)
	}
}

// within runs fn and returns its result, or ctx's error as soon as ctx is
// done: client-go's discovery takes no context, so a caller must be able
// to stop waiting for it. fn then finishes on its own, bounded by the
// client's timeouts, and its result is dropped.
func within[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
