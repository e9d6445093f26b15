package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/source"
	"github.com/converge-dev/converge/source/git"
)

var scpLike = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9._-]+:`)

// isURL tells a Git URL from a local directory.
func isURL(repo string) bool {
	return strings.Contains(repo, "://") || scpLike.MatchString(repo)
}

// repoSource is a resolved --repo and --ref.
type repoSource struct {
	source reconcile.Source
	// candidates are the other references a remote revision may be
	// ("main" as a branch, then as a tag), tried when source's is not found.
	candidates []git.Reference
	display    string // without credentials
	identity   string // what reconcile.DefaultName hashes
	rev        string // as given, for messages
}

// resolveRepo reads --repo at rev: a Git URL at a revision it serves
// (branch, tag, semver range, commit, refs/...), or a local directory,
// read as it is on disk unless asGit (a revision was asked for), when it
// is read as a Git repository at any revision git rev-parse accepts.
func resolveRepo(ctx context.Context, repo, rev string, asGit bool) (repoSource, error) {
	if repo == "" {
		return repoSource{}, usagef("--repo is required")
	}
	if isURL(repo) {
		refs := []git.Reference{{Branch: "main"}}
		if rev != "" {
			var err error
			if refs, err = git.RemoteReferences(rev); err != nil {
				return repoSource{}, usagef("revision %q: %v", rev, err)
			}
		}
		// The URL is checked before any I/O; git's message never quotes
		// a password.
		if _, err := git.New(repo, refs[0], git.WithFileURLs()); errors.Is(err, git.ErrInvalidURL) || errors.Is(err, git.ErrInvalidReference) {
			return repoSource{}, usagef("%v", err)
		}
		return repoSource{
			source:     reconcile.Source{URL: repo, Ref: refs[0]},
			candidates: refs[1:],
			display:    git.Redact(repo),
			identity:   repo,
			rev:        cmpOr(rev, "main"),
		}, nil
	}
	abs, err := filepath.Abs(repo)
	if err != nil {
		return repoSource{}, fmt.Errorf("repository %s: %w", repo, err)
	}
	info, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return repoSource{}, fmt.Errorf("repository %s does not exist", repo)
	case err != nil:
		return repoSource{}, fmt.Errorf("repository %s: %w", repo, err)
	case !info.IsDir():
		return repoSource{}, fmt.Errorf("repository %s is not a directory", repo)
	}
	if !asGit {
		return repoSource{source: reconcile.Source{Dir: abs}, display: repo, identity: abs}, nil
	}
	if !isGitRoot(abs) {
		return repoSource{}, fmt.Errorf("repository %s is not the root of a Git repository, which --ref and diff need (without --ref, plan, apply and sync read a directory as it is)", repo)
	}
	if rev == "" {
		rev = "HEAD"
	}
	ref, err := git.ResolveRevision(ctx, abs, rev)
	switch {
	case errors.Is(err, git.ErrUnsupportedRevision), errors.Is(err, git.ErrInvalidReference):
		return repoSource{}, usagef("revision %q: %v", rev, err)
	case err != nil:
		return repoSource{}, fmt.Errorf("revision %q of %s: %s", rev, repo, oneLine(err.Error()))
	}
	return repoSource{source: reconcile.Source{URL: "file://" + filepath.ToSlash(abs), Ref: ref}, display: repo, identity: abs, rev: rev}, nil
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

// notFound reports whether a pass failed because the revision is not in
// the repository, so the next candidate reference may be tried.
func notFound(err error) bool { return errors.Is(err, source.ErrNotFound) }

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
