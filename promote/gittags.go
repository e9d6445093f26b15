package promote

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"
)

// GitTagsOptions configure a [GitTags] source. A zero field takes its
// default.
type GitTagsOptions struct {
	// Username and Password (or a token as the password) authenticate
	// over HTTP(S); anonymous when both are empty.
	Username, Password string
	// Exclusions are regular expressions of tags to leave out; none by
	// default.
	Exclusions []string
	// MaxTags bounds the tags read ([DefaultMaxTags]); past it Tags fails
	// with ErrTooManyTags.
	MaxTags int
	// Timeout bounds one listing ([DefaultTimeout]).
	Timeout time.Duration
	// AllowFileURLs allows file:// URLs (tests, local mirrors).
	AllowFileURLs bool
}

// GitTags lists the tags of a Git remote, as Kargo's Git subscriptions
// and Flux's semver refs read them: one ref listing (git ls-remote), no
// clone. It implements [TagSource]; [GitTags.Commit] gives the commit a
// tag points at, annotated tags peeled. It is safe for concurrent use.
type GitTags struct {
	url      string
	auth     transport.AuthMethod
	excluded exclusions
	maxTags  int
	timeout  time.Duration

	mu      sync.Mutex
	commits map[string]plumbing.Hash // of the last listing
	skipped int
}

// NewGitTags returns the tag source of the remote at rawURL (https://,
// http://, or file:// with AllowFileURLs).
func NewGitTags(rawURL string, opts GitTagsOptions) (*GitTags, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" && u.Scheme != "file" {
		return nil, fmt.Errorf("git tags: %q is not a URL", clip(redactURL(rawURL)))
	}
	switch {
	case u.Scheme == "https" || u.Scheme == "http":
	case u.Scheme == "file" && opts.AllowFileURLs:
	default:
		return nil, fmt.Errorf("git tags: %s: the scheme %q is not allowed (https, http)", redactURL(rawURL), clip(u.Scheme))
	}
	if u.User != nil {
		return nil, fmt.Errorf("git tags: %s: give credentials as options, not in the URL", redactURL(rawURL))
	}
	g := &GitTags{url: rawURL, maxTags: opts.MaxTags, timeout: opts.Timeout}
	if g.maxTags <= 0 {
		g.maxTags = DefaultMaxTags
	}
	if g.timeout <= 0 {
		g.timeout = DefaultTimeout
	}
	if opts.Username != "" || opts.Password != "" {
		g.auth = &githttp.BasicAuth{Username: cmp.Or(opts.Username, "git"), Password: opts.Password}
	}
	if g.excluded, err = compileExclusions(opts.Exclusions); err != nil {
		return nil, fmt.Errorf("git tags %s: %w", redactURL(rawURL), err)
	}
	return g, nil
}

var _ TagSource = (*GitTags)(nil)

// Tags lists the remote's tags, sorted, less the excluded ones and any
// that is not a plain tag name (a quote, YAML syntax, 256 bytes or more:
// counted by [GitTags.Skipped]). It fails wrapping ErrUnauthorized,
// ErrImageNotFound (no such repository), ErrTooManyTags, or the
// context's error; no error shows the credentials.
func (g *GitTags) Tags(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	remote := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{g.url}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: g.auth, PeelingOption: git.AppendPeeled})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return []string{}, nil
	}
	if err != nil {
		return nil, g.fail(err)
	}
	commits := map[string]plumbing.Hash{}
	peeled := map[string]bool{}
	skipped := 0
	for _, r := range refs {
		name := r.Name().String()
		tag, ok := strings.CutPrefix(name, "refs/tags/")
		if !ok {
			continue
		}
		tag, isPeeled := strings.CutSuffix(tag, "^{}")
		if !validGitTag(tag) {
			if !isPeeled {
				skipped++
			}
			continue
		}
		// The peeled entry (the commit of an annotated tag) wins over the
		// tag object's hash.
		if isPeeled || !peeled[tag] {
			commits[tag] = r.Hash()
			peeled[tag] = peeled[tag] || isPeeled
		}
	}
	if len(commits) > g.maxTags {
		return nil, fmt.Errorf("git tags of %s: %w: %d tags, over the bound of %d", redactURL(g.url), ErrTooManyTags, len(commits), g.maxTags)
	}
	g.mu.Lock()
	g.commits, g.skipped = commits, skipped
	g.mu.Unlock()
	tags := make([]string, 0, len(commits))
	for t := range commits {
		tags = append(tags, t)
	}
	slices.Sort(tags)
	return g.excluded.filter(tags), nil
}

// Commit returns the commit tag pointed at in the last listing (the
// target of an annotated tag), or ErrNotFound.
func (g *GitTags) Commit(tag string) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	h, ok := g.commits[tag]
	if !ok {
		return "", fmt.Errorf("git tag %q of %s: %w", clip(tag), redactURL(g.url), ErrNotFound)
	}
	return h.String(), nil
}

// Skipped returns how many tags the last listing left out as not plain
// tag names.
func (g *GitTags) Skipped() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.skipped
}

func (g *GitTags) fail(err error) error {
	kind := err
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		kind = ErrUnauthorized
	case errors.Is(err, transport.ErrRepositoryNotFound):
		kind = ErrImageNotFound
	}
	if kind != err {
		return fmt.Errorf("git tags of %s: %w: %s", redactURL(g.url), kind, clip(err.Error()))
	}
	return fmt.Errorf("git tags of %s: %w", redactURL(g.url), err)
}

// validGitTag accepts what a tag to promote by looks like: letters,
// digits and . _ - + /, shorter than 256 bytes; quotes, YAML syntax and
// spaces, which Git allows in a ref, are not in it.
func validGitTag(t string) bool {
	if t == "" || len(t) >= 256 {
		return false
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-+/", c)) {
			return false
		}
	}
	return true
}

// redactURL drops userinfo from a URL for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "a URL that does not parse"
	}
	u.User = nil
	return u.String()
}
