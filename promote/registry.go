package promote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Sentinel errors of an [ImageRepository], for errors.Is. Each comes
// inside a [*RegistryError].
var (
	// ErrUnauthorized: the registry refused the credentials (401 or 403).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrImageNotFound: the registry does not know the repository or tag
	// (404).
	ErrImageNotFound = errors.New("image not found")
	// ErrTooManyTags: the repository has more tags than the bound
	// (WithMaxTags), or a pagination that never ends.
	ErrTooManyTags = errors.New("too many tags")
	// ErrBadResponse: the registry answered with something that is not
	// the distribution protocol (HTML, a truncated or oversized body, a
	// pagination that loops).
	ErrBadResponse = errors.New("bad registry response")
)

// Defaults of an [ImageRepository].
const (
	// DefaultMaxTags bounds the tags one listing reads, over all pages.
	DefaultMaxTags = 100_000
	// DefaultTimeout bounds one listing or digest lookup, pagination and
	// authentication included.
	DefaultTimeout = time.Minute
	// DefaultPageSize is the n asked of the registry per page; the
	// registry may answer with fewer.
	DefaultPageSize = 1000
	// maxResponseBytes bounds one response body: 100,000 tags of 128
	// bytes fit in a few pages of this.
	maxResponseBytes = 32 << 20
)

// RegistryError is the failure of a registry operation: Op ("list tags",
// "digest") of Image. Its text never shows a credential: a secret that an
// underlying error would echo is replaced by "***".
type RegistryError struct {
	Op    string
	Image string
	// Kind is one of the sentinels (ErrUnauthorized, ErrImageNotFound,
	// ErrTooManyTags, ErrBadResponse) or nil.
	Kind error
	Err  error

	secrets []string
}

// Error implements error.
func (e *RegistryError) Error() string {
	var b strings.Builder
	b.WriteString(e.Op + " " + e.Image + ": ")
	if e.Kind != nil {
		b.WriteString(e.Kind.Error())
		if e.Err != nil {
			b.WriteString(": ")
		}
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	s := b.String()
	for _, secret := range e.secrets {
		s = strings.ReplaceAll(s, secret, "***")
	}
	return s
}

// Unwrap returns the kind and the cause, for errors.Is and errors.As.
func (e *RegistryError) Unwrap() []error {
	var out []error
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// RepositoryOption configures an [ImageRepository].
type RepositoryOption func(*ImageRepository)

// WithCredentials sets the credentials; the default is anonymous.
func WithCredentials(c Credentials) RepositoryOption {
	return func(r *ImageRepository) { r.creds = c }
}

// WithInsecure allows plain HTTP to the registry. Without it every
// request is made over TLS, loopback and private addresses included
// (go-containerregistry alone would use HTTP for those).
func WithInsecure() RepositoryOption {
	return func(r *ImageRepository) { r.insecure = true }
}

// WithExclusions replaces the exclusion list ([DefaultExclusions]): tags
// that match any of these regular expressions are left out of Tags. With
// no pattern, nothing is excluded.
func WithExclusions(patterns ...string) RepositoryOption {
	return func(r *ImageRepository) { r.exclusions = append([]string{}, patterns...) }
}

// WithMaxTags bounds the tags one listing reads over all its pages
// ([DefaultMaxTags]); past it Tags fails with ErrTooManyTags.
func WithMaxTags(n int) RepositoryOption {
	return func(r *ImageRepository) { r.maxTags = n }
}

// WithPageSize sets the page size asked of the registry
// ([DefaultPageSize]); 0 asks for none and takes the registry's.
func WithPageSize(n int) RepositoryOption {
	return func(r *ImageRepository) { r.pageSize = n }
}

// WithTimeout bounds each operation, on top of its context's deadline
// ([DefaultTimeout]).
func WithTimeout(d time.Duration) RepositoryOption {
	return func(r *ImageRepository) { r.timeout = d }
}

// WithTransport sets the HTTP transport (a proxy, a CA bundle); the
// default is go-containerregistry's remote.DefaultTransport.
func WithTransport(t http.RoundTripper) RepositoryOption {
	return func(r *ImageRepository) { r.transport = t }
}

// ImageRepository lists the tags of one image repository of an OCI
// registry, as Flux's ImageRepository scans it: the tags of every page
// (go-containerregistry follows the Link header), less those the
// exclusion list matches, bounded in count and time. It implements
// [TagSource]; it is safe for concurrent use and keeps no state between
// calls (see [Scanner] for a scan interval).
type ImageRepository struct {
	image      string
	repo       name.Repository
	creds      Credentials
	insecure   bool
	exclusions []string
	excluded   exclusions
	maxTags    int
	pageSize   int
	timeout    time.Duration
	transport  http.RoundTripper
}

// NewImageRepository returns the lister of image, a repository reference
// without a scheme, tag or digest ("ghcr.io/org/app",
// "localhost:5000/app"; "app" is Docker Hub's library/app).
func NewImageRepository(image string, opts ...RepositoryOption) (*ImageRepository, error) {
	r := &ImageRepository{
		image:      image,
		exclusions: DefaultExclusions,
		maxTags:    DefaultMaxTags,
		pageSize:   DefaultPageSize,
		timeout:    DefaultTimeout,
		transport:  remote.DefaultTransport,
	}
	for _, o := range opts {
		o(r)
	}
	if scheme, _, ok := strings.Cut(image, "://"); ok {
		return nil, fmt.Errorf("image repository %q: remove the URL scheme %q (use WithInsecure for plain HTTP)", clip(image), clip(scheme))
	}
	if i := strings.LastIndex(image, "/"); strings.ContainsAny(image[i+1:], ":@") {
		return nil, fmt.Errorf("image repository %q: name a repository, without a tag or digest", clip(image))
	}
	var nopts []name.Option
	if r.insecure {
		nopts = append(nopts, name.Insecure)
	}
	repo, err := name.NewRepository(image, nopts...)
	if err != nil {
		return nil, fmt.Errorf("image repository %q: %w", clip(image), err)
	}
	r.repo = repo
	if r.excluded, err = compileExclusions(r.exclusions); err != nil {
		return nil, fmt.Errorf("image repository %s: %w", repo, err)
	}
	if err := r.creds.validate(); err != nil {
		return nil, fmt.Errorf("image repository %s: %w", repo, err)
	}
	if r.maxTags <= 0 {
		return nil, fmt.Errorf("image repository %s: max tags must be positive, not %d", repo, r.maxTags)
	}
	if r.timeout <= 0 {
		return nil, fmt.Errorf("image repository %s: timeout must be positive, not %s", repo, r.timeout)
	}
	if r.pageSize < 0 {
		return nil, fmt.Errorf("image repository %s: page size must not be negative", repo)
	}
	return r, nil
}

// Name returns the repository's canonical name ("index.docker.io/library/app").
func (r *ImageRepository) Name() string { return r.repo.Name() }

// Tags lists the repository's tags in the registry's order, less the
// excluded ones and any a registry must not serve (a tag outside the
// distribution spec's [A-Za-z0-9_][A-Za-z0-9._-]{0,127}: a newline, a
// quote, 10 KB). It fails with a [*RegistryError] wrapping
// ErrUnauthorized, ErrImageNotFound, ErrTooManyTags (more than the
// bound, over all pages), ErrBadResponse, or the context's error.
func (r *ImageRepository) Tags(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	tags, err := r.list(ctx)
	if err != nil {
		return nil, r.fail("list tags of", err)
	}
	return r.excluded.filter(tags), nil
}

var validTag = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

func (r *ImageRepository) list(ctx context.Context) ([]string, error) {
	opts, err := r.remoteOptions(ctx)
	if err != nil {
		return nil, err
	}
	puller, err := remote.NewPuller(opts...)
	if err != nil {
		return nil, err
	}
	lister, err := puller.Lister(ctx, r.repo)
	if err != nil {
		return nil, err
	}
	var tags []string
	read := 0
	seen := map[string]bool{}
	for lister.HasNext() {
		page, err := lister.Next(ctx)
		if err != nil {
			return nil, err
		}
		read += len(page.Tags)
		if read > r.maxTags {
			return nil, &boundError{kind: ErrTooManyTags, msg: fmt.Sprintf("more than %d tags (WithMaxTags)", r.maxTags)}
		}
		if page.Next != "" {
			if len(page.Tags) == 0 {
				return nil, &boundError{kind: ErrBadResponse, msg: "an empty page links to a next one"}
			}
			if seen[page.Next] {
				return nil, &boundError{kind: ErrBadResponse, msg: "the pagination links back to a page already read"}
			}
			seen[page.Next] = true
		}
		for _, t := range page.Tags {
			if validTag.MatchString(t) {
				tags = append(tags, t)
			}
		}
	}
	return tags, nil
}

// Digest returns the digest ("sha256:...") of the manifest tag points to
// (an image index for a multi-platform image), for promotion pinned by
// digest. It fails as Tags does; ErrImageNotFound for an unknown tag.
func (r *ImageRepository) Digest(ctx context.Context, tag string) (string, error) {
	if !validTag.MatchString(tag) {
		return "", &RegistryError{Op: "digest of", Image: r.repo.String(), Err: fmt.Errorf("%q is not a tag", clip(tag))}
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	opts, err := r.remoteOptions(ctx)
	if err != nil {
		return "", r.fail("digest of", err)
	}
	desc, err := remote.Head(r.repo.Tag(tag), opts...)
	if err != nil {
		return "", r.fail("digest of", fmt.Errorf("tag %q: %w", tag, err))
	}
	return desc.Digest.String(), nil
}

func (r *ImageRepository) remoteOptions(ctx context.Context) ([]remote.Option, error) {
	auth, err := r.creds.authenticator(r.repo.RegistryStr(), r.repo.RepositoryStr())
	if err != nil {
		return nil, err
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuth(auth),
		remote.WithPageSize(r.pageSize),
		remote.WithTransport(&guard{inner: r.transport, insecure: r.insecure}),
	}, nil
}

// fail wraps err into a RegistryError of the kind it is.
func (r *ImageRepository) fail(op string, err error) error {
	e := &RegistryError{Op: op, Image: r.repo.String(), Err: err, secrets: r.creds.secrets()}
	var be *boundError
	var terr *transport.Error
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &be):
		e.Kind = be.kind
	case errors.As(err, &terr):
		switch terr.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			e.Kind = ErrUnauthorized
		case http.StatusNotFound:
			e.Kind = ErrImageNotFound
		}
	case errors.As(err, &syn), errors.As(err, &typ), errors.Is(err, io.ErrUnexpectedEOF):
		e.Kind = ErrBadResponse
	case !r.insecure && strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		e.Err = fmt.Errorf("%w (a plain-HTTP registry needs WithInsecure)", err)
	}
	return e
}

// boundError is a failure the lister itself decided.
type boundError struct {
	kind error
	msg  string
}

func (e *boundError) Error() string { return e.msg }

// guard is the transport under go-containerregistry's: it upgrades plain
// HTTP to HTTPS unless insecure was asked for, and bounds each response
// body.
type guard struct {
	inner    http.RoundTripper
	insecure bool
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req
	if !g.insecure && req.URL.Scheme == "http" {
		out = req.Clone(req.Context())
		out.URL.Scheme = "https"
	}
	resp, err := g.inner.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	// The caller resolves the Link header against the request it made.
	resp.Request = req
	if resp.Body != nil {
		resp.Body = &limitedBody{rc: resp.Body, left: maxResponseBytes}
	}
	return resp, nil
}

// limitedBody fails a read past its bound rather than truncating.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, &boundError{kind: ErrBadResponse, msg: fmt.Sprintf("a response body is larger than %d bytes", maxResponseBytes)}
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
