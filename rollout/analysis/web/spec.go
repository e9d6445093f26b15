package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	kjson "sigs.k8s.io/json"
)

// Spec is Argo Rollouts' web provider block (v1.9), as a metric's
// provider.web holds it. Field names and meanings are Rollouts'.
type Spec struct {
	// Method is GET (the default), POST or PUT.
	Method string `json:"method,omitempty"`
	// URL is the address to ask.
	URL string `json:"url"`
	// Headers are set on the request. Their values are secret: they never
	// appear in an error.
	Headers []Header `json:"headers,omitempty"`
	// Body is a string body (POST or PUT only).
	Body string `json:"body,omitempty"`
	// JSONBody is a JSON body (POST or PUT only), sent with
	// Content-Type: application/json.
	JSONBody any `json:"jsonBody,omitempty"`
	// TimeoutSeconds is the request's timeout; zero or less means the
	// provider's default (Rollouts' 10 s).
	TimeoutSeconds int64 `json:"timeoutSeconds,omitempty"`
	// JSONPath selects the result in the answer, in
	// k8s.io/client-go/util/jsonpath syntax; empty means "{$}".
	JSONPath string `json:"jsonPath,omitempty"`
	// Insecure skips TLS verification of the server's certificate.
	Insecure bool `json:"insecure,omitempty"`
	// Authentication is how to authenticate: OAuth2 client credentials.
	Authentication Authentication `json:"authentication,omitempty"`
}

// Header is one HTTP header of a provider block.
type Header struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Authentication is a provider block's authentication section. The web
// provider supports only OAuth2; a sigv4 section is refused by name.
type Authentication struct {
	Sigv4  map[string]any `json:"sigv4,omitempty"`
	OAuth2 OAuth2         `json:"oauth2,omitempty"`
}

// OAuth2 is the OAuth2 client-credentials configuration. ClientSecret is
// secret: it never appears in an error.
type OAuth2 struct {
	TokenURL     string   `json:"tokenUrl,omitempty"`
	ClientID     string   `json:"clientId,omitempty"`
	ClientSecret string   `json:"clientSecret,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
}

// ParseSpec decodes a provider block (as [analysis.Query.Spec] holds it)
// into a Spec. As the Kubernetes API decodes it: field names are case
// sensitive; unknown and duplicate fields are errors that name them.
func ParseSpec(m map[string]any) (Spec, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return Spec{}, fmt.Errorf("web provider block: %w", err)
	}
	var s Spec
	strict, err := kjson.UnmarshalStrict(data, &s)
	if err == nil && len(strict) > 0 {
		err = errors.Join(strict...)
	}
	if err != nil {
		return Spec{}, fmt.Errorf("web provider block: %w", err)
	}
	return s, nil
}

func (s *Spec) validate() error {
	s.Method = strings.ToUpper(s.Method)
	switch s.Method {
	case "":
		s.Method = "GET"
	case "GET", "POST", "PUT":
	default:
		return fmt.Errorf("web provider block: method %q is not GET, POST or PUT", s.Method)
	}
	if s.Body != "" && s.JSONBody != nil {
		return errors.New("use either Body or JSONBody; both cannot exists for WebMetric payload")
	}
	if (s.Body != "" || s.JSONBody != nil) && s.Method == "GET" {
		return errors.New("Body/JSONBody can only be used with POST or PUT WebMetric Method types") //nolint:staticcheck // Rollouts' text.
	}
	u, err := url.Parse(s.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return errors.New("web provider block: url is not an http or https URL")
	}
	if len(s.Authentication.Sigv4) > 0 {
		return errors.New("authentication.sigv4 is not supported by the web provider")
	}
	if o := s.Authentication.OAuth2; o.TokenURL != "" && (o.ClientID == "" || o.ClientSecret == "") {
		return errors.New("missing mandatory parameter in metric for OAuth2 setup")
	}
	for i, h := range s.Headers {
		if h.Key == "" {
			return fmt.Errorf("headers[%d]: key is empty", i)
		}
	}
	return nil
}

// secrets lists the values no error may show.
func (s *Spec) secrets() []string {
	var out []string
	for _, h := range s.Headers {
		if len(h.Value) >= 4 {
			out = append(out, h.Value)
		}
		for _, f := range strings.Fields(h.Value) {
			if len(f) >= 8 {
				out = append(out, f)
			}
		}
	}
	if v := s.Authentication.OAuth2.ClientSecret; len(v) >= 4 {
		out = append(out, v)
	}
	return out
}
