package git

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// ErrUnsupportedRevision reports a revision expression that git accepts
// but converge does not resolve: one that needs the reflog or the
// configuration of upstream branches ("main@{1}", "@{u}"), names a file
// or a tree rather than a commit ("HEAD:apps", "HEAD^{tree}"), searches
// commit messages (":/fix", "HEAD^{/fix}"), or names several commits
// ("main..next", "^v1", "HEAD^!"); and, for a remote repository, any
// expression that needs its history or local state (see
// [RemoteReferences]).
var ErrUnsupportedRevision = errors.New("revision not supported")

// remoteForms says what a remote repository can be fetched at, for
// errors.
const remoteForms = `a remote repository is fetched at a branch ("main"), a tag ("v1.4.2"), ` +
	`a semver range over its tags ("~1.4", ">=1.0.0 <2.0.0"), a full commit hash (40 hex digits) ` +
	`or a full reference name ("refs/pull/7/head")`

// maxRevisionCount bounds the numbers in "~n" and "^n": git's own are ints.
const maxRevisionCount = 1<<31 - 1

// revExpr is a parsed revision expression: a name (a reference name, a
// full or abbreviated hash, or "git describe" output) and the suffixes
// that follow it, applied left to right.
type revExpr struct {
	base  string // "@" is read as "HEAD"
	steps []revStep
}

// revStep is one suffix: '~' (first parent n times), '^' (the nth
// parent, 0 the commit itself) or '{' (peel to an object type, "" for
// "any but a tag").
type revStep struct {
	op   byte
	n    int
	kind string
}

// String writes the revision in a canonical form ("HEAD~" is "HEAD~1"),
// which parses back to the same revision.
func (r revExpr) String() string {
	var b strings.Builder
	b.WriteString(r.base)
	for _, s := range r.steps {
		switch s.op {
		case '~', '^':
			b.WriteByte(s.op)
			b.WriteString(strconv.Itoa(s.n))
		case '{':
			b.WriteString("^{" + s.kind + "}")
		}
	}
	return b.String()
}

// peelKinds are the types "^{type}" may name, as in git.
var peelKinds = map[string]bool{"": true, "commit": true, "tag": true, "tree": true, "blob": true, "object": true}

// parseRevision reads expr with git's revision syntax (gitrevisions(7))
// for the forms converge resolves: <name>, "@", and any sequence of "~",
// "~n", "^", "^n" and "^{type}". It fails with [ErrInvalidReference] for
// what git would not read either, and with [ErrUnsupportedRevision] for
// git's other forms.
func parseRevision(expr string) (revExpr, error) {
	invalid := func(reason string) (revExpr, error) {
		return revExpr{}, fmt.Errorf("%w: revision %q: %s", ErrInvalidReference, truncate(expr, 256), reason)
	}
	unsupported := func(reason string) (revExpr, error) {
		return revExpr{}, fmt.Errorf("%w: %q %s", ErrUnsupportedRevision, truncate(expr, 256), reason)
	}
	switch {
	case expr == "":
		return invalid("empty")
	case len(expr) > 1024:
		return invalid("longer than 1024 bytes")
	case strings.Contains(expr, "@{"):
		return unsupported("reads the reflog or the upstream configuration (@{...}), which converge does not")
	case strings.HasPrefix(expr, ":"):
		return unsupported("names a file in the index or searches commit messages (:...), not a commit")
	case strings.Contains(expr, "^{/"):
		return unsupported("searches commit messages (^{/...}), which converge does not")
	case strings.Contains(expr, ":"):
		return unsupported("names a file or a tree (rev:path), not a commit")
	case strings.HasPrefix(expr, "^"):
		return unsupported(`excludes commits ("^rev"): a range, not one commit`)
	case strings.Contains(expr, ".."):
		return unsupported(`is a range ("a..b", "a...b"), not one commit`)
	}
	cut := strings.IndexAny(expr, "~^")
	if cut < 0 {
		cut = len(expr)
	}
	r := revExpr{base: expr[:cut]}
	switch {
	case r.base == "":
		return invalid("no name before the suffix")
	case r.base == "@":
		r.base = "HEAD"
	case strings.HasPrefix(r.base, "-"):
		return invalid(`starts with "-"`)
	default:
		if err := CheckRefName("refs/heads/" + r.base); err != nil {
			return invalid("not a reference name or a hash")
		}
	}
	rest := expr[cut:]
	for rest != "" {
		op := rest[0]
		rest = rest[1:]
		if op == '^' && rest != "" {
			switch rest[0] {
			case '{':
				end := strings.IndexByte(rest, '}')
				if end < 0 {
					return invalid(`"^{" without "}"`)
				}
				kind := rest[1:end]
				if !peelKinds[kind] {
					return invalid("unknown object type in ^{...}")
				}
				r.steps = append(r.steps, revStep{op: '{', kind: kind})
				rest = rest[end+1:]
				continue
			case '!', '@':
				return unsupported(`names several commits ("^!", "^@")`)
			case '-':
				return unsupported(`excludes commits ("^-"): a range, not one commit`)
			}
		}
		if op != '~' && op != '^' {
			return invalid(fmt.Sprintf("unexpected %q after the name", string(op)))
		}
		digits := 0
		for digits < len(rest) && rest[digits] >= '0' && rest[digits] <= '9' {
			digits++
		}
		n := 1
		if digits > 0 {
			v, err := strconv.ParseInt(rest[:digits], 10, 64)
			if err != nil || v > maxRevisionCount {
				return invalid("number too large")
			}
			n = int(v)
		}
		r.steps = append(r.steps, revStep{op: op, n: n})
		rest = rest[digits:]
	}
	return r, nil
}

// RemoteReferences returns the references to ask a remote repository for
// to fetch rev, in the order to try them, or an error saying which forms a
// remote repository can serve. A remote is fetched without its history,
// so only names it advertises and full hashes work:
//
//   - a full commit hash (40 hex digits) is a [Reference] with Commit;
//   - a full reference name ("refs/pull/7/head") is one with Name;
//   - a semver range over the tags ("~1.4", "^1.2", ">=1.0.0 <2.0.0",
//     "1.4.*": a range that is not a valid branch name, or starts with
//     "<", ">", "=" or "!") is one with SemVer;
//   - any other valid branch name is the branch of that name, then the tag
//     of that name, as `git fetch origin <name>` tries them.
//
// Everything else fails with [ErrUnsupportedRevision]: "HEAD~1", "HEAD",
// "origin/main~2", "v1.4^{commit}", and a name of 7 to 39 hex digits,
// which is an abbreviated hash to people and to git (write
// "refs/heads/<name>" for a branch with such a name). [ResolveRevision]
// reads those in a local repository. Malformed input fails with
// [ErrInvalidReference].
func RemoteReferences(rev string) ([]Reference, error) {
	switch {
	case rev == "":
		return nil, fmt.Errorf("%w: empty revision", ErrInvalidReference)
	case len(rev) == 40 && isHexDigits(rev):
		return []Reference{{Commit: strings.ToLower(rev)}}, nil
	case strings.HasPrefix(rev, "refs/"):
		if err := CheckRefName(rev); err != nil {
			return nil, err
		}
		return []Reference{{Name: rev}}, nil
	}
	validName := !strings.HasPrefix(rev, "-") && rev != "@" && CheckRefName("refs/heads/"+rev) == nil &&
		!strings.Contains(rev, "@{")
	if !validName || strings.ContainsAny(rev[:1], "<>=!") {
		if _, err := semver.NewConstraint(rev); err == nil {
			return []Reference{{SemVer: rev}}, nil
		}
	}
	needsLocal := func(what string) error {
		return fmt.Errorf("%w: %q %s: %s; a local clone can resolve it", ErrUnsupportedRevision,
			truncate(rev, 256), what, remoteForms)
	}
	if validName {
		switch {
		case rev == "HEAD":
			return nil, needsLocal("names what a local repository has checked out")
		case len(rev) >= 7 && isHexDigits(rev):
			return nil, needsLocal("looks like an abbreviated commit hash, which a remote cannot expand")
		}
		return []Reference{{Branch: rev}, {Tag: rev}}, nil
	}
	if _, err := parseRevision(rev); err != nil {
		if errors.Is(err, ErrUnsupportedRevision) {
			return nil, fmt.Errorf("%w; besides, %s", err, remoteForms)
		}
		return nil, err
	}
	return nil, needsLocal("needs the repository's history")
}

func isHexDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return s != ""
}
