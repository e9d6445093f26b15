package promote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	sourcegit "github.com/converge-dev/converge/source/git"
)

// GitTag is one tag of a Git remote.
type GitTag struct {
	// Name is the tag's name, without "refs/tags/".
	Name string
	// Commit is the object the tag names once peeled: for an annotated
	// tag, the commit its tag object points at, not the tag object.
	Commit string
	// Annotated reports a tag object (`git tag -a`), false for a
	// lightweight tag.
	Annotated bool
}

// GitTagList is one listing of a remote's tags.
type GitTagList struct {
	// Tags are sorted by name, the excluded ones left out.
	Tags []GitTag
	// Skipped counts the tags left out because their names are not
	// plain (see [GitTags.List]); excluded tags are not counted.
	Skipped int
}

// Names returns the tags' names, in order, for a [Policy].
func (l GitTagList) Names() []string {
	out := make([]string, len(l.Tags))
	for i, t := range l.Tags {
		out[i] = t.Name
	}
	return out
}

// Lookup returns the tag called name.
func (l GitTagList) Lookup(name string) (GitTag, bool) {
	for _, t := range l.Tags {
		if t.Name == name {
			return t, true
		}
	}
	return GitTag{}, false
}

// GitTags lists the tags of a Git remote over smart HTTP(S), as Kargo's
// Git subscriptions and Flux's semver references read them: one
// reference listing (what `git ls-remote --tags` asks), no clone and no
// object. It implements [TagSource]; it is safe for concurrent use and
// keeps no state between calls.
type GitTags struct {
	name     string
	endpoint *transport.Endpoint
	client   transport.Transport
	auth     transport.AuthMethod
	creds    Credentials
	excluded exclusions
	maxTags  int
	timeout  time.Duration
}

// NewGitTags returns the tag source of the remote at rawURL, an https://
// URL (http:// only WithInsecure) without credentials in it. It takes an
// [ImageRepository]'s options, with the same meaning and defaults:
//
//   - WithCredentials: Username and Password are HTTP basic (for GitHub
//     and GitLab, a token as the password); Token is sent as
//     "Authorization: Bearer"; a Docker config is refused.
//   - WithExclusions ([DefaultExclusions]), WithMaxTags
//     ([DefaultMaxTags], counted over every tag the remote lists),
//     WithTimeout ([DefaultTimeout]), WithTransport and WithInsecure.
//   - WithPageSize has no effect: a remote lists its references at once.
//
// The listing itself is bounded as a registry page is (32 MiB). SSH
// remotes are not supported.
func NewGitTags(rawURL string, opts ...RepositoryOption) (*GitTags, error) {
	u, err := sourcegit.ParseURL(rawURL, false)
	if err != nil {
		return nil, fmt.Errorf("git tags: %w", err)
	}
	cfg := repositoryConfig(opts)
	g := &GitTags{name: u.String(), creds: cfg.creds, maxTags: cfg.maxTags, timeout: cfg.timeout}
	fail := func(err error) (*GitTags, error) { return nil, fmt.Errorf("git tags %s: %w", g.name, err) }
	switch {
	case u.Scheme == "ssh":
		return fail(errors.New("SSH remotes are not supported; use the https URL"))
	case u.Scheme == "http" && !cfg.insecure:
		return fail(errors.New("plain HTTP needs WithInsecure"))
	}
	if g.excluded, err = cfg.validateShared(); err != nil {
		return fail(err)
	}
	switch {
	case len(cfg.creds.DockerConfigJSON) > 0:
		return fail(fmt.Errorf("%w: a Docker config is for registries; give a Git remote a username and password or a token", ErrInvalidCredentials))
	case cfg.creds.Username != "":
		g.auth = &githttp.BasicAuth{Username: cfg.creds.Username, Password: cfg.creds.Password}
	case cfg.creds.Token != "":
		g.auth = &githttp.TokenAuth{Token: cfg.creds.Token}
	}
	if g.endpoint, err = transport.NewEndpoint(g.name); err != nil {
		return fail(errors.New("the URL is not a Git endpoint")) // go-git's text quotes the URL
	}
	// A client of our own, not go-git's process-wide one: it takes the
	// caller's transport, keeps to HTTPS and bounds the listing.
	hc := &http.Client{Transport: &guard{inner: cfg.transport, insecure: cfg.insecure}}
	g.client = githttp.NewClientWithOptions(hc, &githttp.ClientOptions{RedirectPolicy: githttp.FollowInitialRedirects})
	return g, nil
}

// Name returns the remote's URL.
func (g *GitTags) Name() string { return g.name }

// Tags returns the names [GitTags.List] lists.
func (g *GitTags) Tags(ctx context.Context) ([]string, error) {
	l, err := g.List(ctx)
	if err != nil {
		return nil, err
	}
	return l.Names(), nil
}

// List lists the remote's tags, sorted by name, each with the commit it
// peels to, less the excluded ones and those whose name is not plain: a
// name must be letters, digits and . _ + / - (starting with a letter, a
// digit or _), without "..", shorter than 256 bytes, so that it can go
// into a YAML file as it is. Git allows quotes, braces and '#' in a tag,
// and a hostile server may list anything. An empty repository has no
// tags. List fails with a [*RegistryError] wrapping ErrUnauthorized (401,
// 403), ErrImageNotFound (no such repository), ErrTooManyTags,
// ErrBadResponse (not the Git protocol, or over the bound), or the
// context's error.
func (g *GitTags) List(ctx context.Context) (GitTagList, error) {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	ar, err := g.advertised(ctx)
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return GitTagList{Tags: []GitTag{}}, nil
	}
	if err != nil {
		return GitTagList{}, g.fail(err)
	}
	l, err := selectGitTags(ar.References, ar.Peeled, g.excluded, g.maxTags)
	if err != nil {
		return GitTagList{}, g.fail(err)
	}
	return l, nil
}

// advertised reads the remote's reference listing: go-git's Remote.List
// without its process-wide HTTP client.
func (g *GitTags) advertised(ctx context.Context) (*packp.AdvRefs, error) {
	sess, err := g.client.NewUploadPackSession(g.endpoint, g.auth)
	if err != nil {
		return nil, err
	}
	defer func() { _ = sess.Close() }() // nothing to flush after a listing
	return sess.AdvertisedReferencesContext(ctx)
}

// selectGitTags takes the tags out of a reference listing: refs maps
// reference names to what they point at, peeled the annotated tags to
// their targets.
func selectGitTags(refs, peeled map[string]plumbing.Hash, ex exclusions, maxTags int) (GitTagList, error) {
	n := 0
	for ref := range refs {
		if strings.HasPrefix(ref, "refs/tags/") {
			n++
		}
	}
	if n > maxTags {
		return GitTagList{}, &boundError{kind: ErrTooManyTags, msg: fmt.Sprintf("%d tags, more than %d (WithMaxTags)", n, maxTags)}
	}
	l := GitTagList{Tags: make([]GitTag, 0, n)}
	for ref, hash := range refs {
		name, ok := strings.CutPrefix(ref, "refs/tags/")
		if !ok || ex.excludes(name) {
			continue
		}
		if !validGitTag(name) {
			l.Skipped++
			continue
		}
		t := GitTag{Name: name, Commit: hash.String()}
		if target, ok := peeled[ref]; ok {
			t.Commit, t.Annotated = target.String(), true
		}
		l.Tags = append(l.Tags, t)
	}
	slices.SortFunc(l.Tags, func(a, b GitTag) int { return strings.Compare(a.Name, b.Name) })
	return l, nil
}

var gitTagName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._+/-]{0,254}$`)

func validGitTag(name string) bool {
	return gitTagName.MatchString(name) && !strings.Contains(name, "..")
}

// fail wraps err into a RegistryError of the kind it is. The texts a
// server controls (the body of a 401, the bytes of a bad listing) are
// left out: they are long, and may echo what the request carried.
func (g *GitTags) fail(err error) error {
	e := &RegistryError{Op: "list tags of", Image: g.name, Err: err, secrets: g.creds.secrets()}
	var be *boundError
	var bad *packp.ErrUnexpectedData
	var serverErr *pktline.ErrorLine
	var unexpected *plumbing.UnexpectedError
	switch {
	case errors.As(err, &be):
		e.Kind = be.kind
	case errors.Is(err, transport.ErrAuthenticationRequired):
		e.Kind, e.Err = ErrUnauthorized, transport.ErrAuthenticationRequired
	case errors.Is(err, transport.ErrAuthorizationFailed):
		e.Kind, e.Err = ErrUnauthorized, transport.ErrAuthorizationFailed
	case errors.Is(err, transport.ErrRepositoryNotFound):
		e.Kind, e.Err = ErrImageNotFound, transport.ErrRepositoryNotFound
	case errors.As(err, &bad):
		e.Kind, e.Err = ErrBadResponse, errors.New(clip(bad.Msg))
	case errors.As(err, &serverErr):
		e.Err = fmt.Errorf("the server says: %s", clip(strings.TrimSpace(serverErr.Text)))
	case errors.Is(err, pktline.ErrInvalidPktLen), errors.Is(err, packp.ErrEmptyInput):
		e.Kind, e.Err = ErrBadResponse, errors.New("the answer is not a Git reference listing")
	case errors.As(err, &unexpected):
		// go-git's status error (it has no Unwrap) quotes the request URL.
		var status *githttp.Err
		if errors.As(unexpected.Err, &status) {
			e.Err = fmt.Errorf("the server answered %s", clip(status.Response.Status))
		}
	}
	return e
}

// repositoryConfig applies an ImageRepository's options to one with
// NewImageRepository's defaults, for the sources that share them.
func repositoryConfig(opts []RepositoryOption) *ImageRepository {
	r := &ImageRepository{
		exclusions: DefaultExclusions,
		maxTags:    DefaultMaxTags,
		pageSize:   DefaultPageSize,
		timeout:    DefaultTimeout,
		transport:  remote.DefaultTransport,
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// validateShared checks the options every source reads, as
// NewImageRepository does, and compiles the exclusions.
func (r *ImageRepository) validateShared() (exclusions, error) {
	ex, err := compileExclusions(r.exclusions)
	if err != nil {
		return nil, err
	}
	if err := r.creds.validate(); err != nil {
		return nil, err
	}
	if r.maxTags <= 0 {
		return nil, fmt.Errorf("max tags must be positive, not %d", r.maxTags)
	}
	if r.timeout <= 0 {
		return nil, fmt.Errorf("timeout must be positive, not %s", r.timeout)
	}
	return ex, nil
}

// excludes reports whether a pattern matches s.
func (ex exclusions) excludes(s string) bool {
	for _, re := range ex {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}
