package promote_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// The test registry's credentials: long enough to be redacted, and
// distinctive enough that any leak shows.
const (
	testUser     = "promoter"
	testPassword = "s3cret-Passw0rd-xyzzy"
	testToken    = "tok-3f9c1a77e2b04d5f"
)

// backend is one in-process go-containerregistry registry with pushed
// images, shared by the package's tests. Its repositories:
//
//   - team/app: 1.I.J for I < 30, J < 10 (300 tags, each its own image),
//     2.0.0-rc.1, latest and a cosign signature tag;
//   - big/many: 1100 tags t0000..t1099 of one image.
type backend struct {
	handler http.Handler
	digests map[string]string // team/app tag → digest
}

var (
	backendOnce sync.Once
	shared      *backend
	backendErr  error
)

func appTags() []string {
	var tags []string
	for i := 0; i < 30; i++ {
		for j := 0; j < 10; j++ {
			tags = append(tags, fmt.Sprintf("1.%d.%d", i, j))
		}
	}
	return append(tags, "2.0.0-rc.1", "latest", "sha256-0123abcd.sig")
}

func getBackend(t *testing.T) *backend {
	t.Helper()
	backendOnce.Do(func() { shared, backendErr = newBackend() })
	if backendErr != nil {
		t.Fatalf("test registry: %v", backendErr)
	}
	return shared
}

func newBackend() (*backend, error) {
	b := &backend{handler: registry.New(registry.Logger(log.New(io.Discard, "", 0))), digests: map[string]string{}}
	srv := httptest.NewServer(b.handler) // for pushing only
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tag := range appTags() {
		img, err := random.Image(64, 1)
		if err != nil {
			return nil, err
		}
		ref, err := name.NewTag(host+"/team/app:"+tag, name.Insecure)
		if err != nil {
			return nil, err
		}
		if err := remote.Write(ref, img); err != nil {
			return nil, fmt.Errorf("push %s: %w", ref, err)
		}
		d, err := img.Digest()
		if err != nil {
			return nil, err
		}
		b.digests[tag] = d.String()
	}
	img, err := random.Image(64, 1)
	if err != nil {
		return nil, err
	}
	for i := 0; i < 1100; i++ {
		ref, err := name.NewTag(fmt.Sprintf("%s/big/many:t%04d", host, i), name.Insecure)
		if err != nil {
			return nil, err
		}
		if err := remote.Write(ref, img); err != nil {
			return nil, fmt.Errorf("push %s: %w", ref, err)
		}
	}
	return b, nil
}

// server is a front for the backend: optional auth, a Link header on
// full pages, and a count of tag-list pages served.
type server struct {
	*httptest.Server
	Host     string
	pages    atomic.Int64 // tag-list pages served
	requests atomic.Int64 // requests of any kind
}

type serverOpts struct {
	tls  bool
	auth bool
}

func startServer(t *testing.T, opts serverOpts) *server {
	t.Helper()
	b := getBackend(t)
	s := &server{}
	var h http.Handler = linker(b.handler, &s.pages)
	if opts.auth {
		h = requireAuth(h)
	}
	inner := h
	h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.requests.Add(1); inner.ServeHTTP(w, r) })
	if opts.tls {
		s.Server = httptest.NewTLSServer(h)
	} else {
		s.Server = httptest.NewServer(h)
	}
	t.Cleanup(s.Close)
	u, _ := url.Parse(s.URL)
	s.Host = u.Host
	return s
}

// requireAuth answers 401 with a Basic challenge unless the request
// carries the test user's basic credentials or the test token.
func requireAuth(next http.Handler) http.Handler {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(testUser+":"+testPassword))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Authorization") {
		case basic, "Bearer " + testToken:
			next.ServeHTTP(w, r)
		default:
			w.Header().Set("WWW-Authenticate", `Basic realm="converge-test"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
		}
	})
}

// linker adds the Link header the distribution registry sends on a full
// page (go-containerregistry's registry paginates with n and last but
// sends none), so that clients must follow it.
func linker(next http.Handler, pages *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/tags/list") {
			next.ServeHTTP(w, r)
			return
		}
		pages.Add(1)
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		var body struct {
			Tags []string `json:"tags"`
		}
		if rec.Code == http.StatusOK && n > 0 && json.Unmarshal(rec.Body.Bytes(), &body) == nil && len(body.Tags) == n {
			q := url.Values{"n": {strconv.Itoa(n)}, "last": {body.Tags[n-1]}}
			w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, r.URL.Path, q.Encode()))
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = io.Copy(w, bytes.NewReader(rec.Body.Bytes()))
	})
}

// dockerConfig is a .dockerconfigjson document with one entry.
func dockerConfig(key, user, password string) []byte {
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	doc, _ := json.Marshal(map[string]any{"auths": map[string]any{key: map[string]string{"auth": auth}}})
	return doc
}

// visibleTags is what Tags returns for team/app with the default
// exclusions: the registry's lexical order, less the signature.
func visibleTags() []string {
	var out []string
	for _, t := range appTags() {
		if !strings.HasSuffix(t, ".sig") {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}
