package vault

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/converge-dev/converge/secrets"
)

// Defaults of the options.
const (
	// DefaultMount is the path of the KV version 2 engine a dev server
	// and most installations mount.
	DefaultMount = "secret"
	// DefaultTimeout bounds each call.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxResponseBytes bounds each answer (4 MiB).
	DefaultMaxResponseBytes = 4 << 20
)

// Bounds on List, against a store (or a server posing as one) that never
// ends.
const (
	maxListDepth = 32
	maxListKeys  = 100_000
)

// Provider reads a KV version 2 secrets engine of one Vault. It is safe
// for concurrent use; it caches nothing but the Auth's token.
type Provider struct {
	addr      string // as given, for errors
	base      *url.URL
	auth      Auth
	mount     string
	namespace string
	client    *http.Client
	timeout   time.Duration
	maxBytes  int64
	log       logr.Logger
}

var _ secrets.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*settings)

type settings struct {
	mount     string
	namespace string
	client    *http.Client
	caPEM     []byte
	timeout   time.Duration
	maxBytes  int64
	log       logr.Logger
}

// WithMount sets the path of the KV version 2 engine; DefaultMount
// ("secret") when not given. Nested mounts ("team/kv") work.
func WithMount(mount string) Option { return func(s *settings) { s.mount = mount } }

// WithNamespace sends every request, logins included, to a Vault
// Enterprise namespace (the X-Vault-Namespace header).
func WithNamespace(ns string) Option { return func(s *settings) { s.namespace = ns } }

// WithHTTPClient sends requests through c instead of a client of the
// Provider's own. The Provider uses a copy of c that refuses a redirect to
// another host (the token travels in a header Go does not strip).
func WithHTTPClient(c *http.Client) Option { return func(s *settings) { s.client = c } }

// WithCACert trusts the PEM certificates in pem (instead of the system's
// roots) for an https address. It cannot be combined with WithHTTPClient.
func WithCACert(pem []byte) Option { return func(s *settings) { s.caPEM = pem } }

// WithTimeout bounds each call (a read, or a whole List, logins included);
// DefaultTimeout when not given, none when d <= 0. A call's context may end
// it sooner.
func WithTimeout(d time.Duration) Option { return func(s *settings) { s.timeout = d } }

// WithMaxResponseBytes bounds the size of each answer Vault sends;
// DefaultMaxResponseBytes (4 MiB) when not given. A larger answer fails
// with ErrTooLarge.
func WithMaxResponseBytes(n int64) Option { return func(s *settings) { s.maxBytes = n } }

// WithLogger logs logins and retries at V(1); nothing is logged by
// default. No token or value is ever logged.
func WithLogger(l logr.Logger) Option { return func(s *settings) { s.log = l } }

// New returns a Provider for the Vault at address ("https://vault:8200";
// a path after the host is kept, for a Vault behind a path prefix),
// authenticating with auth.
func New(address string, auth Auth, opts ...Option) (*Provider, error) {
	s := settings{mount: DefaultMount, timeout: DefaultTimeout, maxBytes: DefaultMaxResponseBytes, log: logr.Discard()}
	for _, o := range opts {
		o(&s)
	}
	u, err := url.Parse(address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("vault: address %q is not an http(s)://host[:port] URL", address)
	}
	if auth == nil {
		return nil, fmt.Errorf("vault %s: no Auth", address)
	}
	mount := strings.Trim(s.mount, "/")
	if m, err := cleanPath(mount); err != nil || m == "" {
		return nil, fmt.Errorf("vault %s: mount %q is not a path", address, s.mount)
	}
	if s.maxBytes <= 0 {
		return nil, fmt.Errorf("vault %s: max response bytes must be positive", address)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	client, err := httpClient(s, u)
	if err != nil {
		return nil, fmt.Errorf("vault %s: %w", address, err)
	}
	return &Provider{
		addr:      address,
		base:      u,
		auth:      auth,
		mount:     mount,
		namespace: strings.Trim(s.namespace, "/"),
		client:    client,
		timeout:   s.timeout,
		maxBytes:  s.maxBytes,
		log:       s.log,
	}, nil
}

func httpClient(s settings, base *url.URL) (*http.Client, error) {
	var c http.Client
	switch {
	case s.client != nil && s.caPEM != nil:
		return nil, errors.New("WithCACert and WithHTTPClient both given: set the CA in the client's transport")
	case s.client != nil:
		c = *s.client
	case s.caPEM != nil:
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(s.caPEM) {
			return nil, errors.New("WithCACert: no PEM certificate found")
		}
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		c.Transport = t
	}
	next := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Scheme != base.Scheme || req.URL.Host != base.Host {
			return fmt.Errorf("refused a redirect to %s://%s, another host", req.URL.Scheme, req.URL.Host)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 5 {
			return errors.New("stopped after 5 redirects")
		}
		return nil
	}
	return &c, nil
}

// Map returns every property of the secret at key: "app/db" (a path under
// the mount), or "secret/data/app/db" (the mount and KV version 2's
// "data/", as the Vault API and argocd-vault-plugin write it). A
// "?version=N" suffix reads version N instead of the latest.
func (p *Provider) Map(ctx context.Context, key string) (map[string][]byte, error) {
	r, err := parseKey(key, p.mount)
	if err != nil {
		return nil, p.fail("read", key, 0, err)
	}
	ctx, cancel := p.withTimeout(ctx)
	defer cancel()
	path := p.mount + "/data/" + r.path
	var q url.Values
	if r.version > 0 {
		q = url.Values{"version": {strconv.FormatInt(r.version, 10)}}
	}
	var out map[string][]byte
	status, err := p.authorized(ctx, http.MethodGet, path, q, func(a answer, hide []string) (err error) {
		out, err = decodeRead(a, hide)
		return err
	})
	if err != nil {
		return nil, p.fail("read", key, status, err)
	}
	return out, nil
}

// Value returns one property of the secret at key (see Map for the
// forms of key). An empty property asks for the secret's only property.
// A property is a top-level name of the secret's data; a nested value
// comes back as its JSON text.
func (p *Provider) Value(ctx context.Context, key, property string) ([]byte, error) {
	m, err := p.Map(ctx, key)
	if err != nil {
		return nil, err
	}
	v, err := secrets.Property(m, key, property)
	if err != nil {
		return nil, p.fail("read", key, 0, err)
	}
	return v, nil
}

// List returns every secret under the folder prefix, recursively, as keys
// Map reads ("app/db"), sorted. prefix is a folder under the mount: ""
// (the whole mount), "app" or "app/", also written "secret/metadata/app".
// It sends one request per folder (GET with list=true, which Vault serves
// as LIST, on /v1/<mount>/metadata/<folder>); an empty or missing folder
// is an empty list. The token needs "list" on the metadata paths.
func (p *Provider) List(ctx context.Context, prefix string) ([]string, error) {
	folder, err := parsePrefix(prefix, p.mount)
	if err != nil {
		return nil, p.fail("list", prefix, 0, err)
	}
	ctx, cancel := p.withTimeout(ctx)
	defer cancel()
	var keys []string
	if status, err := p.list(ctx, folder, 0, &keys); err != nil {
		return nil, p.fail("list", prefix, status, err)
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

func (p *Provider) list(ctx context.Context, folder string, depth int, keys *[]string) (int, error) {
	if depth > maxListDepth {
		return 0, fmt.Errorf("folders nested deeper than %d", maxListDepth)
	}
	path := p.mount + "/metadata"
	if folder != "" {
		path += "/" + folder
	}
	var names []string
	status, err := p.authorized(ctx, http.MethodGet, path+"/", url.Values{"list": {"true"}}, func(a answer, hide []string) (err error) {
		names, err = decodeList(a, hide)
		return err
	})
	if err != nil {
		return status, err
	}
	for _, name := range names {
		sub, isFolder := strings.CutSuffix(name, "/")
		if _, err := cleanPath(sub); err != nil || sub == "" || strings.Contains(sub, "/") {
			return status, fmt.Errorf("%w: folder %q lists a bad name", ErrBadResponse, folder)
		}
		full := sub
		if folder != "" {
			full = folder + "/" + sub
		}
		if !isFolder {
			*keys = append(*keys, full)
		} else if status, err := p.list(ctx, full, depth+1, keys); err != nil {
			return status, err
		}
		if len(*keys) > maxListKeys {
			return status, fmt.Errorf("more than %d keys", maxListKeys)
		}
	}
	return status, nil
}

func (p *Provider) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if p.timeout > 0 {
		return context.WithTimeout(ctx, p.timeout)
	}
	return context.WithCancel(ctx)
}

// fail wraps err as the *Error of op on key.
func (p *Provider) fail(op, key string, status int, err error) error {
	var e *Error
	if errors.As(err, &e) && e.Op == "login" {
		// A login failed on the way to the read: keep the login's status
		// and say what it was for.
		return &Error{Address: p.addr, Op: op, Key: key, Status: e.Status, Err: fmt.Errorf("login at auth/%s: %w", e.Key, e.Err)}
	}
	return &Error{Address: p.addr, Op: op, Key: key, Status: status, Err: err}
}

// authorized sends a request with the Auth's token and decodes the answer.
// On a 403 from an Auth that can invalidate its token, it retries once
// with a fresh one.
func (p *Provider) authorized(ctx context.Context, method, path string, q url.Values, decode func(answer, []string) error) (int, error) {
	for attempt := 0; ; attempt++ {
		token, err := p.auth.Token(ctx, p.login)
		if err != nil {
			return 0, err
		}
		a, err := p.send(ctx, method, path, q, token, nil)
		if err != nil {
			return 0, err
		}
		if a.status == http.StatusForbidden && attempt == 0 {
			if inv, ok := p.auth.(Invalidator); ok {
				inv.Invalidate(token)
				p.log.V(1).Info("vault refused the token; logging in again", "address", p.addr, "path", path)
				continue
			}
		}
		return a.status, decode(a, []string{token})
	}
}

// login implements Login for the Provider's Vault.
func (p *Provider) login(ctx context.Context, mount string, body any) (Lease, error) {
	m, err := cleanPath(strings.Trim(mount, "/"))
	if err != nil || m == "" {
		return Lease{}, &Error{Address: p.addr, Op: "login", Key: mount, Err: fmt.Errorf("auth mount: %w", ErrInvalidKey)}
	}
	data, err := json.Marshal(body)
	if err != nil {
		return Lease{}, &Error{Address: p.addr, Op: "login", Key: mount, Err: errors.New("cannot encode the login request")}
	}
	a, err := p.send(ctx, http.MethodPost, "auth/"+m+"/login", nil, "", data)
	if err != nil {
		return Lease{}, &Error{Address: p.addr, Op: "login", Key: mount, Err: err}
	}
	lease, err := decodeLogin(a, loginSecrets(body))
	if err != nil {
		return Lease{}, &Error{Address: p.addr, Op: "login", Key: mount, Status: a.status, Err: err}
	}
	p.log.V(1).Info("logged in to vault", "address", p.addr, "mount", m, "ttl", lease.TTL)
	return lease, nil
}

// loginSecrets lists the string values of a login body (a JWT, a
// password), which no error may carry.
func loginSecrets(body any) []string {
	var out []string
	if m, ok := body.(map[string]string); ok {
		for _, v := range m {
			out = append(out, v)
		}
	}
	return out
}

// send sends one request and reads its answer within the size bound. Its
// errors are the network's, the context's, or ErrTooLarge; they name no
// URL (the caller's *Error names the address and key).
func (p *Provider) send(ctx context.Context, method, path string, q url.Values, token string, body []byte) (answer, error) {
	u := *p.base
	u.Path = p.base.Path + "/v1/" + path
	u.RawPath = p.base.Path + "/v1/" + escapePath(path)
	if strings.HasSuffix(path, "/") {
		u.RawPath += "/"
	}
	u.RawQuery = q.Encode()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), r)
	if err != nil {
		return answer{}, errors.New("cannot build the request")
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	if p.namespace != "" {
		req.Header.Set("X-Vault-Namespace", p.namespace)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return answer{}, transportError(ctx, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, p.maxBytes+1))
	if err != nil {
		return answer{}, fmt.Errorf("%d answer cut short: %w", resp.StatusCode, transportError(ctx, err))
	}
	if int64(len(data)) > p.maxBytes {
		return answer{}, fmt.Errorf("%w: %d answer over %d bytes", ErrTooLarge, resp.StatusCode, p.maxBytes)
	}
	return answer{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: data}, nil
}

// transportError drops the URL *url.Error adds (the caller names the
// address and key) and marks the error ErrUnavailable, keeping the cause
// (context.DeadlineExceeded, a *net.OpError, syscall.ECONNREFUSED) for
// errors.Is and errors.As.
func transportError(ctx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
