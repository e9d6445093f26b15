package apply

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/object"
)

// Inventory keeps the IDs of the objects an owner applied, so that a later
// call can prune those that left the set. Implementations must be safe for
// concurrent use.
type Inventory interface {
	// Load returns the stored IDs; none (and no error) when nothing was
	// stored yet. A stored inventory that cannot be read is an error:
	// prune must never act on a guess.
	Load(ctx context.Context) ([]object.ID, error)
	// Store replaces the stored IDs.
	Store(ctx context.Context, ids []object.ID) error
}

// Remover is implemented by inventories that can remove what they stored,
// when an owner is deleted.
type Remover interface {
	Remove(ctx context.Context) error
}

// MemoryInventory is an Inventory in memory, for tests and for hosts that
// keep inventories in their own storage.
type MemoryInventory struct {
	mu  sync.Mutex
	ids []object.ID
}

// Load returns a copy of the stored IDs.
func (m *MemoryInventory) Load(context.Context) ([]object.ID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.ids), nil
}

// Store replaces the stored IDs.
func (m *MemoryInventory) Store(_ context.Context, ids []object.ID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ids = slices.Clone(ids)
	return nil
}

// Remove forgets the stored IDs.
func (m *MemoryInventory) Remove(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ids = nil
	return nil
}

// inventoryKey is the data key that holds the gzip-compressed list.
const inventoryKey = "inventory.gz"

// inventoryLimits bound what a stored inventory may expand to, so a
// tampered object cannot exhaust memory: 1 MiB compressed is the API
// server's object limit; 64 MiB is far beyond a million IDs.
const (
	maxInventoryCompressed   = 900 << 10
	maxInventoryUncompressed = 64 << 20
)

// ClusterInventory stores an inventory in a ConfigMap (or a Secret, for
// hosts that restrict ConfigMap reads less than Secret reads) as a sorted,
// gzip-compressed list of IDs, so that 10,000 entries take a few tens of
// kilobytes. A Store whose list is unchanged writes nothing; with a cache,
// a Load of an unchanged inventory costs no request.
type ClusterInventory struct {
	client    *cluster.Client
	cache     *cluster.Cache
	gvk       schema.GroupVersionKind
	namespace string
	name      string
	labels    map[string]string

	mu sync.Mutex
	// rv is the resourceVersion last loaded or stored: a cached copy
	// older than it is stale, and Store sends it as a precondition so
	// that a list read from a stale copy never overwrites a newer one.
	rv      string
	rvKnown bool
	ids     []object.ID // the list at rv, sorted; nil when unknown
}

// NewConfigMapInventory returns an inventory kept in the ConfigMap
// namespace/name, labelled with labels (the Applier passes its ownership
// labels, so that its cache sees the ConfigMap).
func NewConfigMapInventory(c *cluster.Client, namespace, name string, labels map[string]string) *ClusterInventory {
	return newClusterInventory(c, "ConfigMap", namespace, name, labels)
}

// NewSecretInventory is NewConfigMapInventory with a Secret.
func NewSecretInventory(c *cluster.Client, namespace, name string, labels map[string]string) *ClusterInventory {
	return newClusterInventory(c, "Secret", namespace, name, labels)
}

func newClusterInventory(c *cluster.Client, kind, namespace, name string, labels map[string]string) *ClusterInventory {
	return &ClusterInventory{
		client:    c,
		gvk:       schema.GroupVersionKind{Version: "v1", Kind: kind},
		namespace: namespace,
		name:      name,
		labels:    labels,
	}
}

// WithCache makes Load read through cache; it returns i.
func (i *ClusterInventory) WithCache(cache *cluster.Cache) *ClusterInventory {
	i.cache = cache
	return i
}

func (i *ClusterInventory) String() string {
	return fmt.Sprintf("%s %s/%s", i.gvk.Kind, i.namespace, i.name)
}

// Load reads and decodes the stored list.
func (i *ClusterInventory) Load(ctx context.Context) ([]object.ID, error) {
	obj, err := i.read(ctx)
	if apierrors.IsNotFound(err) {
		i.remember(nil, "")
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inventory %s: %w", i, err)
	}
	i.mu.Lock()
	if rv := obj.GetResourceVersion(); rv != "" && rv == i.rv && i.ids != nil {
		ids := slices.Clone(i.ids)
		i.mu.Unlock()
		return ids, nil
	}
	i.mu.Unlock()
	ids, err := decodeInventory(obj, i.gvk.Kind)
	if err != nil {
		return nil, fmt.Errorf("inventory %s: %w", i, err)
	}
	i.remember(ids, obj.GetResourceVersion())
	return ids, nil
}

// read returns the stored object. The cache answers only when its copy is
// known to be current: this inventory wrote or read that version (or a
// later one) before. Otherwise, after a restart or while the watch lags
// behind a Store, it costs a GET.
func (i *ClusterInventory) read(ctx context.Context) (*unstructured.Unstructured, error) {
	i.mu.Lock()
	rv, rvKnown := i.rv, i.rvKnown
	i.mu.Unlock()
	if i.cache != nil && rvKnown {
		obj, found, err := i.cache.Lookup(ctx, i.gvk, i.namespace, i.name)
		switch {
		case err == nil && found && rv != "" && notOlder(obj.GetResourceVersion(), rv):
			return obj, nil
		case err == nil && !found && rv == "" && !i.cache.Selective():
			return nil, apierrors.NewNotFound(schema.GroupResource{Resource: strings.ToLower(i.gvk.Kind) + "s"}, i.name)
		}
	}
	return i.client.Get(ctx, i.gvk, i.namespace, i.name)
}

// Store writes the list when it differs from the one last loaded or
// stored.
func (i *ClusterInventory) Store(ctx context.Context, ids []object.ID) error {
	sorted := sortedIDs(ids)
	if i.unchanged(sorted) {
		return nil
	}
	data, err := encodeInventory(sorted)
	if err != nil {
		return fmt.Errorf("inventory %s: %w", i, err)
	}
	if len(data) > maxInventoryCompressed {
		return fmt.Errorf("inventory %s: %d IDs compress to %d bytes, beyond the %d an object holds", i, len(sorted), len(data), maxInventoryCompressed)
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(i.gvk)
	obj.SetNamespace(i.namespace)
	obj.SetName(i.name)
	obj.SetLabels(i.labels)
	field := "binaryData"
	if i.gvk.Kind == "Secret" {
		field = "data"
	}
	obj.Object[field] = map[string]any{inventoryKey: base64.StdEncoding.EncodeToString(data)}
	obj.SetAnnotations(map[string]string{"converge.dev/inventory-entries": strconv.Itoa(len(sorted))})
	i.mu.Lock()
	if i.rvKnown && i.rv != "" {
		// The server refuses the apply (409) if the inventory changed
		// since it was read.
		obj.SetResourceVersion(i.rv)
	}
	i.mu.Unlock()
	ri, _, err := i.client.ResourceFor(ctx, obj)
	if err != nil {
		return fmt.Errorf("inventory %s: %w", i, err)
	}
	stored, err := ri.Apply(ctx, i.name, obj, metav1.ApplyOptions{FieldManager: object.FieldManager, Force: true})
	if apierrors.IsConflict(err) {
		i.forget()
		return fmt.Errorf("inventory %s changed since it was read (is another applier working for this owner?): %w", i, err)
	}
	if err != nil {
		return fmt.Errorf("inventory %s: %w", i, err)
	}
	i.remember(sorted, stored.GetResourceVersion())
	return nil
}

// Remove deletes the stored object. An inventory already gone is no
// error.
func (i *ClusterInventory) Remove(ctx context.Context) error {
	probe := &unstructured.Unstructured{}
	probe.SetGroupVersionKind(i.gvk)
	probe.SetNamespace(i.namespace)
	ri, _, err := i.client.ResourceFor(ctx, probe)
	if err != nil {
		return fmt.Errorf("inventory %s: %w", i, err)
	}
	if err := ri.Delete(ctx, i.name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("inventory %s: %w", i, err)
	}
	i.remember(nil, "")
	return nil
}

func (i *ClusterInventory) remember(ids []object.ID, resourceVersion string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.ids = sortedIDs(ids)
	if i.ids == nil {
		i.ids = []object.ID{}
	}
	i.rv, i.rvKnown = resourceVersion, true
}

// forget drops what this inventory knew, so the next Load reads the server.
func (i *ClusterInventory) forget() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.rv, i.rvKnown, i.ids = "", false, nil
}

func (i *ClusterInventory) unchanged(sorted []object.ID) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.ids != nil && slices.Equal(i.ids, sorted)
}

func sortedIDs(ids []object.ID) []object.ID {
	out := slices.Clone(ids)
	slices.SortFunc(out, object.Compare)
	return slices.CompactFunc(out, func(a, b object.ID) bool { return a == b })
}

func encodeInventory(sorted []object.ID) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for _, id := range sorted {
		if _, err := io.WriteString(zw, id.String()+"\n"); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// errCorruptInventory: the stored inventory does not decode.
var errCorruptInventory = errors.New("stored inventory is corrupt")

func decodeInventory(obj *unstructured.Unstructured, kind string) ([]object.ID, error) {
	field := "binaryData"
	if kind == "Secret" {
		field = "data"
	}
	encoded, found, err := unstructured.NestedString(obj.Object, field, inventoryKey)
	if err != nil || !found {
		return nil, fmt.Errorf("%w: no %s.%s", errCorruptInventory, field, inventoryKey)
	}
	return decodeInventoryData(encoded)
}

// decodeInventoryData decodes base64 of gzip of newline-separated IDs,
// bounded at every step.
func decodeInventoryData(encoded string) ([]object.ID, error) {
	if base64.StdEncoding.DecodedLen(len(encoded)) > maxInventoryCompressed*2 {
		return nil, fmt.Errorf("%w: too large", errCorruptInventory)
	}
	data, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64", errCorruptInventory)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: not gzip", errCorruptInventory)
	}
	plain, err := io.ReadAll(io.LimitReader(zr, maxInventoryUncompressed+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errCorruptInventory, err)
	}
	if len(plain) > maxInventoryUncompressed {
		return nil, fmt.Errorf("%w: expands beyond %d bytes", errCorruptInventory, maxInventoryUncompressed)
	}
	var ids []object.ID
	for n, line := range strings.Split(string(plain), "\n") {
		if line == "" {
			continue
		}
		id, err := object.ParseID(line)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: %v", errCorruptInventory, n+1, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
