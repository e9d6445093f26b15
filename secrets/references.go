package secrets

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
)

// The annotations argocd-vault-plugin reads on an object.
const (
	// AnnotationAVPPath names the store path of every <key> placeholder
	// of the object.
	AnnotationAVPPath = "avp.kubernetes.io/path"
	// AnnotationAVPIgnore set to "true" leaves the object as it is.
	AnnotationAVPIgnore = "avp.kubernetes.io/ignore"
	// AnnotationAVPVersion pins the version <key> placeholders read.
	AnnotationAVPVersion = "avp.kubernetes.io/secret-version"
	// AnnotationAVPRemoveMissing set to "true" drops a field whose
	// placeholder names a key the store's entry does not have, instead of
	// failing; an entry that is missing altogether still fails.
	AnnotationAVPRemoveMissing = "avp.kubernetes.io/remove-missing"
)

// ErrUnresolved: a reference in a manifest could not be resolved; the
// render fails, so no placeholder and no half-resolved object reaches
// apply.
var ErrUnresolved = errors.New("unresolved secret reference")

// ReferenceStores are the stores references in manifests read.
type ReferenceStores struct {
	// AVP serves argocd-vault-plugin placeholders: <path:PATH#KEY>,
	// <path:PATH#KEY#VERSION>, and <KEY> in objects annotated with
	// avp.kubernetes.io/path. A version is passed to the store as
	// "PATH?version=N", the form of Vault's own API.
	AVP Provider
	// Vals serves helmfile/vals references, ref+BACKEND://PATH#KEY,
	// by backend name ("vault", "k8s", ...). The key may be written as a
	// JSON-pointer fragment ("#/password"), as vals does.
	Vals map[string]Provider
}

// References returns a render.Processor that resolves store references
// in every string value of every object, as argocd-vault-plugin and vals
// do at render time:
//
//	password: <path:secret/data/db#password>          # argocd-vault-plugin
//	password: <password>                              # with avp.kubernetes.io/path
//	url: postgres://app:<path:secret/data/db#password>@db:5432/app
//	password: ref+vault://secret/db#/password         # vals, the whole value
//	url: postgres://app:ref+vault://secret/db#/password+@db:5432/app
//
// argocd-vault-plugin modifiers follow the key: "| base64encode",
// "| base64decode", "| sha256sum", "| trim" and "| jsonParse" (a JSON
// string value becomes its text). In a Secret's data, a resolved value is
// base64-encoded, as the plugin does, so manifests keep their plain form.
// In other kinds, the fields that received a value are listed in the
// object's object.AnnotationSensitive (see MarkSensitive), so diffs and
// plans mask them as they mask a Secret.
//
// It fails closed: a reference whose store is missing or whose key cannot
// be read fails the render with an error naming the object, the field and
// the reference's path, never a value, and every object is resolved or
// none is returned. Values read are cached for the call only.
func References(stores ReferenceStores) render.Processor {
	return render.ProcessorFunc(func(ctx context.Context, set *object.Set) (*object.Set, error) {
		r := &resolver{stores: stores, cache: map[string]map[string][]byte{}}
		out := object.NewSet()
		for id, obj := range set.All() {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			next, err := r.object(ctx, obj)
			if err != nil {
				return nil, &render.Error{Path: set.Source(id), Err: fmt.Errorf("resolve references in %s: %w", id, err)}
			}
			if err := out.Add(next, set.Source(id)); err != nil {
				return nil, &render.Error{Path: set.Source(id), Err: err}
			}
		}
		return out, nil
	})
}

// ReferenceError is a reference that could not be resolved. It carries
// the field and the reference, never a value.
type ReferenceError struct {
	Field     string // the field holding the reference, "data.password"
	Reference string // the store path and key, "secret/data/db#password"
	Err       error
}

func (e *ReferenceError) Error() string {
	return fmt.Sprintf("%s: %s: %v", e.Field, e.Reference, e.Err)
}

func (e *ReferenceError) Unwrap() []error { return []error{ErrUnresolved, e.Err} }

// reference matches the three reference forms in one pass, so a value
// put in place of one is never read again as another (a value holding
// "<key>" or "ref+" text is a value, not a reference):
//
//	<path:PATH#KEY[#VERSION][ | modifier ...]>   groups 1-4
//	<KEY[ | modifier ...]>                      groups 5-6, under avp.kubernetes.io/path
//	ref+BACKEND://PATH#KEY, ended by "+", whitespace or the end, as vals
//	                                            ends it; groups 7-9
var reference = regexp.MustCompile(`<path:([^#<>|]+)#([^#<>|]+?)(?:#([^#<>|]+?))?\s*((?:\|\s*[a-zA-Z0-9]+\s*)*)>` +
	`|<([A-Za-z0-9_.\-/]+)\s*((?:\|\s*[a-zA-Z0-9]+\s*)*)>` +
	`|ref\+([a-z0-9]+)://([^#+\s]+)(?:#([^+\s]*))?\+?`)

// leftoverReference finds reference syntax the resolver did not resolve
// (a key missing, a modifier misspelt): the render fails rather than
// apply it.
var leftoverReference = regexp.MustCompile(`<path:|ref\+[a-z0-9]+://`)

type resolver struct {
	stores ReferenceStores
	cache  map[string]map[string][]byte
	// resolved are the values put into the object being resolved, for
	// MarkSensitive.
	resolved []string
}

func (r *resolver) object(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	annotations := obj.GetAnnotations()
	if annotations[AnnotationAVPIgnore] == "true" {
		return obj, nil
	}
	out := obj.DeepCopy()
	r.resolved = r.resolved[:0]
	defer func() { r.resolved = r.resolved[:0] }()
	o := objectRefs{
		path:          annotations[AnnotationAVPPath],
		version:       annotations[AnnotationAVPVersion],
		removeMissing: annotations[AnnotationAVPRemoveMissing] == "true",
		secret:        obj.GetAPIVersion() == "v1" && obj.GetKind() == "Secret",
	}
	for key, value := range out.Object {
		if key == "apiVersion" || key == "kind" {
			continue
		}
		next, keep, err := r.walk(ctx, o, key, value, key == "data" && o.secret)
		if err != nil {
			return nil, err
		}
		if keep {
			out.Object[key] = next
		} else {
			delete(out.Object, key)
		}
	}
	MarkSensitive(out, r.resolved)
	return out, nil
}

type objectRefs struct {
	path, version string
	removeMissing bool
	secret        bool
}

// walk resolves references under value, found at field. keep is false for
// a field to drop (a missing key under remove-missing).
func (r *resolver) walk(ctx context.Context, o objectRefs, field string, value any, secretData bool) (any, bool, error) {
	switch v := value.(type) {
	case map[string]any:
		for k, child := range v {
			next, keep, err := r.walk(ctx, o, field+"."+k, child, secretData)
			if err != nil {
				return nil, false, err
			}
			if keep {
				v[k] = next
			} else {
				delete(v, k)
			}
		}
		return v, true, nil
	case []any:
		kept := v[:0]
		for i, child := range v {
			next, keep, err := r.walk(ctx, o, field+"["+strconv.Itoa(i)+"]", child, false)
			if err != nil {
				return nil, false, err
			}
			if keep {
				kept = append(kept, next)
			}
		}
		return kept, true, nil
	case string:
		next, changed, err := r.text(ctx, o, field, v)
		var missing *missingKeyError
		if errors.As(err, &missing) && o.removeMissing {
			return nil, false, nil
		}
		if err != nil || !changed {
			return v, true, err
		}
		if secretData {
			next = base64.StdEncoding.EncodeToString([]byte(next))
		}
		return next, true, nil
	default:
		return value, true, nil
	}
}

// text resolves every reference in s.
func (r *resolver) text(ctx context.Context, o objectRefs, field, s string) (string, bool, error) {
	if !strings.Contains(s, "<") && !strings.Contains(s, "ref+") {
		return s, false, nil
	}
	changed := false
	var firstErr error
	out := reference.ReplaceAllStringFunc(s, func(match string) string {
		if firstErr != nil {
			return match
		}
		m := reference.FindStringSubmatch(match)
		var v string
		var err error
		switch {
		case m[1] != "":
			v, err = r.avp(ctx, field, m[1], m[2], m[3], m[4])
		case m[5] != "":
			if o.path == "" {
				return match // <word> is a reference only under avp.kubernetes.io/path
			}
			v, err = r.avp(ctx, field, o.path, m[5], o.version, m[6])
		default:
			v, err = r.vals(ctx, field, m[7], m[8], m[9])
		}
		if err != nil {
			firstErr = err
			return match
		}
		changed = true
		r.resolved = append(r.resolved, v)
		return v
	})
	if firstErr != nil {
		return out, changed, firstErr
	}
	// What is left is text no value was put in: a reference still there
	// is one the patterns did not take.
	rest := reference.ReplaceAllString(s, "")
	if loc := leftoverReference.FindStringIndex(rest); loc != nil {
		return out, changed, &ReferenceError{Field: field, Reference: referenceAt(rest, loc[0]), Err: errors.New("not a reference converge can resolve: <path:PATH#KEY[#VERSION][ | modifier]> or ref+BACKEND://PATH#KEY")}
	}
	return out, changed, nil
}

// referenceAt names the reference at i for an error: up to its end, at
// most 80 bytes. It holds a path and a key, never a value.
func referenceAt(s string, i int) string {
	s = s[i:]
	if end := strings.IndexAny(s, "> \t\n"); end >= 0 {
		s = s[:end+1]
	}
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return strings.TrimSpace(s)
}

func (r *resolver) avp(ctx context.Context, field, path, key, version, modifiers string) (string, error) {
	path, key, version = strings.TrimSpace(path), strings.TrimSpace(key), strings.TrimSpace(version)
	ref := path + "#" + key
	if r.stores.AVP == nil {
		return "", &ReferenceError{Field: field, Reference: ref, Err: errors.New("no store serves argocd-vault-plugin placeholders")}
	}
	if version != "" {
		path += "?version=" + version
	}
	v, err := r.read(ctx, r.stores.AVP, "avp", path, key)
	if err != nil {
		return "", &ReferenceError{Field: field, Reference: ref, Err: err}
	}
	out, err := modify(v, modifiers)
	if err != nil {
		return "", &ReferenceError{Field: field, Reference: ref, Err: err}
	}
	return out, nil
}

func (r *resolver) vals(ctx context.Context, field, backend, path, key string) (string, error) {
	ref := "ref+" + backend + "://" + path
	if key != "" {
		ref += "#" + key
	}
	p := r.stores.Vals[backend]
	if p == nil {
		return "", &ReferenceError{Field: field, Reference: ref, Err: fmt.Errorf("no store serves vals backend %q", backend)}
	}
	key = strings.TrimPrefix(key, "/")
	if strings.Contains(key, "/") {
		return "", &ReferenceError{Field: field, Reference: ref, Err: errors.New("nested keys are not supported: name one property")}
	}
	v, err := r.read(ctx, p, backend, path, key)
	if err != nil {
		return "", &ReferenceError{Field: field, Reference: ref, Err: err}
	}
	return string(v), nil
}

// read returns property key of the entry at path, reading each entry once
// per call.
func (r *resolver) read(ctx context.Context, p Provider, store, path, key string) ([]byte, error) {
	cacheKey := store + "\x00" + path
	m, ok := r.cache[cacheKey]
	if !ok {
		var err error
		if m, err = p.Map(ctx, path); err != nil {
			return nil, err
		}
		r.cache[cacheKey] = m
	}
	v, err := Property(m, path, key)
	if errors.Is(err, ErrNotFound) {
		return nil, &missingKeyError{err}
	}
	return v, err
}

// missingKeyError: the entry is there, the key is not; what
// avp.kubernetes.io/remove-missing drops, unlike a missing entry.
type missingKeyError struct{ error }

func (e *missingKeyError) Unwrap() error { return e.error }

// modify applies argocd-vault-plugin modifiers ("| base64encode | trim").
func modify(v []byte, modifiers string) (string, error) {
	for _, m := range strings.Split(modifiers, "|") {
		switch m = strings.TrimSpace(m); m {
		case "":
		case "base64encode":
			v = []byte(base64.StdEncoding.EncodeToString(v))
		case "base64decode":
			d, err := base64.StdEncoding.DecodeString(string(v))
			if err != nil {
				return "", errors.New("base64decode: the value is not base64")
			}
			v = d
		case "sha256sum":
			sum := sha256.Sum256(v)
			v = []byte(hex.EncodeToString(sum[:]))
		case "trim":
			v = []byte(strings.TrimSpace(string(v)))
		case "jsonParse":
			s, err := strconv.Unquote(string(v))
			if err != nil {
				return "", errors.New("jsonParse: the value is not a JSON string")
			}
			v = []byte(s)
		default:
			return "", fmt.Errorf("unknown modifier %q", m)
		}
	}
	return string(v), nil
}
