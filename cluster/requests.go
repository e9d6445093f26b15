package cluster

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// Verbs a request is counted under. They follow Kubernetes' audit verbs.
const (
	VerbGet    = "get"
	VerbList   = "list"
	VerbWatch  = "watch"
	VerbCreate = "create"
	VerbUpdate = "update"
	VerbPatch  = "patch"
	VerbDelete = "delete"
	VerbOther  = "other"
)

// RequestKey names a kind of request: a verb on a resource ("deployments",
// "deployments/status", or "discovery" for discovery and OpenAPI).
type RequestKey struct {
	Verb     string
	Resource string
}

// Requests is a snapshot of request counts.
type Requests map[RequestKey]int64

// Total returns the number of requests.
func (r Requests) Total() int64 {
	var n int64
	for _, v := range r {
		n += v
	}
	return n
}

// Verb returns the number of requests with the given verb.
func (r Requests) Verb(verb string) int64 {
	var n int64
	for k, v := range r {
		if k.Verb == verb {
			n += v
		}
	}
	return n
}

// Writes returns the number of create, update, patch and delete requests,
// dry-runs included.
func (r Requests) Writes() int64 {
	return r.Verb(VerbCreate) + r.Verb(VerbUpdate) + r.Verb(VerbPatch) + r.Verb(VerbDelete)
}

// Sub returns the requests made since an earlier snapshot.
func (r Requests) Sub(earlier Requests) Requests {
	out := make(Requests, len(r))
	for k, v := range r {
		if d := v - earlier[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// String lists counts by verb, e.g. "get=2 list=1 watch=1".
func (r Requests) String() string {
	byVerb := map[string]int64{}
	for k, v := range r {
		byVerb[k.Verb] += v
	}
	var parts []string
	for _, verb := range slices.Sorted(maps.Keys(byVerb)) {
		parts = append(parts, fmt.Sprintf("%s=%d", verb, byVerb[verb]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// requestCounter counts requests passing through an http.RoundTripper.
type requestCounter struct {
	mu     sync.Mutex
	counts Requests
}

func (c *requestCounter) snapshot() Requests {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

func (c *requestCounter) wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		key := classify(req)
		c.mu.Lock()
		c.counts[key]++
		c.mu.Unlock()
		return next.RoundTrip(req)
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// classify maps a request to its verb and resource from the URL alone:
// /api/v1/namespaces/NS/RESOURCE/NAME/SUB, /apis/GROUP/VERSION/..., with
// ?watch=true for watches.
func classify(req *http.Request) RequestKey {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	var rest []string
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		rest = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		rest = parts[3:]
	default:
		return RequestKey{Verb: httpVerb(req, false), Resource: "discovery"}
	}
	if len(rest) >= 2 && rest[0] == "namespaces" && len(rest) != 2 {
		rest = rest[2:] // namespaced resource; "namespaces/NAME" alone is the Namespace object
	}
	if len(rest) == 0 {
		return RequestKey{Verb: httpVerb(req, false), Resource: "discovery"}
	}
	resource := rest[0]
	if len(rest) >= 3 {
		resource += "/" + rest[2]
	}
	return RequestKey{Verb: httpVerb(req, len(rest) >= 2), Resource: resource}
}

func httpVerb(req *http.Request, named bool) string {
	switch req.Method {
	case http.MethodGet:
		switch {
		case req.URL.Query().Get("watch") == "true" || req.URL.Query().Get("watch") == "1":
			return VerbWatch
		case named:
			return VerbGet
		default:
			return VerbList
		}
	case http.MethodPost:
		return VerbCreate
	case http.MethodPut:
		return VerbUpdate
	case http.MethodPatch:
		return VerbPatch
	case http.MethodDelete:
		return VerbDelete
	}
	return VerbOther
}
