package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/kustomize"
	"github.com/converge-dev/converge/source"
	"github.com/converge-dev/converge/source/dir"
	"github.com/converge-dev/converge/source/git"
)

var (
	scpLike  = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9._-]+:`)
	fullHash = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// isURL tells a Git URL from a local directory.
func isURL(repo string) bool {
	return strings.Contains(repo, "://") || scpLike.MatchString(repo)
}

// openRepo returns the source --repo names at rev: a Git URL at a branch,
// tag or commit, or a local directory. A directory is read as it is on disk
// unless asGit is set (a revision was asked for), when it is read as a Git
// repository through a file:// URL.
func openRepo(repo, rev string, asGit bool) (source.Source, error) {
	if repo == "" {
		return nil, usagef("--repo is required")
	}
	url := repo
	if !isURL(repo) {
		abs, err := filepath.Abs(repo)
		if err != nil {
			return nil, fmt.Errorf("repository %s: %w", repo, err)
		}
		info, err := os.Stat(abs)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("repository %s does not exist", repo)
		case err != nil:
			return nil, fmt.Errorf("repository %s: %w", repo, err)
		case !info.IsDir():
			return nil, fmt.Errorf("repository %s is not a directory", repo)
		}
		if !asGit {
			return dir.New(abs), nil
		}
		if !isGitRoot(abs) {
			return nil, fmt.Errorf("repository %s is not the root of a Git repository, which --ref and diff need (without --ref, plan, apply and sync read a directory as it is)", repo)
		}
		url = "file://" + filepath.ToSlash(abs)
	}
	return gitSource(url, rev)
}

// isGitRoot reports whether dir is a Git work tree's root or a bare
// repository.
func isGitRoot(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
		return true
	}
	_, errHead := os.Stat(filepath.Join(dir, "HEAD"))
	info, errObjects := os.Stat(filepath.Join(dir, "objects"))
	return errHead == nil && errObjects == nil && info.IsDir()
}

// gitSource fetches rev of the repository at url: a full commit hash,
// a full reference name ("refs/..."), or a branch, falling back to a tag of
// that name when there is no such branch.
func gitSource(url, rev string) (source.Source, error) {
	if rev == "" {
		rev = "main"
	}
	opts := []git.Option{git.WithFileURLs(), git.WithTimeout(2 * time.Minute)}
	var ref git.Reference
	switch {
	case fullHash.MatchString(rev):
		ref.Commit = rev
	case strings.HasPrefix(rev, "refs/"):
		ref.Name = rev
	default:
		ref.Branch = rev
	}
	src, err := git.New(url, ref, opts...)
	if errors.Is(err, git.ErrInvalidURL) || errors.Is(err, git.ErrInvalidReference) {
		return nil, usagef("%v", err)
	}
	if err != nil {
		return nil, err
	}
	name := git.Redact(url)
	fetch := func(ctx context.Context, s *git.Source) (*source.Snapshot, error) {
		snap, err := s.Fetch(ctx)
		if err != nil {
			return nil, &fetchError{msg: fmt.Sprintf("cannot fetch %s at %s: %s", name, rev, rootCause(err)), err: err}
		}
		return snap, nil
	}
	if ref.Branch == "" {
		return source.SourceFunc(func(ctx context.Context) (*source.Snapshot, error) { return fetch(ctx, src) }), nil
	}
	var tag *git.Source
	return source.SourceFunc(func(ctx context.Context) (*source.Snapshot, error) {
		snap, err := fetch(ctx, src)
		if !errors.Is(err, source.ErrNotFound) {
			return snap, err
		}
		if tag == nil {
			if tag, _ = git.New(url, git.Reference{Tag: rev}, opts...); tag == nil {
				return nil, err
			}
		}
		if snap, terr := fetch(ctx, tag); terr == nil {
			return snap, nil
		}
		return nil, fmt.Errorf("fetch %s: no branch or tag %q", name, rev)
	}), nil
}

// checkPath validates --path: relative, inside the repository.
func checkPath(p string) (string, error) {
	if p == "" {
		return "", usagef("--path is required (for example --path clusters/dev)")
	}
	clean := path.Clean(filepath.ToSlash(p))
	if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", usagef("--path %s must be relative to the repository root, inside it", p)
	}
	return clean, nil
}

// renderPath renders directory p of a snapshot with Kustomize (a directory
// without a kustomization renders its manifests).
func renderPath(ctx context.Context, r *kustomize.Renderer, snap *source.Snapshot, p string) (*object.Set, error) {
	if p != "." {
		info, err := fs.Stat(snap.FS, p)
		if err != nil || !info.IsDir() {
			return nil, fmt.Errorf("path %s does not exist in the repository at %s", p, shortRevision(snap.Revision))
		}
	}
	set, err := r.Render(ctx, snap.FS, p, render.DefaultOptions())
	if err != nil {
		return nil, fmt.Errorf("render %s at %s: %w", p, shortRevision(snap.Revision), err)
	}
	return set, nil
}

// shortRevision abbreviates the hash of a revision for people:
// "main@sha1:0123456789ab".
func shortRevision(rev string) string {
	for _, algo := range []string{"sha1:", "sha256:"} {
		if i := strings.Index(rev, algo); i >= 0 {
			end := min(len(rev), i+len(algo)+12)
			return rev[:end]
		}
	}
	return rev
}

// ownerFor derives an owner name from --path: "clusters/dev" gives
// "clusters-dev".
func ownerFor(p string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(p) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.TrimRight(b.String(), "-")
	if len(name) > 54 {
		name = strings.TrimRight(name[:54], "-")
	}
	if name == "" {
		name = "converge"
	}
	return name
}

// fetchError says why a fetch failed in the words people act on, and
// wraps the full error for errors.Is.
type fetchError struct {
	msg string
	err error
}

func (e *fetchError) Error() string { return e.msg }

func (e *fetchError) Unwrap() error { return e.err }
