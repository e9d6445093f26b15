package web

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/converge-dev/converge/rollout/analysis"
)

// Kind is the provider block kind this package serves.
const Kind = "web"

// Defaults.
const (
	// DefaultTimeout is a request's timeout when the block's
	// timeoutSeconds is zero or less (Rollouts' 10 s).
	DefaultTimeout = 10 * time.Second
	// DefaultMaxResponseBytes bounds an answer's body.
	DefaultMaxResponseBytes = 1 << 20
)

// ErrResponseTooLarge is returned when an answer is larger than the
// provider's limit ([WithMaxResponseBytes]); the rest is not read.
var ErrResponseTooLarge = errors.New("response exceeds the size limit")

// Provider measures metrics whose provider block is "web", as Argo
// Rollouts' web provider does: one HTTP request, the jsonPath's first
// match in the JSON answer as the value (see [Provider.Measure]). It is
// safe for concurrent use.
type Provider struct {
	timeout  time.Duration
	maxBytes int64
	secure   http.RoundTripper
	insecure http.RoundTripper // nil when the base transport cannot be cloned
	client   *http.Client
}

var _ analysis.Provider = (*Provider)(nil)

// Option configures a [Provider].
type Option func(*config)

type config struct {
	client   *http.Client
	tls      *tls.Config
	timeout  time.Duration
	maxBytes int64
}

// WithHTTPClient sets the base HTTP client; its Transport carries every
// request. A block's insecure: true needs that Transport to be an
// *http.Transport, which is cloned with verification off.
func WithHTTPClient(client *http.Client) Option { return func(c *config) { c.client = client } }

// WithTLSConfig sets the TLS configuration of the provider's transport.
func WithTLSConfig(cfg *tls.Config) Option { return func(c *config) { c.tls = cfg } }

// WithTimeout sets the timeout of a request whose block sets none.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithMaxResponseBytes bounds an answer's body; a larger one fails with
// [ErrResponseTooLarge].
func WithMaxResponseBytes(n int64) Option { return func(c *config) { c.maxBytes = n } }

// New returns a Provider.
func New(opts ...Option) *Provider {
	c := config{timeout: DefaultTimeout, maxBytes: DefaultMaxResponseBytes}
	for _, o := range opts {
		o(&c)
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxBytes <= 0 {
		c.maxBytes = DefaultMaxResponseBytes
	}
	p := &Provider{timeout: c.timeout, maxBytes: c.maxBytes, client: c.client}
	var base http.RoundTripper
	if c.client != nil && c.client.Transport != nil {
		base = c.client.Transport
	} else {
		base = &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout: 10 * time.Second,
			IdleConnTimeout:     90 * time.Second,
		}
	}
	if t, ok := base.(*http.Transport); ok {
		secure := t
		if c.tls != nil {
			secure = t.Clone()
			secure.TLSClientConfig = c.tls.Clone()
		}
		insecure := secure.Clone()
		if insecure.TLSClientConfig == nil {
			insecure.TLSClientConfig = &tls.Config{}
		}
		insecure.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // The block's insecure: true asks for it.
		p.secure, p.insecure = secure, insecure
	} else {
		p.secure = base
	}
	return p
}

// Measure sends the block's request once. The Result is Rollouts'
// shaping: the answer decoded as JSON (numbers are float64), the first
// value the jsonPath selects as Value (a float64, string, bool, nil,
// []any or map[string]any) and its JSON encoding as Text. An answer that
// is not JSON is its text, as a string, for the conditions to judge (a
// deliberate difference: Rollouts marks it Successful outright). The
// Result never has a Phase. A non-2xx status, a timeout, an answer over
// the size limit, a jsonPath that selects nothing are each an *[Error]
// naming the metric and the URL (without its query); no error shows a
// header value or the answer's body.
func (p *Provider) Measure(ctx context.Context, q analysis.Query) (analysis.Result, error) {
	spec, err := ParseSpec(q.Spec)
	if err != nil {
		return analysis.Result{}, &Error{Metric: q.Metric, Err: err}
	}
	fail := func(err error) (analysis.Result, error) {
		return analysis.Result{}, &Error{Metric: q.Metric, URL: redactURL(spec.URL), Err: scrub(err, spec.secrets())}
	}
	if q.Kind != "" && q.Kind != Kind {
		return fail(fmt.Errorf("provider kind %q, want %q", q.Kind, Kind))
	}
	if err := spec.validate(); err != nil {
		return fail(err)
	}
	timeout := p.timeout
	if spec.TimeoutSeconds > 0 {
		timeout = time.Duration(spec.TimeoutSeconds) * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var body io.Reader
	if spec.Body != "" {
		body = strings.NewReader(spec.Body)
	} else if spec.JSONBody != nil {
		data, err := json.Marshal(spec.JSONBody)
		if err != nil {
			return fail(fmt.Errorf("jsonBody: %w", err))
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, spec.Method, spec.URL, body)
	if err != nil {
		return fail(errors.New("url is not valid"))
	}
	for _, h := range spec.Headers {
		req.Header.Set(h.Key, h.Value)
	}
	if spec.JSONBody != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client, err := p.httpClient(&spec)
	if err != nil {
		return fail(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = fmt.Errorf("%s: %w", ue.Op, ue.Err)
		}
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("no answer within the %s timeout: %w", timeout, err)
		}
		return fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return fail(fmt.Errorf("received non 2xx response code: %d", resp.StatusCode))
	}
	data, err := readBounded(resp, p.maxBytes)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("no answer within the %s timeout: %w", timeout, err)
		}
		return fail(err)
	}
	res, err := decode(data, spec.JSONPath)
	if err != nil {
		return fail(err)
	}
	return res, nil
}

func (p *Provider) httpClient(s *Spec) (*http.Client, error) {
	rt := p.secure
	if s.Insecure {
		if p.insecure == nil {
			return nil, errors.New("insecure: true needs the provider's transport to be an *http.Transport")
		}
		rt = p.insecure
	}
	c := &http.Client{Transport: rt}
	if p.client != nil {
		c.CheckRedirect, c.Jar = p.client.CheckRedirect, p.client.Jar
	}
	if o := s.Authentication.OAuth2; o.TokenURL != "" {
		cfg := &clientcredentials.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: o.TokenURL, Scopes: o.Scopes}
		c = cfg.Client(context.WithValue(context.Background(), oauth2.HTTPClient, c))
	}
	return c, nil
}

// readBounded reads at most max bytes of the body, refusing a larger one
// before reading it when its length is declared.
func readBounded(resp *http.Response, max int64) ([]byte, error) {
	if resp.ContentLength > max {
		return nil, fmt.Errorf("%w: %d bytes declared, limit %d", ErrResponseTooLarge, resp.ContentLength, max)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("read the answer: %w", err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: limit %d", ErrResponseTooLarge, max)
	}
	return data, nil
}
