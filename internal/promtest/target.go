package promtest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Buckets are the upper bounds (ms) of http_request_duration_ms.
var Buckets = []float64{10, 25, 50, 100, 250, 500, 1000, 2500, 5000}

// Traffic is what a service of a [Target] serves, steadily: RPS requests a
// second, a share ErrorRatio of them with status 500 (the rest 200), each
// taking LatencyMs.
type Traffic struct {
	RPS        float64
	ErrorRatio float64
	LatencyMs  float64
}

// Target is a metrics endpoint in the Prometheus text format whose
// traffic the test controls, per service label:
//
//	http_requests_total{service="S",status="200"|"500"}      counter
//	http_request_duration_ms_bucket{service="S",le="..."}     histogram
//
// Its counters grow with time at the set rates, so rate() over them
// gives exactly RPS, the success ratio 1-ErrorRatio, and
// histogram_quantile(0.99, ...) the 99th-percentile interpolation inside
// the bucket that holds LatencyMs. It is safe for concurrent use.
type Target struct {
	server *httptest.Server

	mu       sync.Mutex
	services map[string]*service
}

type service struct {
	traffic Traffic
	since   time.Time
	ok, bad float64 // requests counted before since
}

// NewTarget starts a target; Close stops it.
func NewTarget() *Target {
	t := &Target{services: map[string]*service{}}
	t.server = httptest.NewServer(http.HandlerFunc(t.serve))
	return t
}

// HostPort is the target's "127.0.0.1:PORT", as a scrape config names it.
func (t *Target) HostPort() string {
	u, _ := url.Parse(t.server.URL)
	return u.Host
}

// URL is the target's base URL; metrics are at URL + "/metrics".
func (t *Target) URL() string { return t.server.URL }

// Close stops the target.
func (t *Target) Close() { t.server.Close() }

// Set makes service serve traffic from now on; the counters keep what
// they counted so far.
func (t *Target) Set(name string, traffic Traffic) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	s, ok := t.services[name]
	if !ok {
		t.services[name] = &service{traffic: traffic, since: now}
		return
	}
	s.ok, s.bad = s.counts(now)
	s.traffic, s.since = traffic, now
}

func (s *service) counts(now time.Time) (ok, bad float64) {
	n := s.traffic.RPS * now.Sub(s.since).Seconds()
	return s.ok + n*(1-s.traffic.ErrorRatio), s.bad + n*s.traffic.ErrorRatio
}

func (t *Target) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/metrics" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write([]byte(t.Exposition()))
}

// Exposition is the text format the target serves now.
func (t *Target) Exposition() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	names := make([]string, 0, len(t.services))
	for n := range t.services {
		names = append(names, n)
	}
	sort.Strings(names)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	var b strings.Builder
	b.WriteString("# HELP http_requests_total Requests served.\n# TYPE http_requests_total counter\n")
	for _, n := range names {
		ok, bad := t.services[n].counts(now)
		fmt.Fprintf(&b, "http_requests_total{service=%q,status=\"200\"} %s\n", n, f(ok))
		fmt.Fprintf(&b, "http_requests_total{service=%q,status=\"500\"} %s\n", n, f(bad))
	}
	b.WriteString("# HELP http_request_duration_ms Request latency in milliseconds.\n# TYPE http_request_duration_ms histogram\n")
	for _, n := range names {
		s := t.services[n]
		ok, bad := s.counts(now)
		total := ok + bad
		for _, le := range Buckets {
			c := 0.0
			if s.traffic.LatencyMs <= le {
				c = total
			}
			fmt.Fprintf(&b, "http_request_duration_ms_bucket{service=%q,le=%q} %s\n", n, f(le), f(c))
		}
		fmt.Fprintf(&b, "http_request_duration_ms_bucket{service=%q,le=\"+Inf\"} %s\n", n, f(total))
		fmt.Fprintf(&b, "http_request_duration_ms_sum{service=%q} %s\n", n, f(total*s.traffic.LatencyMs))
		fmt.Fprintf(&b, "http_request_duration_ms_count{service=%q} %s\n", n, f(total))
	}
	return b.String()
}
