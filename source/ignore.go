package source

import (
	"bufio"
	"bytes"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// IgnoreFile is the name of the files whose gitignore patterns add to the
// ones the host passes. As with .gitignore, one may sit in any directory;
// its patterns are relative to that directory and apply only under it, and
// a deeper file's patterns take precedence over a shallower one's (so a
// "!name" line can bring back what a parent's file left out, unless a parent
// directory itself is left out). Only regular files count: a directory or
// symbolic link of that name is ignored.
const IgnoreFile = ".sourceignore"

// MaxIgnoreFileBytes bounds one [IgnoreFile]; a larger one fails the
// snapshot with a *[LimitError].
const MaxIgnoreFileBytes = 1 << 20

// Ignore decides which paths a snapshot keeps: only those under one of the
// include paths (all when there are none), minus those matched by gitignore
// patterns. The zero value and nil keep everything. An Ignore is immutable
// and safe for concurrent use.
type Ignore struct {
	include  []string
	patterns []gitignore.Pattern
}

// NewIgnore returns an Ignore keeping include (slash-separated paths
// relative to the root, a directory keeping everything under it; none keeps
// all) minus what the gitignore patterns match.
func NewIgnore(include, patterns []string) *Ignore {
	ig := &Ignore{}
	for _, p := range include {
		p = strings.Trim(p, "/")
		if p != "" && p != "." {
			ig.include = append(ig.include, p)
		}
	}
	for _, p := range patterns {
		ig.patterns = append(ig.patterns, parsePatterns(p, nil)...)
	}
	return ig
}

// WithFile returns a copy of ig that also applies the patterns of a
// root [IgnoreFile]'s content.
func (ig *Ignore) WithFile(content []byte) *Ignore {
	return ig.WithFileIn("", content)
}

// WithFileIn returns a copy of ig that also applies the patterns of the
// content of the [IgnoreFile] in directory dir (slash-separated, relative
// to the root; "" or "." is the root). The patterns match paths relative to
// dir and only paths under it, and take precedence over those added before,
// so a walk adds a directory's file after its parents'.
func (ig *Ignore) WithFileIn(dir string, content []byte) *Ignore {
	out := &Ignore{}
	if ig != nil {
		out.include = ig.include
		out.patterns = append(out.patterns, ig.patterns...)
	}
	var domain []string
	if dir = strings.Trim(dir, "/"); dir != "" && dir != "." {
		domain = strings.Split(dir, "/")
	}
	sc := bufio.NewScanner(bytes.NewReader(content))
	sc.Buffer(nil, 64<<10)
	for sc.Scan() {
		out.patterns = append(out.patterns, parsePatterns(sc.Text(), domain)...)
	}
	return out
}

func parsePatterns(line string, domain []string) []gitignore.Pattern {
	line = strings.TrimRight(line, "\r")
	if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
		return nil
	}
	return []gitignore.Pattern{gitignore.ParsePattern(line, domain)}
}

// Skip reports whether the path p (slash-separated, relative to the root)
// is left out. Directories that lead to an include path are kept so a walk
// can reach it.
func (ig *Ignore) Skip(p string, isDir bool) bool {
	if ig == nil {
		return false
	}
	if len(ig.include) > 0 && !ig.included(p, isDir) {
		return true
	}
	if len(ig.patterns) == 0 {
		return false
	}
	return gitignore.NewMatcher(ig.patterns).Match(strings.Split(p, "/"), isDir)
}

func (ig *Ignore) included(p string, isDir bool) bool {
	for _, q := range ig.include {
		if p == q || strings.HasPrefix(p, q+"/") {
			return true
		}
		if isDir && strings.HasPrefix(q, p+"/") {
			return true
		}
	}
	return false
}
