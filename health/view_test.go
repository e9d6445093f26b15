package health_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"

	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
)

// informerView is a health.View on client-go dynamic informers: one
// informer per resource and namespace, started on first use. It is the
// shape the cluster package's cache has, built here so that health's tests
// prove Wait with real watches without importing cluster.
type informerView struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper

	mu        sync.Mutex
	informers map[informerKey]cache.SharedIndexInformer
	stop      chan struct{}
}

type informerKey struct {
	gvr       schema.GroupVersionResource
	namespace string
}

var _ health.View = (*informerView)(nil)

func newInformerView(t *testing.T, cfg *rest.Config) *informerView {
	t.Helper()
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	require.NoError(t, err)
	v := &informerView{
		dyn:       dyn,
		mapper:    restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)),
		informers: map[informerKey]cache.SharedIndexInformer{},
		stop:      make(chan struct{}),
	}
	t.Cleanup(func() { close(v.stop) })
	return v
}

// mapping maps a kind to its resource. A kind it does not know (a CRD
// created after the view last read discovery, or one the API server's
// discovery does not serve yet) resets the discovery cache and retries for
// a few seconds: discovery requests, never per-object ones.
func (v *informerView) mapping(gk schema.GroupKind) (*meta.RESTMapping, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := v.mapper.RESTMapping(gk)
		if err == nil || !meta.IsNoMatchError(err) || time.Now().After(deadline) {
			return m, err
		}
		v.mapper.Reset()
		time.Sleep(200 * time.Millisecond)
	}
}

// informer returns the running informer for id's kind and namespace.
func (v *informerView) informer(id object.ID) (cache.SharedIndexInformer, error) {
	m, err := v.mapping(id.GroupKind())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	key := informerKey{gvr: m.Resource}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		key.namespace = id.Namespace
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if inf, ok := v.informers[key]; ok {
		return inf, nil
	}
	inf := dynamicinformer.NewFilteredDynamicInformer(v.dyn, key.gvr, key.namespace, 0,
		cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}, nil).Informer()
	go inf.Run(v.stop)
	v.informers[key] = inf
	return inf, nil
}

func (v *informerView) Get(_ context.Context, id object.ID) (*unstructured.Unstructured, bool, error) {
	inf, err := v.informer(id)
	if err != nil {
		return nil, false, err
	}
	key := id.Name
	if id.Namespace != "" {
		key = id.Namespace + "/" + id.Name
	}
	item, found, err := inf.GetIndexer().GetByKey(key)
	if err != nil || !found {
		return nil, false, err
	}
	u, ok := item.(*unstructured.Unstructured)
	if !ok {
		return nil, false, fmt.Errorf("%s: cache holds %T", id, item)
	}
	return u, true, nil
}

func (v *informerView) Watch(ctx context.Context, ids []object.ID, notify func(object.ID)) error {
	seen := map[cache.SharedIndexInformer]bool{}
	for _, id := range ids {
		inf, err := v.informer(id)
		if err != nil {
			return err
		}
		if seen[inf] {
			continue
		}
		seen[inf] = true
		send := func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if u, ok := obj.(*unstructured.Unstructured); ok {
				notify(object.IDOf(u))
			}
		}
		reg, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    send,
			UpdateFunc: func(_, obj any) { send(obj) },
			DeleteFunc: send,
		})
		if err != nil {
			return err
		}
		go func() {
			<-ctx.Done()
			_ = inf.RemoveEventHandler(reg)
		}()
		if !cache.WaitForCacheSync(ctx.Done(), reg.HasSynced) {
			return fmt.Errorf("%s: cache did not sync: %w", id.GroupKind(), ctx.Err())
		}
	}
	return nil
}

// requestLog records every request a rest.Config sends.
type requestLog struct {
	mu   sync.Mutex
	reqs []string // "GET /api/v1/namespaces/x/configmaps?watch=true"
}

func (l *requestLog) wrap(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			l.mu.Lock()
			l.reqs = append(l.reqs, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
			l.mu.Unlock()
			return rt.RoundTrip(r)
		})
	}
	return cfg
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// objectGets returns the requests that read one of ids by name, and counts
// the watch requests (which must be there for the log to mean anything).
func (l *requestLog) objectGets(t *testing.T, v *informerView, ids []object.ID) (gets []string, watches int) {
	t.Helper()
	suffixes := map[string]bool{}
	for _, id := range ids {
		m, err := v.mapping(id.GroupKind())
		require.NoError(t, err)
		suffixes["/"+m.Resource.Resource+"/"+id.Name] = true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.reqs {
		method, rest, _ := strings.Cut(r, " ")
		path, query, _ := strings.Cut(rest, "?")
		if strings.Contains(query, "watch=true") {
			watches++
			continue
		}
		if method != http.MethodGet {
			continue
		}
		i := strings.LastIndex(path, "/")
		j := strings.LastIndex(path[:max(i, 0)], "/")
		if i > 0 && j >= 0 && suffixes[path[j:]] {
			gets = append(gets, r)
		}
	}
	return gets, watches
}
