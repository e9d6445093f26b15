package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"

	"github.com/converge-dev/converge/secrets"
)

// DefaultNamespace is the namespace of a key without one, unless
// [WithNamespace] sets another (External Secrets' default as well).
const DefaultNamespace = "default"

// ErrNamespaceRefused: the key names a namespace the Provider may not read
// ([WithAllowedNamespaces]). No request was sent.
var ErrNamespaceRefused = errors.New("namespace not allowed")

// ErrForbidden: the API server refused the client (HTTP 403 or 401).
var ErrForbidden = errors.New("forbidden by the API server")

// ErrInvalidKey: the key is not "name" or "namespace/name" with valid
// Kubernetes names.
var ErrInvalidKey = errors.New("invalid key")

// Provider reads Kubernetes Secrets through a typed client. It is safe for
// concurrent use and holds no state beyond its options.
type Provider struct {
	client    kubernetes.Interface
	name      string
	namespace string
	allowed   []string // nil: every namespace
	pageSize  int64
}

var _ secrets.Provider = (*Provider)(nil)

// Option configures a [Provider].
type Option func(*Provider)

// WithNamespace sets the namespace of keys and list prefixes that name
// none; [DefaultNamespace] when not set.
func WithNamespace(namespace string) Option {
	return func(p *Provider) { p.namespace = namespace }
}

// WithAllowedNamespaces confines reads and lists to namespaces; any other
// fails with [ErrNamespaceRefused]. Without it every namespace the client
// may read is open. Calling it with no namespaces refuses every read.
func WithAllowedNamespaces(namespaces ...string) Option {
	return func(p *Provider) { p.allowed = append([]string{}, namespaces...) }
}

// WithName names the store in errors ("kube" when not set), so that a host
// with several clusters can tell them apart.
func WithName(name string) Option {
	return func(p *Provider) { p.name = name }
}

// New returns a Provider reading Secrets through client, which may reach
// any cluster with any identity; its RBAC is the Provider's limit.
func New(client kubernetes.Interface, opts ...Option) *Provider {
	p := &Provider{client: client, name: "kube", namespace: DefaultNamespace, pageSize: 500}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Map returns the data of the Secret at key ("namespace/name" or "name").
// The map is the caller's; it is empty, not nil, for a Secret without data.
func (p *Provider) Map(ctx context.Context, key string) (map[string][]byte, error) {
	ns, name, err := parseKey(key, p.namespace)
	if err != nil {
		return nil, fmt.Errorf("%s: key %q: %w", p.name, key, err)
	}
	if err := p.allow(ns); err != nil {
		return nil, fmt.Errorf("%s: secret %s/%s: %w", p.name, ns, name, err)
	}
	s, err := p.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: get secret %s/%s: %w", p.name, ns, name, classify(err))
	}
	if s.Data == nil {
		return map[string][]byte{}, nil
	}
	return s.Data, nil
}

// Value returns one property (data key) of the Secret at key; an empty
// property takes the Secret's only one.
func (p *Provider) Value(ctx context.Context, key, property string) ([]byte, error) {
	m, err := p.Map(ctx, key)
	if err != nil {
		return nil, err
	}
	v, err := secrets.Property(m, key, property)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.name, err)
	}
	return v, nil
}

// List returns the names of the Secrets whose name starts with prefix, in
// the default namespace, sorted. A prefix "namespace/" or
// "namespace/start" lists that namespace and returns keys of the same form
// ("namespace/name"), so each one can be passed to Map.
func (p *Provider) List(ctx context.Context, prefix string) ([]string, error) {
	ns, start, qualified := p.namespace, prefix, false
	if i := strings.IndexByte(prefix, '/'); i >= 0 {
		ns, start, qualified = prefix[:i], prefix[i+1:], true
	}
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return nil, fmt.Errorf("%s: list prefix %q: namespace %q: %s: %w", p.name, prefix, ns, errs[0], ErrInvalidKey)
	}
	if strings.Contains(start, "/") {
		return nil, fmt.Errorf("%s: list prefix %q: more than one \"/\": %w", p.name, prefix, ErrInvalidKey)
	}
	if err := p.allow(ns); err != nil {
		return nil, fmt.Errorf("%s: list secrets in %s: %w", p.name, ns, err)
	}
	var keys []string
	opts := metav1.ListOptions{Limit: p.pageSize}
	for {
		list, err := p.client.CoreV1().Secrets(ns).List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: list secrets in %s: %w", p.name, ns, classify(err))
		}
		for i := range list.Items {
			name := list.Items[i].Name
			if !strings.HasPrefix(name, start) {
				continue
			}
			if qualified {
				name = ns + "/" + name
			}
			keys = append(keys, name)
		}
		if list.Continue == "" {
			break
		}
		opts.Continue = list.Continue
	}
	slices.Sort(keys)
	return keys, nil
}

// allow refuses a namespace outside the allowed set.
func (p *Provider) allow(ns string) error {
	if p.allowed == nil || slices.Contains(p.allowed, ns) {
		return nil
	}
	return fmt.Errorf("namespace %q is not among the %d allowed: %w", ns, len(p.allowed), ErrNamespaceRefused)
}

// classify adds the sentinel callers branch on to an API error, keeping
// the API error itself (its text is the server's status message, which
// names the object and the user, never data).
func classify(err error) error {
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%w: %w", secrets.ErrNotFound, err)
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		return fmt.Errorf("%w: %w", ErrForbidden, err)
	}
	return err
}

// parseKey splits "namespace/name" or "name" (in namespace def) and checks
// both parts are valid Kubernetes names: a namespace is a DNS-1123 label,
// a Secret's name a DNS-1123 subdomain.
func parseKey(key, def string) (namespace, name string, err error) {
	namespace, name = def, key
	if i := strings.IndexByte(key, '/'); i >= 0 {
		namespace, name = key[:i], key[i+1:]
		if namespace == "" {
			return "", "", fmt.Errorf("empty namespace: %w", ErrInvalidKey)
		}
	}
	if name == "" {
		return "", "", fmt.Errorf("empty name: %w", ErrInvalidKey)
	}
	if strings.Contains(name, "/") {
		return "", "", fmt.Errorf("more than one \"/\": %w", ErrInvalidKey)
	}
	if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
		return "", "", fmt.Errorf("namespace %q: %s: %w", namespace, errs[0], ErrInvalidKey)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return "", "", fmt.Errorf("name %q: %s: %w", name, errs[0], ErrInvalidKey)
	}
	return namespace, name, nil
}
