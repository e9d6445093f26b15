package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"text/template"
	"time"

	"github.com/converge-dev/converge/secrets"
)

// Defaults of a Provider's options.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultMaxBodySize = 1 << 20 // 1 MiB
)

// ErrTooLarge: the answer's body exceeds the maximum size
// ([WithMaxBodySize]).
var ErrTooLarge = errors.New("the answer exceeds the maximum body size")

// ErrInvalidKey: the key is empty, "." or "..".
var ErrInvalidKey = errors.New("invalid key")

// StatusError is an answer with a status outside 2xx. Its text names the
// status only: the body is never read into an error.
type StatusError struct {
	// StatusCode is the HTTP status code.
	StatusCode int
	// NotFound is true for a status listed in [WithNotFoundStatus]; the
	// error then wraps secrets.ErrNotFound.
	NotFound bool
}

// Error names the status: "answered 503 Service Unavailable".
func (e *StatusError) Error() string {
	return fmt.Sprintf("answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
}

// Unwrap returns secrets.ErrNotFound for a not-found status, else nil.
func (e *StatusError) Unwrap() error {
	if e.NotFound {
		return secrets.ErrNotFound
	}
	return nil
}

// Provider reads entries from an HTTP endpoint that answers JSON. It is
// safe for concurrent use; it caches nothing.
type Provider struct {
	url         *template.Template
	body        *template.Template // nil: no body
	method      string
	headers     []header
	resultPath  path
	timeout     time.Duration
	maxBody     int64
	client      *http.Client
	notFound    []int
	contentType string
}

var _ secrets.Provider = (*Provider)(nil)

// header is a request header, its value fixed or asked for per request.
type header struct {
	name  string
	value string
	fn    func(context.Context) (string, error)
}

// Option configures a [Provider].
type Option func(*Provider) error

// WithMethod sets the request method: "GET" (the default) or "POST".
func WithMethod(method string) Option {
	return func(p *Provider) error {
		switch method {
		case http.MethodGet, http.MethodPost:
			p.method = method
			return nil
		}
		return fmt.Errorf("method %q: want GET or POST", method)
	}
}

// WithBody sets the body template of a POST (it sets the method to
// POST). It is a text/template for a JSON document: {{ .key }} is the key
// escaped for use inside a JSON string, so '{"key": "{{ .key }}"}' is
// safe whatever the key holds. The Content-Type is application/json unless
// a header sets another.
func WithBody(tmpl string) Option {
	return func(p *Provider) error {
		t, err := template.New("body").Option("missingkey=error").Parse(tmpl)
		if err != nil {
			return fmt.Errorf("body template: %w", err)
		}
		p.body, p.method = t, http.MethodPost
		return nil
	}
}

// WithHeader adds a request header with a fixed value, such as
// "Authorization": "Bearer …". Header values are treated as secrets: no
// error or log names them.
func WithHeader(name, value string) Option {
	return func(p *Provider) error {
		if err := checkHeader(name, value); err != nil {
			return err
		}
		p.headers = append(p.headers, header{name: name, value: value})
		return nil
	}
}

// WithHeaderFunc adds a request header whose value fn returns for each
// request, for credentials that rotate. An error from fn fails the read;
// its text is the host's and is passed on as it is.
func WithHeaderFunc(name string, fn func(ctx context.Context) (string, error)) Option {
	return func(p *Provider) error {
		if err := checkHeader(name, ""); err != nil {
			return err
		}
		if fn == nil {
			return fmt.Errorf("header %q: nil function", name)
		}
		p.headers = append(p.headers, header{name: name, fn: fn})
		return nil
	}
}

// WithResultPath selects the part of the answer that holds the entry:
// "" or "$" (the default) is the whole document; a path starting with "/"
// is a JSON Pointer (RFC 6901, "/data/db~1main"); any other is a dotted
// path as JSONPath writes simple ones ("$.data", "data.secret",
// "$.items[0].value"; no wildcards, filters or quoted names). A path that
// does not exist in an answer wraps secrets.ErrNotFound.
//
// An object result is the entry: its fields are the properties, a string
// field as its text, any other as its compact JSON. A scalar result is a
// single value, which Value returns for an empty property.
func WithResultPath(p string) Option {
	return func(pr *Provider) error {
		parsed, err := parsePath(p)
		if err != nil {
			return err
		}
		pr.resultPath = parsed
		return nil
	}
}

// WithTimeout bounds each request, body included; [DefaultTimeout] when
// not set. A context's earlier deadline wins.
func WithTimeout(d time.Duration) Option {
	return func(p *Provider) error {
		if d <= 0 {
			return fmt.Errorf("timeout %s: want a positive duration", d)
		}
		p.timeout = d
		return nil
	}
}

// WithMaxBodySize bounds the answer's body; [DefaultMaxBodySize] when not
// set. A longer body fails with [ErrTooLarge].
func WithMaxBodySize(n int64) Option {
	return func(p *Provider) error {
		if n <= 0 {
			return fmt.Errorf("max body size %d: want a positive size", n)
		}
		p.maxBody = n
		return nil
	}
}

// WithHTTPClient sets the client that sends requests (its transport holds
// TLS settings, proxies, client certificates, redirect policy). When not
// set, the default transport is used and redirects are not followed: a
// 3xx answer is a [StatusError], so credentials go to no other URL. The Provider's timeout applies on top of the client's own.
func WithHTTPClient(c *http.Client) Option {
	return func(p *Provider) error {
		if c == nil {
			return errors.New("nil http.Client")
		}
		p.client = c
		return nil
	}
}

// WithNotFoundStatus makes answers with these statuses (typically 404)
// mean the key does not exist: their [StatusError] wraps
// secrets.ErrNotFound. Without it every non-2xx answer is a failure, so a
// mistyped URL is never taken for a missing key.
func WithNotFoundStatus(codes ...int) Option {
	return func(p *Provider) error {
		p.notFound = append(p.notFound, codes...)
		return nil
	}
}

// New returns a Provider that reads the entry of a key from the URL
// urlTemplate makes of it. The template is a text/template in which
// {{ .key }} is the key percent-escaped as one path segment (every byte
// outside A-Z a-z 0-9 - . _ ~ is escaped, "/" included), so it is safe in
// a path or a query: "https://secrets.example/v1/{{ .key }}". The URL must
// be http or https. Put credentials in a header, not in the URL's path:
// errors redact the URL's user information and query, but show its path.
func New(urlTemplate string, opts ...Option) (*Provider, error) {
	t, err := template.New("url").Option("missingkey=error").Parse(urlTemplate)
	if err != nil {
		return nil, fmt.Errorf("webhook: URL template: %w", err)
	}
	p := &Provider{url: t, method: http.MethodGet, timeout: DefaultTimeout, maxBody: DefaultMaxBodySize, client: noRedirects}
	for _, o := range opts {
		if err := o(p); err != nil {
			return nil, fmt.Errorf("webhook: %w", err)
		}
	}
	if p.body != nil && p.method == http.MethodGet {
		return nil, errors.New("webhook: a body template needs POST, not GET")
	}
	if p.body == nil && p.method == http.MethodPost {
		p.body = template.Must(template.New("body").Parse(""))
	}
	// Render a sample key, so a bad template fails here, not on first use.
	if _, err := p.requestURL("key"); err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	if p.body != nil {
		if _, err := p.requestBody("key"); err != nil {
			return nil, fmt.Errorf("webhook: %w", err)
		}
	}
	return p, nil
}

// Map returns the fields of the object the result path selects in the
// answer for key.
func (p *Provider) Map(ctx context.Context, key string) (map[string][]byte, error) {
	r, where, err := p.fetch(ctx, key)
	if err != nil {
		return nil, err
	}
	if r.fields == nil {
		return nil, fmt.Errorf("%s: key %q: result path %q selects a %s: %w", where, key, p.resultPath.text, r.kind, ErrNotObject)
	}
	return r.fields, nil
}

// Value returns property of the entry at key. An empty property takes the
// result itself when it is a scalar, or the object's only field.
func (p *Provider) Value(ctx context.Context, key, property string) ([]byte, error) {
	r, where, err := p.fetch(ctx, key)
	if err != nil {
		return nil, err
	}
	if r.fields == nil {
		if property == "" {
			return r.value, nil
		}
		return nil, fmt.Errorf("%s: key %q: result path %q selects a %s, which has no property %q: %w", where, key, p.resultPath.text, r.kind, property, ErrNotObject)
	}
	v, err := secrets.Property(r.fields, key, property)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return v, nil
}

// List returns secrets.ErrListUnsupported: a webhook answers for one key.
func (p *Provider) List(ctx context.Context, prefix string) ([]string, error) {
	return nil, fmt.Errorf("webhook: %w", secrets.ErrListUnsupported)
}

// noRedirects is the default client: it returns a redirect as the answer.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// requestURL renders the URL template for key and checks the result.
func (p *Provider) requestURL(key string) (*url.URL, error) {
	var b strings.Builder
	if err := p.url.Execute(&b, map[string]string{"key": escapeKey(key)}); err != nil {
		return nil, fmt.Errorf("URL template: %w", err)
	}
	u, err := url.Parse(b.String())
	if err != nil {
		// url.Parse quotes the whole URL, credentials included.
		return nil, errors.New("the URL template renders an unparsable URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("URL %s: scheme %q: want http or https", redact(u), u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("URL %s: no host", redact(u))
	}
	return u, nil
}

// requestBody renders the body template for key.
func (p *Provider) requestBody(key string) (string, error) {
	var b strings.Builder
	if err := p.body.Execute(&b, map[string]string{"key": jsonEscape(key)}); err != nil {
		return "", fmt.Errorf("body template: %w", err)
	}
	return b.String(), nil
}

// escapeKey percent-escapes every byte but RFC 3986's unreserved ones.
func escapeKey(key string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// jsonEscape returns key as the inside of a JSON string.
func jsonEscape(key string) string {
	b, _ := json.Marshal(key) // a string always marshals
	return string(b[1 : len(b)-1])
}

// redact returns u without user information, query or fragment, for
// errors: those are where URLs carry credentials.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	c.Fragment, c.RawFragment = "", ""
	if c.RawQuery != "" || c.ForceQuery {
		c.RawQuery, c.ForceQuery = "REDACTED", false
	}
	return c.String()
}

// checkHeader refuses a header name or value net/http would refuse, with
// an error that names the header only.
func checkHeader(name, value string) error {
	if name == "" || strings.ContainsAny(name, " \t\r\n:") {
		return fmt.Errorf("header name %q is not a valid field name", name)
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return fmt.Errorf("header %q: the value holds a line break or NUL", name)
	}
	return nil
}
