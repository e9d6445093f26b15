package sops

import (
	"bytes"
	"context"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/secrets"
)

// Processor returns a render step that decrypts every object of the set
// that carries top-level sops metadata (a Secret written with `sops -e`,
// or any other kind, as Flux's decryption.provider: sops does), and fails
// closed: a decryption failure, or any object that still holds an
// "ENC[AES256_GCM," value or a top-level sops field afterwards, fails the
// whole step with an error naming each object and its source file. The
// input set is not changed; no partly decrypted set is ever returned. An
// object that is not a Secret lists the fields it decrypted in its
// object.AnnotationSensitive (secrets.MarkSensitive), so diffs mask them.
//
// Render through [Decryptor.FS] where you can: it decrypts files before
// they are parsed, with their key order, which the MAC covers. Objects
// reach the Processor as maps, whose key order is lost, so DecryptObject
// verifies the MAC against the orderings of each mapping's keys (sorted
// first), within a bounded search; a document with too many keys to
// search fails with ErrMACMismatch.
func (d *Decryptor) Processor() render.Processor {
	return render.ProcessorFunc(d.process)
}

func (d *Decryptor) process(ctx context.Context, set *object.Set) (*object.Set, error) {
	out := set.DeepCopy()
	var errs []error
	for id, obj := range out.All() {
		name := objectName(id, set.Source(id))
		if _, ok := obj.Object[metadataKey]; ok {
			values, err := d.decryptObject(ctx, obj)
			if err == nil {
				secrets.MarkSensitive(obj, values)
			}
			if err != nil {
				var e *Error
				if errors.As(err, &e) {
					e.Name = name
				}
				errs = append(errs, err)
				continue
			}
		}
		where := leftover(obj.Object, nil, 0)
		if where == "" && id.Kind == "Secret" && id.Group == "" {
			where = leftoverInSecretData(obj.Object)
		}
		if where != "" {
			errs = append(errs, &Error{Op: "decrypt", Name: name, Err: fmt.Errorf("%w at %s", ErrCiphertextLeft, where)})
			continue
		}
		if err := out.Replace(obj); err != nil {
			errs = append(errs, fmt.Errorf("decrypt %s: %w", name, err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func objectName(id object.ID, source string) string {
	s := id.Kind
	if id.Namespace != "" {
		s += "/" + id.Namespace
	}
	s += "/" + id.Name
	if source != "" {
		s += " (" + source + ")"
	}
	return s
}

// leftover returns the path of the first ciphertext or sops field in v.
func leftover(v any, path []string, depth int) string {
	if depth > maxWalkDepth {
		return "a value nested too deeply"
	}
	switch v := v.(type) {
	case map[string]any:
		if depth == 0 {
			if _, ok := v[metadataKey]; ok {
				return "the top-level sops field"
			}
		}
		for k, e := range v {
			if w := leftover(e, append(path[:len(path):len(path)], k), depth+1); w != "" {
				return w
			}
		}
	case []any:
		for i, e := range v {
			if w := leftover(e, append(path[:len(path):len(path)], fmt.Sprint(i)), depth+1); w != "" {
				return w
			}
		}
	case string:
		if strings.Contains(v, encPrefix) {
			return pathString(path)
		}
	}
	return ""
}

// leftoverInSecretData finds ciphertext hidden in a Secret's base64 data,
// as a secretGenerator makes from an encrypted file read without
// Decryptor.FS.
func leftoverInSecretData(obj map[string]any) string {
	data, _ := obj["data"].(map[string]any)
	for k, v := range data {
		s, ok := v.(string)
		if !ok {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err == nil && (bytes.Contains(b, []byte(encPrefix)) || bytes.Contains(b, []byte("sops_mac="))) {
			return pathString([]string{"data", k}) + " (base64)"
		}
		if strings.HasPrefix(k, metadataKey+"_") {
			return pathString([]string{"data", k})
		}
	}
	return ""
}

// DecryptObject decrypts obj in place when it has top-level sops metadata
// and removes the metadata; it does nothing to an object without it. On
// error obj is unchanged. See [Decryptor.Processor] for how the MAC is
// verified without the source's key order.
func (d *Decryptor) DecryptObject(ctx context.Context, obj *unstructured.Unstructured) error {
	_, err := d.decryptObject(ctx, obj)
	return err
}

// decryptObject is DecryptObject, returning the values it decrypted.
func (d *Decryptor) decryptObject(ctx context.Context, obj *unstructured.Unstructured) ([]string, error) {
	name := obj.GetKind() + "/" + obj.GetName()
	if ns := obj.GetNamespace(); ns != "" {
		name = obj.GetKind() + "/" + ns + "/" + obj.GetName()
	}
	if _, ok := obj.Object[metadataKey]; !ok {
		return nil, nil
	}
	var values []string
	m, err := d.decryptMap(ctx, obj.Object, func(v string) { values = append(values, v) })
	if err != nil {
		return nil, &Error{Op: "decrypt", Name: name, Err: err}
	}
	obj.Object = m
	return values, nil
}

func (d *Decryptor) decryptMap(ctx context.Context, in map[string]any, record func(string)) (map[string]any, error) {
	if raw, err := json.Marshal(in); err != nil || int64(len(raw)) > d.maxSize {
		return nil, fmt.Errorf("%w (limit %d bytes)", ErrTooLarge, d.maxSize)
	}
	b, err := fromUnstructured(in, 0)
	if err != nil {
		return nil, err
	}
	tree := b.(branch)
	docs := []branch{tree}
	mdTree, err := extractMetadata(docs, FormatJSON)
	if err != nil {
		return nil, err
	}
	md, err := parseMetadata(mdTree)
	if err != nil {
		return nil, err
	}
	if md.rules.encryptedCommentRegex != nil || md.rules.unencryptedCommentRegex != nil {
		return nil, errors.New("the document selects values by comments, which a decoded object no longer has: decrypt its file through Decryptor.FS")
	}
	key, err := d.dataKey(ctx, md)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	// Decrypt every leaf; collect what each contributes to the MAC.
	r := &md.rules
	fn := func(v any, path []string) (any, []byte, bool, error) {
		enc := r.encrypted(path, [][]string{nil}, false)
		out := v
		if enc {
			s, ok := v.(string)
			if !ok {
				return nil, nil, false, fmt.Errorf("value at %s should be encrypted but is a %T", pathString(path), v)
			}
			p, err := decryptValue(s, key, strings.Join(path, ":")+":")
			if err != nil {
				return nil, nil, false, fmt.Errorf("value at %s: %w", pathString(path), err)
			}
			if _, ok := p.(comment); ok {
				return nil, nil, false, fmt.Errorf("value at %s: %w", pathString(path), errAuth)
			}
			out = p
			if b, err := macBytes(p); err == nil {
				record(string(b))
			}
		}
		if r.macOnlyEncrypted && !enc {
			return out, nil, false, nil
		}
		mb, err := macBytes(out)
		if err != nil {
			return nil, nil, false, fmt.Errorf("value at %s: %w", pathString(path), err)
		}
		return out, mb, true, nil
	}
	mt, err := macTreeOf(docs[0], nil, fn, 0)
	if err != nil {
		return nil, err
	}
	if !d.skipMAC {
		if md.mac == "" {
			return nil, fmt.Errorf("%w: the document has no MAC", ErrMACMismatch)
		}
		stored, err := decryptValue(md.mac, key, md.lastModified.Format(time.RFC3339))
		want, ok := stored.(string)
		if err != nil || !ok {
			return nil, fmt.Errorf("%w: the MAC does not decrypt with this document's data key and lastmodified", ErrMACMismatch)
		}
		if !mt.search(want, md.rules.macOnlyEncrypted) {
			return nil, fmt.Errorf("%w: no order of the object's keys matches the MAC (values changed after encryption, or too many keys to search: decrypt its file through Decryptor.FS)", ErrMACMismatch)
		}
	}
	return toUnstructured(mt.plain).(map[string]any), nil
}

// objLeafFunc decrypts one scalar and returns what it adds to the MAC.
type objLeafFunc func(v any, path []string) (out any, mac []byte, hashed bool, err error)

// macTree is a decrypted value with what it contributes to the MAC.
type macTree struct {
	plain    any
	leaf     []byte // for scalars that are hashed
	hashed   bool
	children []*macTree
	isMap    bool
}

func macTreeOf(v any, path []string, fn objLeafFunc, depth int) (*macTree, error) {
	if depth > maxWalkDepth {
		return nil, errTooDeep
	}
	switch v := v.(type) {
	case branch:
		t := &macTree{isMap: true}
		plain := make(branch, 0, len(v))
		for _, it := range v {
			k := it.key.(string)
			c, err := macTreeOf(it.value, append(path[:len(path):len(path)], k), fn, depth+1)
			if err != nil {
				return nil, err
			}
			t.children = append(t.children, c)
			plain = append(plain, item{key: k, value: c.plain})
		}
		t.plain = plain
		return t, nil
	case []any:
		t := &macTree{}
		plain := make([]any, 0, len(v))
		for _, e := range v {
			c, err := macTreeOf(e, path, fn, depth+1)
			if err != nil {
				return nil, err
			}
			t.children = append(t.children, c)
			plain = append(plain, c.plain)
		}
		t.plain = plain
		return t, nil
	case nil:
		return &macTree{}, nil
	case string, int, float64, bool:
		out, mb, hashed, err := fn(v, path)
		if err != nil {
			return nil, err
		}
		return &macTree{plain: out, leaf: mb, hashed: hashed}, nil
	}
	return nil, fmt.Errorf("value of unsupported type %T at %s", v, pathString(path))
}

// maxOrderings and maxHashed bound the key orderings DecryptObject tries
// and the bytes it hashes trying them, so a large or hostile object costs
// a bounded amount of CPU (about a tenth of a second), not minutes.
const (
	maxOrderings = 100_000
	maxHashed    = 16 << 20
)

func (t *macTree) search(want string, macOnly bool) bool {
	tried, hashed := 0, 0
	var init []byte
	if macOnly {
		init = macOnlyEncryptedInit
	}
	var found bool
	t.enumerate(init, func(seq []byte) bool {
		tried++
		hashed += len(seq)
		sum := sha512.Sum512(seq)
		got := strings.ToUpper(hex.EncodeToString(sum[:]))
		if subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1 {
			found = true
			return false
		}
		return tried < maxOrderings && hashed < maxHashed
	})
	return found
}

// enumerate calls emit with prefix followed by each ordering of t's
// contribution, until emit returns false; it reports whether to go on.
func (t *macTree) enumerate(prefix []byte, emit func([]byte) bool) bool {
	if t.children == nil {
		if t.hashed {
			return emit(append(prefix[:len(prefix):len(prefix)], t.leaf...))
		}
		return emit(prefix)
	}
	order := make([]int, len(t.children))
	for i := range order {
		order[i] = i
	}
	if !t.isMap {
		return t.sequence(order, 0, prefix, emit)
	}
	// Sorted order first (how a decoded object re-encodes), then the rest.
	return permute(order, func(p []int) bool { return t.sequence(p, 0, prefix, emit) })
}

func (t *macTree) sequence(order []int, i int, prefix []byte, emit func([]byte) bool) bool {
	if i == len(order) {
		return emit(prefix)
	}
	return t.children[order[i]].enumerate(prefix, func(p []byte) bool {
		return t.sequence(order, i+1, p, emit)
	})
}

// permute calls fn with every permutation of p (starting with p itself),
// in lexicographic order of indices, until fn returns false.
func permute(p []int, fn func([]int) bool) bool {
	for {
		if !fn(p) {
			return false
		}
		// next permutation
		i := len(p) - 2
		for i >= 0 && p[i] >= p[i+1] {
			i--
		}
		if i < 0 {
			return true
		}
		j := len(p) - 1
		for p[j] <= p[i] {
			j--
		}
		p[i], p[j] = p[j], p[i]
		slices.Reverse(p[i+1:])
	}
}

// fromUnstructured turns an object's maps into branches with sorted keys.
func fromUnstructured(v any, depth int) (any, error) {
	if depth > maxWalkDepth {
		return nil, errTooDeep
	}
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b := make(branch, 0, len(keys))
		for _, k := range keys {
			e, err := fromUnstructured(v[k], depth+1)
			if err != nil {
				return nil, err
			}
			b = append(b, item{key: k, value: e})
		}
		return b, nil
	case []any:
		l := make([]any, len(v))
		for i, e := range v {
			c, err := fromUnstructured(e, depth+1)
			if err != nil {
				return nil, err
			}
			l[i] = c
		}
		return l, nil
	case int64:
		return int(v), nil
	case int32:
		return int(v), nil
	case float32:
		return float64(v), nil
	case string, int, float64, bool, nil:
		return v, nil
	}
	return nil, fmt.Errorf("value of unsupported type %T", v)
}

func toUnstructured(v any) any {
	switch v := v.(type) {
	case branch:
		m := make(map[string]any, len(v))
		for _, it := range v {
			if k, ok := it.key.(string); ok {
				m[k] = toUnstructured(it.value)
			}
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, e := range v {
			l[i] = toUnstructured(e)
		}
		return l
	case int:
		return int64(v)
	case []byte:
		return string(v)
	case time.Time:
		return v.Format(time.RFC3339)
	}
	return v
}
