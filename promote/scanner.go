package promote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
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

// Scan returns repo's tags, from the cache while the interval has not
// passed since the last listing, else from the registry. Errors are
// those of [ImageRepository.Tags].
func (s *Scanner) Scan(ctx context.Context, repo *ImageRepository) (Scan, error) {
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
func (s *Scanner) Forget(repo *ImageRepository) {
	s.mu.Lock()
	delete(s.last, repo.scanKey())
	s.mu.Unlock()
}

// scanKey identifies what a listing depends on: the repository, its
// exclusions and (hashed, so the key holds no secret) its credentials.
func (r *ImageRepository) scanKey() string {
	h := sha256.New()
	for _, s := range []string{r.creds.Username, r.creds.Password, r.creds.Token, string(r.creds.DockerConfigJSON)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	scheme := "https"
	if r.insecure {
		scheme = "http"
	}
	return strings.Join([]string{scheme, r.repo.Name(), strings.Join(r.exclusions, "\x00"), hex.EncodeToString(h.Sum(nil))}, "\x01")
}
