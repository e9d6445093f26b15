package promote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Scan is the outcome of [Scanner.Scan].
type Scan struct {
	// Tags is the list, the caller's own copy.
	Tags []string
	// Time is when the registry was listed.
	Time time.Time
	// Cached reports that Tags is the last list, the interval not having
	// passed; false means the registry was listed by this call.
	Cached bool
}

// ScannerOption configures a [Scanner].
type ScannerOption func(*Scanner)

// WithClock sets the scanner's clock (tests); the default is time.Now.
func WithClock(now func() time.Time) ScannerOption {
	return func(s *Scanner) { s.now = now }
}

// Scanner is Flux ImageRepository's scan interval without a controller:
// it keeps the last tag list of each repository and lists the registry
// again only once interval has passed since, or when the repository's
// exclusion list or credentials changed. It starts no goroutine: the host
// calls Scan when it wants tags (each pass of its loop) and Scan answers
// from the cache or the registry. A failed listing is not cached, so the
// next call tries again. Safe for concurrent use; two concurrent calls
// for a repository due may both list it.
type Scanner struct {
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	last map[string]Scan
}

// NewScanner returns a scanner with the given interval (Flux's
// spec.interval); an interval of 0 lists on every call.
func NewScanner(interval time.Duration, opts ...ScannerOption) *Scanner {
	s := &Scanner{interval: interval, now: time.Now, last: map[string]Scan{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// ScanSource is a tag source a [Scanner] caches: an [*ImageRepository],
// a [*GitTags] or a [*HelmChart]. It is closed to other types, whose
// listings the scanner could not tell apart by what they depend on.
type ScanSource interface {
	TagSource
	scanKey() string
}

var (
	_ ScanSource = (*ImageRepository)(nil)
	_ ScanSource = (*GitTags)(nil)
	_ ScanSource = (*HelmChart)(nil)
)

// Scan returns repo's tags, from the cache while the interval has not
// passed since the last listing, else from the registry, Git remote or
// chart repository. Errors are those of repo's Tags.
func (s *Scanner) Scan(ctx context.Context, repo ScanSource) (Scan, error) {
	key := repo.scanKey()
	now := s.now()
	s.mu.Lock()
	last, ok := s.last[key]
	s.mu.Unlock()
	if ok && now.Sub(last.Time) < s.interval && !now.Before(last.Time) {
		last.Tags = slices.Clone(last.Tags)
		last.Cached = true
		return last, nil
	}
	tags, err := repo.Tags(ctx)
	if err != nil {
		return Scan{}, err
	}
	scan := Scan{Tags: tags, Time: now}
	s.mu.Lock()
	s.last[key] = Scan{Tags: slices.Clone(tags), Time: now}
	s.mu.Unlock()
	return scan, nil
}

// Forget drops the cached list of repo, so that the next Scan lists it
// (Flux's reconcile-requested annotation).
func (s *Scanner) Forget(repo ScanSource) {
	s.mu.Lock()
	delete(s.last, repo.scanKey())
	s.mu.Unlock()
}

// scanKey identifies what a listing depends on: the repository, its
// exclusions and (hashed, so the key holds no secret) its credentials.
func (r *ImageRepository) scanKey() string {
	scheme := "https"
	if r.insecure {
		scheme = "http"
	}
	return joinKey("oci", scheme, r.repo.Name(), strings.Join(r.exclusions, "\x00"), credentialsHash(r.creds))
}

func (g *GitTags) scanKey() string {
	// Not Endpoint.String, which would carry a URL's password.
	e := g.endpoint
	return joinKey("git", e.Protocol, e.Host, strconv.Itoa(e.Port), e.Path, g.excluded.String(), credentialsHash(g.creds), strconv.Itoa(g.maxTags))
}

func (h *HelmChart) scanKey() string {
	if h.oci != nil {
		return joinKey("helm", h.oci.scanKey())
	}
	return joinKey("helm", h.index, h.chart, h.excluded.String(), credentialsHash(h.creds), strconv.Itoa(h.maxTags))
}

func (x exclusions) String() string {
	patterns := make([]string, len(x))
	for i, re := range x {
		patterns[i] = re.String()
	}
	return strings.Join(patterns, "\x00")
}

func joinKey(parts ...string) string { return strings.Join(parts, "\x01") }

func credentialsHash(c Credentials) string {
	h := sha256.New()
	for _, s := range []string{c.Username, c.Password, c.Token, string(c.DockerConfigJSON)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
