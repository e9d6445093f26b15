package git

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Reference selects what to fetch. Set one of Tag, SemVer, Name or Commit,
// or Branch, or Commit with Branch or Name; when all are empty, Branch
// "main" is fetched. [RemoteReferences] and [ResolveRevision] make one
// from a revision as people write it ("v1.4.2", "HEAD~1").
type Reference struct {
	// Branch is a branch name ("main", "release/1.x").
	Branch string
	// Tag is a tag name ("v1.4.2").
	Tag string
	// SemVer is a version range over the tags (">=1.4.0 <2.0.0", "~1.4").
	// Tags are read as versions with an optional "v" prefix, strictly (no
	// "1.4"); a pre-release version matches only a range that names a
	// pre-release, as in Flux's GitRepository.
	//
	// Tags whose versions have equal precedence ("v1.2.0" and "1.2.0", or
	// "1.2.0+a" and "1.2.0+b": semver ignores build metadata) are ordered
	// as Flux orders them (fluxcd/pkg git/gogit cloneSemVer, which
	// GitRepository uses): by the committer time of the commit each tag
	// points to, the latest winning. Where Flux then leaves the order to
	// chance (the same commit, or the same second), converge takes the
	// greatest tag name in byte order ("v1.2.0" over "1.2.0"), so the same
	// tags always resolve to the same revision. Reading commit times costs
	// one shallow pack of the tied tags, only when they point to different
	// commits the cache does not hold.
	SemVer string
	// Name is any reference name, such as "refs/pull/42/head".
	Name string
	// Commit is a full commit hash (40 hex digits). With Branch or Name,
	// only that reference's history is searched for it on a server that
	// does not let clients want a commit by hash (git's default); without,
	// every branch's is, so a commit only a tag or a remote-tracking
	// reference leads to needs Name. The search deepens from the tips in
	// steps of 1, 10, 100 and 1000 commits, then takes the whole history,
	// and stops once the commit is found.
	Commit string
}

// ErrInvalidReference reports a [Reference] that breaks Git's naming rules
// or combines fields that do not go together.
var ErrInvalidReference = errors.New("invalid reference")

// String names the reference as a revision prefix: "main", "v1.4.2",
// ">=1.0.0", "refs/pull/42/head", or "" for a lone commit.
func (r Reference) String() string {
	switch {
	case r.Tag != "":
		return r.Tag
	case r.SemVer != "":
		return r.SemVer
	case r.Name != "":
		return r.Name
	case r.Branch != "":
		return r.Branch
	case r.Commit != "":
		return ""
	}
	return "main"
}

// Validate checks the names against git's rules (see [CheckRefName]), the
// range against semver syntax and the commit as a full hash.
func (r Reference) Validate() error {
	set := 0
	for _, v := range []string{r.Tag, r.SemVer, r.Name} {
		if v != "" {
			set++
		}
	}
	if r.Commit != "" && (r.Tag != "" || r.SemVer != "") {
		set++
	}
	if set > 1 || (r.Branch != "" && (r.Tag != "" || r.SemVer != "" || r.Name != "")) {
		return fmt.Errorf("%w: set one of branch, tag, semver, name and commit (commit may go with branch or name)", ErrInvalidReference)
	}
	for _, n := range []string{r.Branch, r.Tag} {
		if strings.HasPrefix(n, "-") {
			return fmt.Errorf("%w: %q starts with '-'", ErrInvalidReference, truncate(n, 256))
		}
	}
	if r.Branch != "" {
		if err := CheckRefName("refs/heads/" + r.Branch); err != nil {
			return err
		}
	}
	if r.Tag != "" {
		if err := CheckRefName("refs/tags/" + r.Tag); err != nil {
			return err
		}
	}
	if r.Name != "" {
		if !strings.HasPrefix(r.Name, "refs/") {
			return fmt.Errorf("%w: name %q does not start with refs/", ErrInvalidReference, r.Name)
		}
		if err := CheckRefName(r.Name); err != nil {
			return err
		}
	}
	if r.SemVer != "" {
		if _, err := semver.NewConstraint(r.SemVer); err != nil {
			return fmt.Errorf("%w: semver range %q: %v", ErrInvalidReference, r.SemVer, err)
		}
	}
	if r.Commit != "" && !isHash(r.Commit) {
		return fmt.Errorf("%w: commit %q is not a full hash", ErrInvalidReference, r.Commit)
	}
	return nil
}

func isHash(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// CheckRefName reports whether name is a valid full reference name by the
// rules of git check-ref-format: components separated by "/", none empty,
// none starting with "." or ending with ".lock"; no "..", "@{", control
// characters, space, "~", "^", ":", "?", "*", "[" or "\"; not ending with
// "/" or "."; not "@"; at least two components.
func CheckRefName(name string) error {
	fail := func(reason string) error {
		return fmt.Errorf("%w: %q: %s", ErrInvalidReference, truncate(name, 256), reason)
	}
	switch {
	case name == "":
		return fail("empty")
	case len(name) > 1024:
		return fail("longer than 1024 bytes")
	case name == "@":
		return fail(`is "@"`)
	case strings.HasSuffix(name, "."):
		return fail(`ends with "."`)
	case strings.Contains(name, ".."):
		return fail(`contains ".."`)
	case strings.Contains(name, "@{"):
		return fail(`contains "@{"`)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < 0x20 || c == 0x7f || strings.IndexByte(" ~^:?*[\\", c) >= 0 {
			return fail(fmt.Sprintf("contains %q", string(c)))
		}
	}
	parts := strings.Split(name, "/")
	if len(parts) < 2 {
		return fail("one component")
	}
	for _, p := range parts {
		switch {
		case p == "":
			return fail("empty component")
		case strings.HasPrefix(p, "."):
			return fail(`component starts with "."`)
		case strings.HasSuffix(p, ".lock"):
			return fail(`component ends with ".lock"`)
		}
	}
	return nil
}

// pickSemVer returns the tags with the highest version in the range, as
// Flux's GitRepository reads them: versions parse strictly after an
// optional "v", and pre-releases match only ranges that name one. More than
// one tag comes back when versions tie on precedence ("v1.2.0" and "1.2.0",
// or versions that differ only in build metadata); they are sorted by name,
// greatest first, for [Source] to break the tie by commit time.
func pickSemVer(constraint string, tags []string) ([]string, error) {
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return nil, fmt.Errorf("%w: semver range %q: %v", ErrInvalidReference, constraint, err)
	}
	type cand struct {
		tag string
		v   *semver.Version
	}
	var cands []cand
	for _, t := range tags {
		if _, err := semver.StrictNewVersion(strings.TrimPrefix(t, "v")); err != nil {
			continue
		}
		v, err := semver.NewVersion(t)
		if err != nil || !c.Check(v) {
			continue
		}
		cands = append(cands, cand{t, v})
	}
	if len(cands) == 0 {
		return nil, nil
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if n := b.v.Compare(a.v); n != 0 {
			return n
		}
		return strings.Compare(b.tag, a.tag)
	})
	var out []string
	for _, c := range cands {
		if c.v.Compare(cands[0].v) != 0 {
			break
		}
		out = append(out, c.tag)
	}
	return out, nil
}
