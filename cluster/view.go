package cluster

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/converge-dev/converge/object"
)

// View reads a [Cache] by object ID, at each kind's preferred version, and
// never sends a request per read: what the cache does not hold is reported
// as not found. It satisfies health.View, so health.Wait runs on the same
// watches the diff reads, and health.CRDs ([View.CRD]), so that a health
// engine decides custom resources from their live CRDs.
type View struct{ cache *Cache }

// View returns a View of the cache.
func (c *Cache) View() View { return View{cache: c} }

// Get returns the object id names, or found false when the cache does not
// hold it. The object is the cache's own: do not modify it.
func (v View) Get(ctx context.Context, id object.ID) (*unstructured.Unstructured, bool, error) {
	gvk, err := v.preferred(ctx, id)
	if err != nil {
		return nil, false, err
	}
	obj, err := v.cache.get(ctx, gvk, id.Namespace, id.Name, false)
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return obj, true, nil
}

// Watch starts (or reuses) the watches covering ids, waits until they are
// synced, and calls notify with the ID of every object they see change
// until ctx is done. notify must not block.
func (v View) Watch(ctx context.Context, ids []object.ID, notify func(object.ID)) error {
	type target struct {
		gvk       schema.GroupVersionKind
		namespace string
	}
	seen := map[target]bool{}
	var targets []target
	for _, id := range ids {
		gvk, err := v.preferred(ctx, id)
		if err != nil {
			return err
		}
		t := target{gvk: gvk, namespace: id.Namespace}
		if len(v.cache.opts.Namespaces) == 0 {
			t.namespace = "" // one watch covers every namespace
		}
		if !seen[t] {
			seen[t] = true
			targets = append(targets, t)
		}
	}

	// closed stops notifications once ctx is done, even from handler calls
	// already queued in the informers.
	var mu sync.RWMutex
	closed := false
	send := func(obj any) {
		if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return
		}
		mu.RLock()
		defer mu.RUnlock()
		if !closed && ctx.Err() == nil {
			notify(object.IDOf(u))
		}
	}
	handler := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    send,
		UpdateFunc: func(_, obj any) { send(obj) },
		DeleteFunc: send,
	}
	var removers []func()
	stop := func() {
		mu.Lock()
		closed = true
		mu.Unlock()
		for _, r := range removers {
			r()
		}
	}
	for _, t := range targets {
		remove, err := v.cache.AddEventHandler(ctx, t.gvk, t.namespace, handler)
		if err != nil {
			stop()
			return err
		}
		removers = append(removers, remove)
	}
	go func() {
		<-ctx.Done()
		stop()
	}()
	return nil
}

// preferred maps an ID's kind to the group's preferred version.
func (v View) preferred(ctx context.Context, id object.ID) (schema.GroupVersionKind, error) {
	m, err := v.cache.client.RESTMapping(ctx, schema.GroupVersionKind{Group: id.Group, Kind: id.Kind})
	if err != nil {
		return schema.GroupVersionKind{}, err
	}
	return m.GroupVersionKind, nil
}

// CRD returns the live CRD that defines gk, or found false when there is
// none: see [Cache.CRD]. It satisfies health.CRDs, so a health engine
// decides custom resources from their live CRDs.
func (v View) CRD(ctx context.Context, gk schema.GroupKind) (*unstructured.Unstructured, bool, error) {
	if v.cache == nil {
		return nil, false, fmt.Errorf("CRD of %s: the View was not made by Cache.View", gk)
	}
	return v.cache.CRD(ctx, gk)
}
