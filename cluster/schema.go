package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/openapi3"
)

// schemaCache builds one type converter per group-version from the API
// server's OpenAPI v3 document, on first use. A converter for a whole
// cluster would parse hundreds of types nobody applies.
type schemaCache struct {
	discovery discovery.CachedDiscoveryInterface

	mu         sync.Mutex
	converters map[schema.GroupVersion]managedfields.TypeConverter
}

func newSchemaCache(d discovery.CachedDiscoveryInterface) *schemaCache {
	return &schemaCache{discovery: d, converters: map[schema.GroupVersion]managedfields.TypeConverter{}}
}

func (s *schemaCache) invalidate() {
	s.mu.Lock()
	s.converters = map[schema.GroupVersion]managedfields.TypeConverter{}
	s.mu.Unlock()
	s.discovery.Invalidate()
}

// TypeConverter returns a converter that knows gvk's schema, for
// structured-merge-diff comparisons. Safe for concurrent use.
func (c *Client) TypeConverter(ctx context.Context, gvk schema.GroupVersionKind) (managedfields.TypeConverter, error) {
	return within(ctx, func() (managedfields.TypeConverter, error) { return c.schemas.get(gvk.GroupVersion()) })
}

func (s *schemaCache) get(gv schema.GroupVersion) (managedfields.TypeConverter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tc, ok := s.converters[gv]; ok {
		return tc, nil
	}
	spec, err := openapi3.NewRoot(s.discovery.OpenAPIV3()).GVSpec(gv)
	var notFound *openapi3.GroupVersionNotFoundError
	if errors.As(err, &notFound) {
		// A group added since discovery was cached (a new CRD).
		s.discovery.Invalidate()
		spec, err = openapi3.NewRoot(s.discovery.OpenAPIV3()).GVSpec(gv)
	}
	if err != nil {
		return nil, fmt.Errorf("OpenAPI schema of %s: %w", gv, err)
	}
	if spec.Components == nil {
		return nil, fmt.Errorf("OpenAPI schema of %s has no components", gv)
	}
	tc, err := managedfields.NewTypeConverter(spec.Components.Schemas, false)
	if err != nil {
		return nil, fmt.Errorf("type converter for %s: %w", gv, err)
	}
	s.converters[gv] = tc
	return tc, nil
}
