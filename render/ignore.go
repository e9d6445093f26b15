package render

import (
	"fmt"
	"path"
	"strings"
)

// Ignore matches paths against patterns in the subset of .gitignore's
// syntax that [Options.Ignore] documents. The zero Ignore matches nothing.
type Ignore struct {
	rules []ignoreRule
}

type ignoreRule struct {
	pattern  string
	negate   bool
	dirOnly  bool
	anchored bool // matched against the whole relative path, not the base name
}

// NewIgnore compiles patterns. Blank lines and lines starting with "#" are
// skipped, so a .gitignore-style file's lines can be passed as they are. It
// fails on a malformed pattern.
func NewIgnore(patterns []string) (Ignore, error) {
	var ig Ignore
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		r := ignoreRule{}
		if strings.HasPrefix(p, "!") {
			r.negate, p = true, p[1:]
		}
		if strings.HasSuffix(p, "/") {
			r.dirOnly, p = true, strings.TrimSuffix(p, "/")
		}
		if strings.HasPrefix(p, "/") {
			r.anchored, p = true, strings.TrimPrefix(p, "/")
		} else if strings.Contains(p, "/") {
			r.anchored = true
		}
		if p == "" {
			continue
		}
		if _, err := path.Match(p, ""); err != nil {
			return Ignore{}, fmt.Errorf("%w: ignore pattern %q: %v", ErrSyntax, p, err)
		}
		r.pattern = p
		ig.rules = append(ig.rules, r)
	}
	return ig, nil
}

// Match reports whether rel, a slash-separated path relative to the
// rendered directory, is ignored. The last matching pattern wins. Callers
// walking a tree skip the contents of an ignored directory.
func (ig Ignore) Match(rel string, isDir bool) bool {
	ignored := false
	base := path.Base(rel)
	for _, r := range ig.rules {
		if r.dirOnly && !isDir {
			continue
		}
		subject := base
		if r.anchored {
			subject = rel
		}
		if ok, _ := path.Match(r.pattern, subject); ok {
			ignored = !r.negate
		}
	}
	return ignored
}
