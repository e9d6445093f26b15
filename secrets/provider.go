package secrets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrNotFound: the store has no entry at that key, or the entry has no
// such property. Providers wrap it, so errors.Is finds it.
var ErrNotFound = errors.New("not found")

// ErrListUnsupported: the store cannot list keys.
var ErrListUnsupported = errors.New("the store cannot list keys")

// Provider reads secrets from an external store (Vault, a Kubernetes
// Secret of another namespace or cluster, a webhook). Keys are the
// store's own paths ("secret/data/db" for Vault KV v2, "namespace/name"
// for Kubernetes); an entry is a map of properties, as ExternalSecret's
// remoteRef.key and remoteRef.property see it.
//
// An error names the store and the key, never a value.
type Provider interface {
	// Map returns every property of the entry at key.
	Map(ctx context.Context, key string) (map[string][]byte, error)
	// Value returns one property of the entry at key. An empty property
	// asks for the entry's only property (an error when it has several).
	Value(ctx context.Context, key, property string) ([]byte, error)
	// List returns the keys under prefix, sorted. Stores that cannot
	// list return ErrListUnsupported.
	List(ctx context.Context, prefix string) ([]string, error)
}

// ProviderFunc adapts a function that reads one entry to a Provider:
// Value picks from its map, and List is ErrListUnsupported.
type ProviderFunc func(ctx context.Context, key string) (map[string][]byte, error)

// Map calls f.
func (f ProviderFunc) Map(ctx context.Context, key string) (map[string][]byte, error) {
	return f(ctx, key)
}

// Value calls f and returns property of its entry.
func (f ProviderFunc) Value(ctx context.Context, key, property string) ([]byte, error) {
	m, err := f(ctx, key)
	if err != nil {
		return nil, err
	}
	return Property(m, key, property)
}

// List returns ErrListUnsupported.
func (f ProviderFunc) List(ctx context.Context, prefix string) ([]string, error) {
	return nil, ErrListUnsupported
}

var _ Provider = ProviderFunc(nil)

// Property returns property of entry m (read at key, which the error
// names). An empty property takes m's only property.
func Property(m map[string][]byte, key, property string) ([]byte, error) {
	if property == "" {
		if len(m) == 1 {
			for _, v := range m {
				return v, nil
			}
		}
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		slices.Sort(names)
		return nil, fmt.Errorf("key %q has %d properties (%s): name one", key, len(m), strings.Join(names, ", "))
	}
	v, ok := m[property]
	if !ok {
		return nil, fmt.Errorf("key %q has no property %q: %w", key, property, ErrNotFound)
	}
	return v, nil
}
