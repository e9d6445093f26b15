package diff

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/converge-dev/converge/object"
)

// Receipt is what converge keeps after applying an object, to know later,
// without a request, that the live object is still as applied.
//
// Server-side apply records ownership exactly: an unchanged re-apply keeps
// the field manager's managedFields entry byte-identical, and any other
// manager's change to a field converge owns removes that field from the
// entry. So if the desired object hashes the same, and the live object
// (from a watch) has the same UID and the same entry, nothing changed.
type Receipt struct {
	UID         types.UID
	DesiredHash string
	Entry       metav1.ManagedFieldsEntry
}

// Receipts stores receipts by object. Implementations must be safe for
// concurrent use. A host that wants receipts to survive restarts provides
// its own; without them the first reconcile after a restart compares
// locally (and dry-runs where that is uncertain) and records new ones.
type Receipts interface {
	Get(id object.ID) (Receipt, bool)
	Put(id object.ID, r Receipt)
	Delete(id object.ID)
}

// MemoryReceipts keeps receipts in a map. The zero value is ready to use.
type MemoryReceipts struct {
	mu sync.RWMutex
	m  map[object.ID]Receipt
}

var _ Receipts = (*MemoryReceipts)(nil)

func (s *MemoryReceipts) Get(id object.ID) (Receipt, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.m[id]
	return r, ok
}

func (s *MemoryReceipts) Put(id object.ID, r Receipt) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[object.ID]Receipt{}
	}
	s.m[id] = r
}

func (s *MemoryReceipts) Delete(id object.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

// Len returns the number of receipts.
func (s *MemoryReceipts) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}

// Hash returns a stable hash of an object's content: SHA-256 of its JSON,
// whose map keys encoding/json sorts.
func Hash(obj *unstructured.Unstructured) (string, error) {
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// NewReceipt makes a receipt from the desired object's hash and the live
// object the API server returned (from an apply or a watch), or false if
// that object has no apply entry for manager.
func NewReceipt(desiredHash string, live *unstructured.Unstructured, manager string) (Receipt, bool) {
	entry, ok := applyEntry(live, manager)
	if !ok {
		return Receipt{}, false
	}
	return Receipt{UID: live.GetUID(), DesiredHash: desiredHash, Entry: entry}, true
}

// matches reports whether the receipt still describes live.
func (r Receipt) matches(live *unstructured.Unstructured, desiredHash, manager string) bool {
	if r.DesiredHash != desiredHash || r.UID != live.GetUID() {
		return false
	}
	entry, ok := applyEntry(live, manager)
	return ok && sameEntry(entry, r.Entry)
}

// applyEntry returns manager's Apply entry for the main resource.
func applyEntry(obj *unstructured.Unstructured, manager string) (metav1.ManagedFieldsEntry, bool) {
	for _, e := range obj.GetManagedFields() {
		if e.Manager == manager && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == "" {
			return e, true
		}
	}
	return metav1.ManagedFieldsEntry{}, false
}

func sameEntry(a, b metav1.ManagedFieldsEntry) bool {
	if a.APIVersion != b.APIVersion || a.FieldsType != b.FieldsType || !a.Time.Equal(b.Time) {
		return false
	}
	if a.FieldsV1 == nil || b.FieldsV1 == nil {
		return a.FieldsV1 == b.FieldsV1
	}
	return bytes.Equal(a.FieldsV1.Raw, b.FieldsV1.Raw)
}
