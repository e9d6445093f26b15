package render

import (
	"fmt"
	"path"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// Ignore matches paths against .gitignore patterns, with git's own
// semantics (go-git's implementation, as package source uses): "**",
// anchoring, directory-only patterns, negation with the last match winning.
// The zero Ignore matches nothing.
type Ignore struct {
	matcher gitignore.Matcher
}

// NewIgnore compiles patterns. Blank lines and lines starting with "#" are
// skipped, so a .gitignore-style file's lines can be passed as they are. It
// fails on a malformed pattern.
func NewIgnore(patterns []string) (Ignore, error) {
	var ps []gitignore.Pattern
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		// git ignores a malformed glob silently; a host's typo deserves an
		// error instead.
		if _, err := path.Match(strings.TrimPrefix(p, "!"), ""); err != nil {
			return Ignore{}, fmt.Errorf("%w: ignore pattern %q: %v", ErrSyntax, p, err)
		}
		ps = append(ps, gitignore.ParsePattern(p, nil))
	}
	if len(ps) == 0 {
		return Ignore{}, nil
	}
	return Ignore{matcher: gitignore.NewMatcher(ps)}, nil
}

// Match reports whether rel, a slash-separated path relative to the
// rendered directory, is ignored. Callers walking a tree skip the contents
// of an ignored directory.
func (ig Ignore) Match(rel string, isDir bool) bool {
	if ig.matcher == nil {
		return false
	}
	return ig.matcher.Match(strings.Split(rel, "/"), isDir)
}
