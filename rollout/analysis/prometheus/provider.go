package prometheus

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/converge-dev/converge/rollout/analysis"
)

// Kind is the provider block kind this package serves.
const Kind = "prometheus"

// Defaults.
const (
	// DefaultTimeout is a query's timeout when neither the block nor
	// [WithTimeout] sets one (Rollouts' 30 s).
	DefaultTimeout = 30 * time.Second
	// DefaultMaxResponseBytes bounds an answer's body.
	DefaultMaxResponseBytes = 16 << 20
	// DefaultClientCacheSize is how many API clients (one per address,
	// TLS mode, headers and OAuth2 settings) a Provider keeps.
	DefaultClientCacheSize = 64
)

// Provider measures metrics whose provider block is "prometheus", as Argo
// Rollouts' prometheus provider does: an instant query (or a range query
// when the block has rangeQuery), its answer shaped as Rollouts shapes it
// (see [Provider.Measure]). It is safe for concurrent use; API clients are
// cached per address and headers and share the provider's transports.
type Provider struct {
	address  string
	timeout  time.Duration
	maxBytes int64
	secure   http.RoundTripper
	insecure http.RoundTripper // nil when the base transport cannot be cloned
	client   *http.Client      // the base client, for its redirect policy and jar

	mu       sync.Mutex
	clients  map[[sha256.Size]byte]v1.API
	order    [][sha256.Size]byte
	capacity int
}

var _ analysis.Provider = (*Provider)(nil)

// Option configures a [Provider].
type Option func(*config)

type config struct {
	address   string
	client    *http.Client
	tls       *tls.Config
	timeout   time.Duration
	maxBytes  int64
	cacheSize int
}

// WithAddress sets the address used when a block has none (the role of
// Rollouts' ARGO_ROLLOUTS_PROMETHEUS_ADDRESS).
func WithAddress(addr string) Option { return func(c *config) { c.address = addr } }

// WithHTTPClient sets the base HTTP client; its Transport (default
// http.DefaultTransport's settings) carries every request. A block's
// insecure: true needs that Transport to be an *http.Transport, which is
// cloned with verification off.
func WithHTTPClient(client *http.Client) Option { return func(c *config) { c.client = client } }

// WithTLSConfig sets the TLS configuration (CA pool, client
// certificates) of the provider's transport.
func WithTLSConfig(cfg *tls.Config) Option { return func(c *config) { c.tls = cfg } }

// WithTimeout sets the timeout of a query whose block has none.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithMaxResponseBytes bounds an answer's body; a larger one fails with
// [ErrResponseTooLarge] without being read further.
func WithMaxResponseBytes(n int64) Option { return func(c *config) { c.maxBytes = n } }

// WithClientCacheSize sets how many API clients are kept; the oldest is
// dropped first.
func WithClientCacheSize(n int) Option { return func(c *config) { c.cacheSize = n } }

// New returns a Provider.
func New(opts ...Option) *Provider {
	c := config{timeout: DefaultTimeout, maxBytes: DefaultMaxResponseBytes, cacheSize: DefaultClientCacheSize}
	for _, o := range opts {
		o(&c)
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxBytes <= 0 {
		c.maxBytes = DefaultMaxResponseBytes
	}
	if c.cacheSize <= 0 {
		c.cacheSize = 1
	}
	p := &Provider{
		address:  c.address,
		timeout:  c.timeout,
		maxBytes: c.maxBytes,
		client:   c.client,
		clients:  map[[sha256.Size]byte]v1.API{},
		capacity: c.cacheSize,
	}
	var base http.RoundTripper
	if c.client != nil && c.client.Transport != nil {
		base = c.client.Transport
	} else {
		base = newTransport()
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

func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// Measure runs the block's query once. The Result is Rollouts' shaping:
//
//   - a vector: Value []float64 of its samples, Text "[0.97,0.98]"
//     (an empty vector: an empty slice, Text "[]");
//   - a scalar: Value float64, Text "0.97";
//   - a matrix (a range query, or a range selector): Value []float64 of
//     every sample of every series in order, as Rollouts flattens it;
//   - NaN and ±Inf pass through ("NaN", "+Inf"): conditions decide;
//   - a string result is an error.
//
// Metadata holds the query ([MetadataQuery]) and any server warnings
// ([MetadataWarnings]). The Result never has a Phase. Every failure
// (bad block, server down, timeout, a non-JSON or truncated answer, one
// over the size limit) is an *[Error] naming the metric and the address.
func (p *Provider) Measure(ctx context.Context, q analysis.Query) (analysis.Result, error) {
	spec, err := ParseSpec(q.Spec)
	if err != nil {
		return analysis.Result{}, &Error{Metric: q.Metric, Err: err}
	}
	if q.Kind != "" && q.Kind != Kind {
		return analysis.Result{}, &Error{Metric: q.Metric, Err: fmt.Errorf("provider kind %q, want %q", q.Kind, Kind)}
	}
	if spec.Address == "" {
		spec.Address = p.address
	}
	fail := func(err error) (analysis.Result, error) {
		addr := ""
		if spec.Address != "" {
			addr = redactAddress(spec.Address)
		}
		return analysis.Result{}, &Error{Metric: q.Metric, Address: addr, Err: scrub(err, spec.secrets())}
	}
	if spec.Address == "" {
		return fail(errors.New("prometheus address is not configured"))
	}
	if err := checkAddress(spec.Address); err != nil {
		return fail(err)
	}
	if err := spec.validate(); err != nil {
		return fail(err)
	}
	timeout := p.timeout
	if spec.Timeout != nil {
		timeout = time.Duration(*spec.Timeout) * time.Second
	}
	client, err := p.api(&spec)
	if err != nil {
		return fail(err)
	}

	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		value    model.Value
		warnings v1.Warnings
	)
	if r := spec.RangeQuery; r != nil {
		start, end, step, werr := r.window()
		if werr != nil {
			return fail(werr)
		}
		value, warnings, err = client.QueryRange(qctx, spec.Query, v1.Range{Start: start, End: end, Step: step})
	} else {
		value, warnings, err = client.Query(qctx, spec.Query, time.Now())
	}
	if err != nil {
		err = plainURLError(err)
		if qctx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("no answer within the %s timeout: %w", timeout, err)
		}
		return fail(fmt.Errorf("query: %w", err))
	}
	res, err := shape(value)
	if err != nil {
		return fail(err)
	}
	res.Metadata = map[string]string{MetadataQuery: spec.Query}
	if len(warnings) > 0 {
		res.Metadata[MetadataWarnings] = warningsText(warnings)
	}
	return res, nil
}

// api returns the cached client for the block's address, TLS mode,
// headers and OAuth2 settings, making it on first use.
func (p *Provider) api(s *Spec) (v1.API, error) {
	key := clientKey(s)
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[key]; ok {
		return c, nil
	}
	rt := p.secure
	if s.Insecure {
		if p.insecure == nil {
			return nil, errors.New("insecure: true needs the provider's transport to be an *http.Transport")
		}
		rt = p.insecure
	}
	if len(s.Headers) > 0 {
		rt = headerTransport{next: rt, headers: append([]Header(nil), s.Headers...)}
	}
	var apiRT http.RoundTripper = answerTransport{next: rt, max: p.maxBytes}
	if o := s.Authentication.OAuth2; o.TokenURL != "" {
		// The token endpoint is not Prometheus: its answers skip
		// answerTransport (the oauth2 package bounds them itself).
		tokens := &http.Client{Transport: rt}
		cfg := &clientcredentials.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: o.TokenURL, Scopes: o.Scopes}
		apiRT = &oauth2.Transport{Source: cfg.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, tokens)), Base: apiRT}
	}
	httpClient := &http.Client{Transport: apiRT}
	if p.client != nil {
		httpClient.CheckRedirect, httpClient.Jar = p.client.CheckRedirect, p.client.Jar
	}
	c, err := api.NewClient(api.Config{Address: s.Address, Client: httpClient})
	if err != nil {
		return nil, err
	}
	a := v1.NewAPI(c)
	if len(p.order) >= p.capacity {
		delete(p.clients, p.order[0])
		p.order = p.order[1:]
	}
	p.clients[key] = a
	p.order = append(p.order, key)
	return a, nil
}

func clientKey(s *Spec) [sha256.Size]byte {
	h := sha256.New()
	field := func(v string) { h.Write([]byte(strconv.Itoa(len(v)) + ":" + v)) }
	field(s.Address)
	field(strconv.FormatBool(s.Insecure))
	for _, hd := range s.Headers {
		field(hd.Key)
		field(hd.Value)
	}
	o := s.Authentication.OAuth2
	field(o.TokenURL)
	field(o.ClientID)
	field(o.ClientSecret)
	for _, sc := range o.Scopes {
		field(sc)
	}
	var k [sha256.Size]byte
	copy(k[:], h.Sum(nil))
	return k
}
