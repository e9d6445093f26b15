package prometheus

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	kjson "sigs.k8s.io/json"
)

// Spec is Argo Rollouts' prometheus provider block (v1.9), as a metric's
// provider.prometheus holds it. Field names and meanings are Rollouts'.
type Spec struct {
	// Address is the Prometheus server's URL; empty means the provider's
	// default ([WithAddress]).
	Address string `json:"address,omitempty"`
	// Query is the PromQL expression.
	Query string `json:"query,omitempty"`
	// Authentication is how to authenticate; only oauth2 is supported
	// (sigv4 is refused by name). A bearer token goes in Headers.
	Authentication Authentication `json:"authentication,omitempty"`
	// Timeout is the query's timeout in seconds; nil means the
	// provider's default ([WithTimeout]).
	Timeout *int64 `json:"timeout,omitempty"`
	// Insecure skips TLS verification of the server's certificate.
	Insecure bool `json:"insecure,omitempty"`
	// Headers are set on every request (Authorization: Bearer ...).
	Headers []Header `json:"headers,omitempty"`
	// RangeQuery, when set, makes the query a range query.
	RangeQuery *RangeQuery `json:"rangeQuery,omitempty"`
}

// Header is one HTTP header of a provider block. Its value is secret:
// it never appears in an error.
type Header struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// RangeQuery is a range query's window: Start and End are expr-lang
// expressions of time, as in Rollouts (now() - duration("5m")), and Step
// is a Go duration ("30s").
type RangeQuery struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
	Step  string `json:"step,omitempty"`
}

// Authentication is a provider block's authentication section.
type Authentication struct {
	// Sigv4 is AWS SigV4 signing; it is not supported and refused.
	Sigv4 *Sigv4 `json:"sigv4,omitempty"`
	// OAuth2 is the OAuth2 client-credentials flow.
	OAuth2 OAuth2 `json:"oauth2,omitempty"`
}

// Sigv4 is Rollouts' sigv4 section, recognised only to refuse it by name.
type Sigv4 struct {
	Region  string `json:"region,omitempty"`
	Profile string `json:"profile,omitempty"`
	RoleARN string `json:"roleArn,omitempty"`
}

// OAuth2 is the OAuth2 client-credentials configuration. ClientSecret is
// secret: it never appears in an error.
type OAuth2 struct {
	TokenURL     string   `json:"tokenUrl,omitempty"`
	ClientID     string   `json:"clientId,omitempty"`
	ClientSecret string   `json:"clientSecret,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
}

// ErrSigV4Unsupported is returned for a block with authentication.sigv4.
var ErrSigV4Unsupported = errors.New("authentication.sigv4 is not supported")

// ParseSpec decodes a provider block (as [analysis.Query.Spec] holds it)
// into a Spec. As the Kubernetes API decodes it: field names are case
// sensitive; unknown and duplicate fields are errors that name them.
func ParseSpec(m map[string]any) (Spec, error) {
	var s Spec
	if err := decodeStrict(m, &s); err != nil {
		return Spec{}, fmt.Errorf("prometheus provider block: %w", err)
	}
	return s, nil
}

// validate checks what ParseSpec cannot: Rollouts' rules for the query,
// the timeout and authentication.
func (s *Spec) validate() error {
	if s.Query == "" {
		return errors.New("prometheus provider block: query is empty")
	}
	if s.Timeout != nil && *s.Timeout <= 0 {
		// Rollouts refuses a negative timeout; a zero one would expire
		// every query at once, so it is refused too.
		return fmt.Errorf("prometheus provider block: timeout must be a positive number of seconds, not %d", *s.Timeout)
	}
	if s.Authentication.Sigv4 != nil && *s.Authentication.Sigv4 != (Sigv4{}) {
		return ErrSigV4Unsupported
	}
	if o := s.Authentication.OAuth2; o.TokenURL != "" && (o.ClientID == "" || o.ClientSecret == "") {
		return errors.New("authentication.oauth2: tokenUrl needs clientId and clientSecret")
	}
	for i, h := range s.Headers {
		if h.Key == "" {
			return fmt.Errorf("headers[%d]: key is empty", i)
		}
	}
	return nil
}

// rangeWindow evaluates a range query's start, end and step.
func (r *RangeQuery) window() (start, end time.Time, step time.Duration, err error) {
	if start, err = evalTime(r.Start); err != nil {
		return start, end, step, fmt.Errorf("failed to parse rangeQuery.start as time: %w", err)
	}
	if end, err = evalTime(r.End); err != nil {
		return start, end, step, fmt.Errorf("failed to parse rangeQuery.end as time: %w", err)
	}
	if step, err = time.ParseDuration(r.Step); err != nil {
		return start, end, step, fmt.Errorf("failed to parse rangeQuery.step as duration: %w", err)
	}
	if step <= 0 {
		return start, end, step, fmt.Errorf("rangeQuery.step must be positive, not %s", step)
	}
	if end.Before(start) {
		return start, end, step, errors.New("rangeQuery.end is before rangeQuery.start")
	}
	return start, end, step, nil
}

func decodeStrict(m map[string]any, into any) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(data, into)
	if err == nil && len(strict) > 0 {
		err = errors.Join(strict...)
	}
	return err
}

// checkAddress applies Rollouts' IsUrl rule: a scheme and a host.
func checkAddress(addr string) error {
	u, err := url.Parse(addr)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return errors.New("prometheus address is not in URL format")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("prometheus address has scheme %q, want http or https", u.Scheme)
	}
	return nil
}
