package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// NamespaceContents lists, as metadata only, the objects in namespace
// that match selector, across every namespaced resource the API server
// can list. It costs one request per resource (about forty on a plain
// cluster), so it is meant for rare decisions such as whether deleting a
// Namespace would take other owners' objects with it. Each result has
// its apiVersion and kind set.
//
// A resource that cannot be listed (forbidden, or an API group whose
// discovery failed) is an error rather than an empty answer: a caller
// deciding what a deletion takes must not act on a partial list. Kinds
// that went away between discovery and the list are skipped.
func (c *Client) NamespaceContents(ctx context.Context, namespace string, selector labels.Selector) ([]metav1.PartialObjectMetadata, error) {
	if namespace == "" {
		return nil, errors.New("namespace contents: no namespace given")
	}
	if selector == nil {
		selector = labels.Everything()
	}
	lists, err := c.discovery.ServerPreferredNamespacedResources()
	if err != nil {
		return nil, fmt.Errorf("namespace contents of %s: discovery: %w", namespace, err)
	}
	type resource struct {
		gvr  schema.GroupVersionResource
		kind string
	}
	var resources []resource
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			if !slices.Contains(r.Verbs, "list") || strings.Contains(r.Name, "/") {
				continue // not listable, or a subresource
			}
			resources = append(resources, resource{gvr: gv.WithResource(r.Name), kind: r.Kind})
		}
	}

	var (
		mu   sync.Mutex
		out  []metav1.PartialObjectMetadata
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 8)
	)
	for _, r := range resources {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			list, err := c.metadata.Resource(r.gvr).Namespace(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err):
				return
			case err != nil:
				errs = append(errs, fmt.Errorf("list %s: %w", r.gvr.Resource, err))
				return
			}
			for _, item := range list.Items {
				item.APIVersion = r.gvr.GroupVersion().String()
				item.Kind = r.kind
				out = append(out, item)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("namespace contents of %s: %w", namespace, err)
	}
	slices.SortFunc(out, func(a, b metav1.PartialObjectMetadata) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
	})
	return out, nil
}

// List reads every object of kind gvk in namespace ("" for all
// namespaces, or for a cluster-scoped kind) from the API server, 500 a
// page, and returns them sorted by namespace and name. It costs one
// request per page, plus discovery on the first use of a kind.
func (c *Client) List(ctx context.Context, gvk schema.GroupVersionKind, namespace string) ([]unstructured.Unstructured, error) {
	m, err := c.RESTMapping(ctx, gvk)
	if err != nil {
		return nil, err
	}
	var ri dynamic.ResourceInterface = c.dynamic.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace && namespace != "" {
		ri = c.dynamic.Resource(m.Resource).Namespace(namespace)
	}
	var out []unstructured.Unstructured
	opts := metav1.ListOptions{Limit: 500}
	for {
		list, err := ri.List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", m.Resource.Resource, err)
		}
		out = append(out, list.Items...)
		if opts.Continue = list.GetContinue(); opts.Continue == "" {
			break
		}
	}
	slices.SortFunc(out, func(a, b unstructured.Unstructured) int {
		return cmp.Or(cmp.Compare(a.GetNamespace(), b.GetNamespace()), cmp.Compare(a.GetName(), b.GetName()))
	})
	return out, nil
}
