package git

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Reference selects what to fetch. Set one of Tag, SemVer, Name or Commit,
// or Branch, or Branch and Commit together; when all are empty, Branch
// "main" is fetched.
type Reference struct {
	// Branch is a branch name ("main", "release/1.x").
	Branch string
	// Tag is a tag name ("v1.4.2").
	Tag string
	// SemVer is a version range over the tags (">=1.4.0 <2.0.0", "~1.4").
	// Tags are read as versions with an optional "v" prefix, strictly (no
	// "1.4"); a pre-release version matches only a range that names a
	// pre-release, as in Flux's GitRepository.
	SemVer string
	// Name is any reference name, such as "refs/pull/42/head".
	Name string
	// Commit is a full commit hash (40 hex digits).
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
	if r.Commit != "" && (r.Tag != "" || r.SemVer != "" || r.Name != "") {
		set++
	}
	if set > 1 || (r.Branch != "" && (r.Tag != "" || r.SemVer != "" || r.Name != "")) {
		return fmt.Errorf("%w: set one of branch, tag, semver, name and commit (commit may go with branch)", ErrInvalidReference)
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

// pickSemVer returns the tag with the highest version in the range, as
// Flux's GitRepository does: versions parse strictly after an optional "v",
// pre-releases match only ranges that name one, and equal versions (build
// metadata differs) fall back to the greater tag name.
func pickSemVer(constraint string, tags []string) (string, error) {
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return "", fmt.Errorf("%w: semver range %q: %v", ErrInvalidReference, constraint, err)
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
		return "", nil
	}
	best := slices.MaxFunc(cands, func(a, b cand) int {
		if n := a.v.Compare(b.v); n != 0 {
			return n
		}
		return strings.Compare(a.tag, b.tag)
	})
	return best.tag, nil
}
