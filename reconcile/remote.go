package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"strings"
	"sync"

	"github.com/converge-dev/converge/render/kustomize"
	"github.com/converge-dev/converge/source"
	"github.com/converge-dev/converge/source/git"
)

// RemoteBase is a Kustomize remote base reference, parsed.
type RemoteBase struct {
	// Repo is the repository's URL, Dir the base's directory in it
	// ("." for its root), Ref the revision ("" for the default branch).
	Repo, Dir, Ref string
}

// ErrRemoteBase: a remote base reference converge cannot read.
var ErrRemoteBase = errors.New("not a remote base reference converge can read")

// hostsWithOwnerRepo are forges whose repositories are host/owner/name,
// so a reference needs no "//" to say where the repository ends.
var hostsWithOwnerRepo = map[string]bool{"github.com": true, "gitlab.com": true, "bitbucket.org": true}

// ParseRemoteBase reads the forms of remote base Kustomize accepts:
// "https://github.com/org/repo//deploy/base?ref=v1",
// "github.com/org/repo/deploy/base?ref=main", "git@github.com:org/repo.git//base",
// "ssh://git@host/org/repo.git/base" and a "git::" prefix. Where the
// repository ends is "//", else ".git", else the owner/name of GitHub,
// GitLab and Bitbucket; anything else is an error asking for "//".
func ParseRemoteBase(ref string) (RemoteBase, error) {
	bad := func(why string) (RemoteBase, error) {
		return RemoteBase{}, fmt.Errorf("%w: %s: %s", ErrRemoteBase, redactURL(ref), why)
	}
	s := strings.TrimPrefix(ref, "git::")
	var rb RemoteBase
	if i := strings.IndexByte(s, '?'); i >= 0 {
		q, err := url.ParseQuery(s[i+1:])
		if err != nil {
			return bad("the query does not parse")
		}
		rb.Ref = q.Get("ref")
		if rb.Ref == "" {
			rb.Ref = q.Get("version")
		}
		s = s[:i]
	}
	switch {
	case strings.HasPrefix(s, "https://"), strings.HasPrefix(s, "http://"), strings.HasPrefix(s, "ssh://"):
	case strings.Contains(s, "://"):
		return bad("only https, http and ssh repositories")
	case scpLike.MatchString(s):
		// git@host:org/repo is ssh://git@host/org/repo.
		i := strings.IndexByte(s, ':')
		s = "ssh://" + s[:i] + "/" + s[i+1:]
	default:
		s = "https://" + s
	}
	i := strings.Index(s, "://") + 3
	scheme, rest := s[:i], s[i:]
	var repo, dir string
	switch {
	case strings.Contains(rest, "//"):
		j := strings.Index(rest, "//")
		repo, dir = rest[:j], rest[j+2:]
	case strings.Contains(rest, ".git/") || strings.HasSuffix(rest, ".git"):
		j := strings.Index(rest, ".git")
		repo, dir = rest[:j+4], rest[j+4:]
	default:
		parts := strings.Split(rest, "/")
		host := parts[0][strings.LastIndexByte(parts[0], '@')+1:]
		if !hostsWithOwnerRepo[strings.ToLower(host)] || len(parts) < 3 {
			return bad(`say where the repository ends with "//" (host/org/repo//path)`)
		}
		repo, dir = strings.Join(parts[:3], "/"), strings.Join(parts[3:], "/")
	}
	for _, seg := range strings.Split(dir, "/") {
		if seg == ".." {
			return bad("the directory leaves the repository")
		}
	}
	dir = path.Clean("/" + dir)
	rb.Repo = scheme + strings.TrimSuffix(repo, "/")
	rb.Dir = strings.TrimPrefix(dir, "/")
	if rb.Dir == "" {
		rb.Dir = "."
	}
	if _, err := git.New(rb.Repo, git.Reference{Branch: "main"}); err != nil && errors.Is(err, git.ErrInvalidURL) {
		return bad("the repository URL is not valid")
	}
	return rb, nil
}

// RemoteBaseFetcher returns a kustomize.Fetcher that reads remote bases
// through source/git with the default fetcher's options: one Source per
// repository and revision, so that checking an unchanged base costs one
// reference listing. A revision that may be a branch or a tag is tried as
// both, as Kustomize does.
func RemoteBaseFetcher(o FetcherOptions) kustomize.Fetcher {
	f := &remoteFetcher{opts: o, sources: map[RemoteBase]source.Source{}}
	return kustomize.FetcherFunc(f.fetch)
}

type remoteFetcher struct {
	opts    FetcherOptions
	mu      sync.Mutex
	sources map[RemoteBase]source.Source
}

func (f *remoteFetcher) fetch(ctx context.Context, ref string) (fs.FS, string, error) {
	rb, err := ParseRemoteBase(ref)
	if err != nil {
		return nil, "", err
	}
	key := RemoteBase{Repo: rb.Repo, Ref: rb.Ref}
	f.mu.Lock()
	src := f.sources[key]
	f.mu.Unlock()
	if src == nil {
		var refs []git.Reference
		if rb.Ref == "" {
			refs = []git.Reference{{Branch: "main"}}
		} else if refs, err = git.RemoteReferences(rb.Ref); err != nil {
			return nil, "", err
		}
		opts := []git.Option{git.WithLogger(f.opts.Logger), git.WithHistoryRewrites()}
		if f.opts.AllowFileURLs {
			opts = append(opts, git.WithFileURLs())
		}
		if f.opts.Timeout > 0 {
			opts = append(opts, git.WithTimeout(f.opts.Timeout))
		}
		src, err = firstFound(ctx, rb.Repo, refs, opts)
		if err != nil {
			return nil, "", err
		}
		f.mu.Lock()
		f.sources[key] = src
		f.mu.Unlock()
	}
	snap, err := src.Fetch(ctx)
	if err != nil {
		return nil, "", err
	}
	return snap.FS, rb.Dir, nil
}

// firstFound returns a source at the first of refs the repository has.
func firstFound(ctx context.Context, repo string, refs []git.Reference, opts []git.Option) (source.Source, error) {
	var last error
	for _, ref := range refs {
		src, err := git.New(repo, ref, opts...)
		if err != nil {
			return nil, err
		}
		if _, err := src.Fetch(ctx); err != nil {
			last = err
			if errors.Is(err, source.ErrNotFound) {
				continue
			}
			return nil, err
		}
		return src, nil
	}
	return nil, last
}
