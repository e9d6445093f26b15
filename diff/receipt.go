package diff

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"slices"
	"sync"
	"time"

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
	// FieldsHash is the hash of Entry's fields, computed once, so checking
	// a receipt reads the live object's managedFields in place instead of
	// decoding them.
	FieldsHash string
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

// Hash returns a stable hash of an object's content: SHA-256 over a
// canonical walk of its values (map keys sorted, each value tagged with its
// type). It costs a fraction of encoding the object as JSON, which matters
// when it runs for every object of every reconcile.
func Hash(obj *unstructured.Unstructured) (string, error) { return hashValue(obj.Object) }

func hashValue(v any) (string, error) {
	w := hashBuffers.Get().(*hashWriter)
	defer func() {
		if cap(w.buf) <= 1<<20 { // do not pin a rare huge object's buffer
			w.buf = w.buf[:0]
			hashBuffers.Put(w)
		}
	}()
	if err := w.value(v); err != nil {
		return "", err
	}
	sum := sha256.Sum256(w.buf)
	return hex.EncodeToString(sum[:]), nil
}

// hashWriter collects the canonical walk in a buffer hashed once at the
// end: writing each key and value to the hash directly costs a call and a
// conversion per string.
type hashWriter struct {
	buf []byte
}

var hashBuffers = sync.Pool{New: func() any { return &hashWriter{buf: make([]byte, 0, 4096)} }}

func (w *hashWriter) tag(t byte, n uint64) {
	w.buf = append(w.buf, t)
	w.buf = binary.LittleEndian.AppendUint64(w.buf, n)
}

func (w *hashWriter) str(t byte, s string) {
	w.tag(t, uint64(len(s)))
	w.buf = append(w.buf, s...)
}

func (w *hashWriter) value(v any) error {
	switch v := v.(type) {
	case nil:
		w.tag('n', 0)
	case string:
		w.str('s', v)
	case bool:
		if v {
			w.tag('b', 1)
		} else {
			w.tag('b', 0)
		}
	case int64:
		w.tag('i', uint64(v))
	case int:
		w.tag('i', uint64(int64(v)))
	case int32:
		w.tag('i', uint64(int64(v)))
	case float64:
		w.tag('f', math.Float64bits(v))
	case map[string]any:
		w.tag('m', uint64(len(v)))
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			w.str('k', k)
			if err := w.value(v[k]); err != nil {
				return err
			}
		}
	case []any:
		w.tag('l', uint64(len(v)))
		for _, x := range v {
			if err := w.value(x); err != nil {
				return err
			}
		}
	default:
		// Not a JSON value: fall back to its JSON form, which fails for
		// what JSON cannot hold.
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		w.str('j', string(data))
	}
	return nil
}

// NewReceipt makes a receipt from the desired object's hash and the live
// object the API server returned (from an apply or a watch), or false if
// that object has no apply entry for manager.
func NewReceipt(desiredHash string, live *unstructured.Unstructured, manager string) (Receipt, bool) {
	entry, ok := applyEntry(live, manager)
	if !ok || entry.FieldsV1 == nil || entry.Time == nil {
		return Receipt{}, false
	}
	var fields any
	if err := json.Unmarshal(entry.FieldsV1.GetRawBytes(), &fields); err != nil {
		return Receipt{}, false
	}
	fieldsHash, err := hashValue(fields)
	if err != nil {
		return Receipt{}, false
	}
	return Receipt{UID: live.GetUID(), DesiredHash: desiredHash, Entry: entry, FieldsHash: fieldsHash}, true
}

// matches reports whether the receipt still describes live. It reads the
// live object's managedFields in place: this runs for every object of
// every reconcile.
func (r Receipt) matches(live *unstructured.Unstructured, desiredHash, manager string) bool {
	if r.DesiredHash != desiredHash || r.UID != live.GetUID() || r.FieldsHash == "" || r.Entry.Time == nil {
		return false
	}
	md, _ := live.Object["metadata"].(map[string]any)
	entries, _ := md["managedFields"].([]any)
	for _, e := range entries {
		m, _ := e.(map[string]any)
		if m["manager"] != manager || m["operation"] != string(metav1.ManagedFieldsOperationApply) {
			continue
		}
		if sub, _ := m["subresource"].(string); sub != "" {
			continue
		}
		if m["apiVersion"] != r.Entry.APIVersion || m["fieldsType"] != r.Entry.FieldsType {
			return false
		}
		if m["time"] != r.Entry.Time.UTC().Format(time.RFC3339) {
			return false
		}
		h, err := hashValue(m["fieldsV1"])
		return err == nil && h == r.FieldsHash
	}
	return false
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
