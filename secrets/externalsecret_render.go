package secrets

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
)

// Stores finds the Provider behind a SecretStore or ClusterSecretStore
// an ExternalSecret names. namespace is the ExternalSecret's: a
// SecretStore is looked up there, a ClusterSecretStore anywhere.
type Stores interface {
	Store(ctx context.Context, namespace string, ref StoreRef) (Provider, error)
}

// StoresFunc adapts a function to Stores.
type StoresFunc func(ctx context.Context, namespace string, ref StoreRef) (Provider, error)

// Store calls f.
func (f StoresFunc) Store(ctx context.Context, namespace string, ref StoreRef) (Provider, error) {
	return f(ctx, namespace, ref)
}

var _ Stores = StoresFunc(nil)

// StoreMap is Stores from a fixed map. SecretStores are keyed
// "namespace/name", ClusterSecretStores "name".
type StoreMap struct {
	SecretStores        map[string]Provider
	ClusterSecretStores map[string]Provider
}

// Store returns the Provider registered for ref.
func (m StoreMap) Store(_ context.Context, namespace string, ref StoreRef) (Provider, error) {
	var p Provider
	if ref.StoreKind() == "ClusterSecretStore" {
		p = m.ClusterSecretStores[ref.Name]
	} else {
		p = m.SecretStores[namespace+"/"+ref.Name]
	}
	if p == nil {
		return nil, fmt.Errorf("no store %s for namespace %s: %w", ref, namespace, ErrNotFound)
	}
	return p, nil
}

// Render reads the values es names from its store and returns the
// Secret they make, or nil when the deletion policy is Delete and the
// store has none of the entries es reads (a missing property, or some
// entries missing, is an error). The Secret's values are never in an
// error.
func (es *ExternalSecret) Render(ctx context.Context, stores Stores) (*unstructured.Unstructured, error) {
	return es.render(ctx, stores, nil)
}

type reader func(ctx context.Context, p Provider, key string) (map[string][]byte, error)

func (es *ExternalSecret) render(ctx context.Context, stores Stores, read reader) (*unstructured.Unstructured, error) {
	if read == nil {
		read = func(ctx context.Context, p Provider, key string) (map[string][]byte, error) { return p.Map(ctx, key) }
	}
	store, err := stores.Store(ctx, es.Namespace, es.Spec.SecretStoreRef)
	if err != nil {
		return nil, fmt.Errorf("ExternalSecret %s/%s: store %s: %w", es.Namespace, es.Name, es.Spec.SecretStoreRef, err)
	}
	var found, gone int
	counted := func(ctx context.Context, p Provider, key string) (map[string][]byte, error) {
		m, err := read(ctx, p, key)
		switch {
		case err == nil:
			found++
		case errors.Is(err, ErrNotFound):
			gone++
		}
		return m, err
	}
	values, err := es.values(ctx, store, counted)
	if err != nil && gone > 0 && found == 0 && es.Spec.Target.DeletionPolicy == "Delete" {
		// The store no longer has the entry: as ESO, the Secret goes. A
		// missing property or store is a mistake, not a deletion.
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ExternalSecret %s/%s: %w", es.Namespace, es.Name, err)
	}
	secret, err := es.secret(values)
	if err != nil {
		return nil, fmt.Errorf("ExternalSecret %s/%s: %w", es.Namespace, es.Name, err)
	}
	return secret, nil
}

// values reads every value of spec.data and spec.dataFrom; later entries
// win, spec.data over spec.dataFrom, as ESO merges them.
func (es *ExternalSecret) values(ctx context.Context, store Provider, read reader) (map[string][]byte, error) {
	out := map[string][]byte{}
	for i, d := range es.Spec.DataFrom {
		if d.Extract != nil {
			m, err := read(ctx, store, versioned(d.Extract.Key, d.Extract.Version))
			if err != nil {
				return nil, fmt.Errorf("spec.dataFrom[%d].extract: key %q: %w", i, d.Extract.Key, err)
			}
			if d.Extract.Property != "" {
				v, err := Property(m, d.Extract.Key, d.Extract.Property)
				if err != nil {
					return nil, fmt.Errorf("spec.dataFrom[%d].extract: %w", i, err)
				}
				if m, err = jsonObject(v); err != nil {
					return nil, fmt.Errorf("spec.dataFrom[%d].extract: key %q property %q: %w", i, d.Extract.Key, d.Extract.Property, err)
				}
			}
			for k, v := range m {
				if out[k], err = decode(v, d.Extract.DecodingStrategy); err != nil {
					return nil, fmt.Errorf("spec.dataFrom[%d].extract: key %q property %q: %w", i, d.Extract.Key, k, err)
				}
			}
			continue
		}
		keys, err := store.List(ctx, d.Find.Path)
		if err != nil {
			return nil, fmt.Errorf("spec.dataFrom[%d].find: list %q: %w", i, d.Find.Path, err)
		}
		re := regexp.MustCompile(d.Find.Name.RegExp) // checked by validate
		for _, key := range keys {
			if !re.MatchString(key) {
				continue
			}
			m, err := read(ctx, store, key)
			if err != nil {
				return nil, fmt.Errorf("spec.dataFrom[%d].find: key %q: %w", i, key, err)
			}
			v, err := Property(m, key, "")
			if err != nil {
				return nil, fmt.Errorf("spec.dataFrom[%d].find: %w", i, err)
			}
			name := strings.ReplaceAll(strings.TrimPrefix(key, "/"), "/", "_") // ESO's default key conversion
			if out[name], err = decode(v, d.Find.DecodingStrategy); err != nil {
				return nil, fmt.Errorf("spec.dataFrom[%d].find: key %q: %w", i, key, err)
			}
		}
	}
	for i, d := range es.Spec.Data {
		m, err := read(ctx, store, versioned(d.RemoteRef.Key, d.RemoteRef.Version))
		if err != nil {
			return nil, fmt.Errorf("spec.data[%d] (%s): key %q: %w", i, d.SecretKey, d.RemoteRef.Key, err)
		}
		v, err := Property(m, d.RemoteRef.Key, d.RemoteRef.Property)
		if err != nil {
			return nil, fmt.Errorf("spec.data[%d] (%s): %w", i, d.SecretKey, err)
		}
		if out[d.SecretKey], err = decode(v, d.RemoteRef.DecodingStrategy); err != nil {
			return nil, fmt.Errorf("spec.data[%d] (%s): %w", i, d.SecretKey, err)
		}
	}
	return out, nil
}

func versioned(key, version string) string {
	if version == "" {
		return key
	}
	return key + "?version=" + version
}

// jsonObject reads a property holding a JSON object as a map, as ESO's
// extract with a property does.
func jsonObject(v []byte) (map[string][]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(v, &obj); err != nil || obj == nil {
		return nil, errors.New("the property is not a JSON object")
	}
	out := make(map[string][]byte, len(obj))
	for k, raw := range obj {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out[k] = []byte(s)
			continue
		}
		out[k] = []byte(raw) // numbers, booleans and nested values as their JSON text
	}
	return out, nil
}

func decode(v []byte, strategy string) ([]byte, error) {
	switch strategy {
	case "", "None":
		return v, nil
	case "Base64":
		return decodeWith(base64.StdEncoding, v, "base64")
	case "Base64URL":
		return decodeWith(base64.URLEncoding, v, "base64url")
	default: // Auto: decode when it decodes, as ESO does
		if d, err := base64.StdEncoding.DecodeString(string(v)); err == nil {
			return d, nil
		}
		if d, err := base64.URLEncoding.DecodeString(string(v)); err == nil {
			return d, nil
		}
		return v, nil
	}
}

func decodeWith(enc *base64.Encoding, v []byte, name string) ([]byte, error) {
	d, err := enc.DecodeString(string(v))
	if err != nil {
		return nil, fmt.Errorf("the value is not %s", name)
	}
	return d, nil
}

// secret builds the Secret from the values read.
func (es *ExternalSecret) secret(values map[string][]byte) (*unstructured.Unstructured, error) {
	t := es.Spec.Target
	name := t.Name
	if name == "" {
		name = es.Name
	}
	s := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret"}}
	s.SetName(name)
	s.SetNamespace(es.Namespace)
	typ := "Opaque"
	data := values
	if tpl := t.Template; tpl != nil {
		if tpl.Type != "" {
			typ = tpl.Type
		}
		if len(tpl.Metadata.Labels) > 0 {
			s.SetLabels(maps.Clone(tpl.Metadata.Labels))
		}
		if len(tpl.Metadata.Annotations) > 0 {
			s.SetAnnotations(maps.Clone(tpl.Metadata.Annotations))
		}
		if len(tpl.Data) > 0 {
			rendered, err := executeTemplates(tpl.Data, values)
			if err != nil {
				return nil, err
			}
			if tpl.MergePolicy == "Merge" {
				data = maps.Clone(values)
				maps.Copy(data, rendered)
			} else {
				data = rendered
			}
		}
	}
	if t.CreationPolicy == "Orphan" {
		a := s.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		a[object.AnnotationPrune] = "disabled"
		s.SetAnnotations(a)
	}
	s.Object["type"] = typ
	if t.Immutable {
		s.Object["immutable"] = true
	}
	encoded := make(map[string]any, len(data))
	for _, k := range slices.Sorted(maps.Keys(data)) {
		encoded[k] = base64.StdEncoding.EncodeToString(data[k])
	}
	s.Object["data"] = encoded
	return s, nil
}

// templateFuncs are the functions data templates may call: a subset of
// ESO's engine v2 (Sprig's encoding and string functions).
var templateFuncs = template.FuncMap{
	"b64enc": func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
	"b64dec": func(s string) (string, error) {
		d, err := base64.StdEncoding.DecodeString(s)
		return string(d), errBase64(err)
	},
	"upper":     strings.ToUpper,
	"lower":     strings.ToLower,
	"trim":      strings.TrimSpace,
	"trimAll":   func(cut, s string) string { return strings.Trim(s, cut) },
	"replace":   func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
	"quote":     func(s string) string { return fmt.Sprintf("%q", s) },
	"squote":    func(s string) string { return "'" + s + "'" },
	"default":   func(d, s string) string { return cmpOr(s, d) },
	"toString":  func(s string) string { return s },
	"hasPrefix": func(p, s string) bool { return strings.HasPrefix(s, p) },
	"hasSuffix": func(p, s string) bool { return strings.HasSuffix(s, p) },
}

func errBase64(err error) error {
	if err != nil {
		return errors.New("b64dec: the value is not base64")
	}
	return nil
}

func cmpOr(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func parseTemplates(data map[string]string) (map[string]*template.Template, error) {
	out := make(map[string]*template.Template, len(data))
	for k, text := range data {
		t, err := template.New(k).Option("missingkey=error").Funcs(templateFuncs).Parse(text)
		if err != nil {
			// The parse error quotes the template, which holds no value.
			return nil, fmt.Errorf("spec.target.template.data.%s: %w", k, err)
		}
		out[k] = t
	}
	return out, nil
}

func executeTemplates(data map[string]string, values map[string][]byte) (map[string][]byte, error) {
	templates, err := parseTemplates(data)
	if err != nil {
		return nil, err
	}
	vars := make(map[string]string, len(values))
	for k, v := range values {
		vars[k] = string(v)
	}
	out := make(map[string][]byte, len(templates))
	for k, t := range templates {
		var buf bytes.Buffer
		if err := t.Execute(&buf, vars); err != nil {
			// Execution errors can quote values (a failing function's
			// argument): name the key alone.
			return nil, fmt.Errorf("spec.target.template.data.%s: the template fails on the values read", k)
		}
		out[k] = buf.Bytes()
	}
	return out, nil
}

// ExternalSecretsOptions are the settings of [ExternalSecrets].
type ExternalSecretsOptions struct {
	// KeepStores keeps SecretStore and ClusterSecretStore objects in the
	// set. By default they are dropped: converge reads the stores, so a
	// cluster without the External Secrets CRDs needs none of them.
	KeepStores bool
	// Now is the clock refresh intervals are measured by; time.Now by
	// default.
	Now func() time.Time
}

// ExternalSecrets returns a render.Processor that replaces each
// ExternalSecret in the set with the Secret it makes, reading values
// through stores, for clusters that run no External Secrets Operator.
// Values are reused across calls for each ExternalSecret's
// refreshInterval (one hour by default, "0" for as long as the processor
// lives), so a steady loop costs the store no requests. It fails closed:
// an ExternalSecret that cannot be read fails the render (unless its
// deletion policy is Delete and the value is gone: then its Secret is
// left out and pruned). Safe for concurrent use.
func ExternalSecrets(stores Stores, opts ExternalSecretsOptions) render.Processor {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := &externalSecrets{stores: stores, opts: opts, cache: map[string]cachedEntry{}}
	return render.ProcessorFunc(p.process)
}

type externalSecrets struct {
	stores Stores
	opts   ExternalSecretsOptions
	mu     sync.Mutex
	cache  map[string]cachedEntry
}

type cachedEntry struct {
	values  map[string][]byte
	fetched time.Time
}

func (p *externalSecrets) process(ctx context.Context, set *object.Set) (*object.Set, error) {
	out := object.NewSet()
	for id, obj := range set.All() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		source := set.Source(id)
		gvk := obj.GroupVersionKind()
		if gvk.Group == ExternalSecretsGroup && (gvk.Kind == "SecretStore" || gvk.Kind == "ClusterSecretStore") && !p.opts.KeepStores {
			continue
		}
		if !IsExternalSecret(obj) {
			if err := out.Add(obj, source); err != nil {
				return nil, &render.Error{Path: source, Err: err}
			}
			continue
		}
		es, err := ParseExternalSecret(obj)
		if err != nil {
			return nil, &render.Error{Path: source, Err: err}
		}
		interval, _ := es.refreshInterval() // checked by ParseExternalSecret
		secret, err := es.render(ctx, p.stores, p.reader(es, interval))
		if err != nil {
			return nil, &render.Error{Path: source, Err: err}
		}
		if secret == nil {
			continue
		}
		if err := out.Add(secret, source); err != nil {
			return nil, &render.Error{Path: source, Err: fmt.Errorf("ExternalSecret %s/%s: %w", es.Namespace, es.Name, err)}
		}
	}
	return out, nil
}

// reader reads through the cache, keyed by the ExternalSecret's store and
// the key, so two ExternalSecrets of one entry share one read.
func (p *externalSecrets) reader(es *ExternalSecret, interval time.Duration) reader {
	ref := es.Spec.SecretStoreRef
	scope := es.Namespace
	if ref.StoreKind() == "ClusterSecretStore" {
		scope = ""
	}
	return func(ctx context.Context, store Provider, key string) (map[string][]byte, error) {
		cacheKey := scope + "\x00" + ref.String() + "\x00" + key
		now := p.opts.Now()
		p.mu.Lock()
		e, ok := p.cache[cacheKey]
		p.mu.Unlock()
		if ok && (interval == 0 || now.Sub(e.fetched) < interval) {
			return e.values, nil
		}
		m, err := store.Map(ctx, key)
		if err != nil {
			return nil, err
		}
		p.mu.Lock()
		p.cache[cacheKey] = cachedEntry{values: m, fetched: now}
		p.mu.Unlock()
		return m, nil
	}
}
