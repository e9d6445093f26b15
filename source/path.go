package source

import (
	"strings"
	"unicode/utf8"
)

// CheckPath reports whether p, a slash-separated path relative to a
// snapshot root as found in a Git tree or a directory walk, is safe to
// expose. It returns a *[PathError] (wrapping [ErrUnsafePath]) for an empty
// path, an absolute path ("/x", "C:x", `\\x`), a backslash, a NUL or other
// control byte, invalid UTF-8, an empty, "." or ".." component, or a
// component that some file system treats as ".git" (see [IsGitDir]).
func CheckPath(p string) error {
	if p == "" {
		return &PathError{Path: p, Reason: "empty path"}
	}
	if !utf8.ValidString(p) {
		return &PathError{Path: p, Reason: "invalid UTF-8"}
	}
	if p[0] == '/' {
		return &PathError{Path: p, Reason: "absolute path"}
	}
	if len(p) >= 2 && p[1] == ':' {
		return &PathError{Path: p, Reason: "drive-letter path"}
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\':
			return &PathError{Path: p, Reason: "backslash in path"}
		case c < 0x20 || c == 0x7f:
			return &PathError{Path: p, Reason: "control character in path"}
		}
	}
	for _, c := range strings.Split(p, "/") {
		switch {
		case c == "":
			return &PathError{Path: p, Reason: "empty path component"}
		case c == "." || c == "..":
			return &PathError{Path: p, Reason: "dot path component"}
		case IsGitDir(c):
			return &PathError{Path: p, Reason: "Git internals"}
		}
	}
	return nil
}

// IsGitDir reports whether the path component name would name Git's own
// directory on some file system: ".git" in any case (Windows, macOS),
// with trailing dots or spaces (Windows), with an NTFS stream suffix
// (".git::$INDEX_ALLOCATION"), as the 8.3 short name "git~1", or with code
// points that HFS+ ignores (".g\u200cit").
func IsGitDir(name string) bool {
	var b strings.Builder
	for _, r := range name {
		if hfsIgnorable(r) {
			continue
		}
		b.WriteRune(r)
	}
	n := strings.ToLower(b.String())
	if i := strings.IndexByte(n, ':'); i >= 0 {
		n = n[:i]
	}
	n = strings.TrimRight(n, ". ")
	return n == ".git" || n == "git~1"
}

// hfsIgnorable lists the code points HFS+ drops when comparing names, as
// Git's is_hfs_dotgit does.
func hfsIgnorable(r rune) bool {
	switch {
	case r == 0x200c, r == 0x200d, r == 0x200e, r == 0x200f,
		r >= 0x202a && r <= 0x202e,
		r >= 0x206a && r <= 0x206f,
		r == 0xfeff:
		return true
	}
	return false
}
