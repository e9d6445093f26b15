package promote

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Sentinel errors a caller can branch on with errors.Is.
var (
	// ErrNoMatch: no tag satisfies the policy (or there were no tags).
	ErrNoMatch = errors.New("no tag matches the policy")
	// ErrInvalidPolicy: the policy itself cannot be used (a bad range,
	// order, pattern or a missing choice).
	ErrInvalidPolicy = errors.New("invalid image policy")
	// ErrInvalidTag: a numerical policy met a tag that is not a number.
	// Flux's numerical policy fails the whole selection on such a tag
	// rather than skipping it, and so does [Policy.Latest]; filter the
	// tags first (TagFilter) to keep only numbers.
	ErrInvalidTag = errors.New("tag is not valid for the policy")
)

// Kind says how a [Policy] orders tags.
type Kind string

// The orderings of Flux's ImagePolicy spec.policy.
const (
	SemVer       Kind = "semver"
	Alphabetical Kind = "alphabetical"
	Numerical    Kind = "numerical"
)

// String returns the kind's name as the ImagePolicy spec spells it.
func (k Kind) String() string { return string(k) }

// Order is the sort order of an alphabetical or numerical policy.
type Order string

// Orders. Ascending picks the greatest tag, descending the least; an empty
// Order means ascending, as in Flux.
const (
	Asc  Order = "asc"
	Desc Order = "desc"
)

// String returns the order as the ImagePolicy spec spells it.
func (o Order) String() string { return string(o) }

// TagFilter keeps only the tags that match Pattern (a Go regular
// expression, unanchored unless it anchors itself) and, when Extract is
// set, compares the text Extract expands to ($1, $name, ${name}, as in
// regexp.Regexp.Expand) instead of the whole tag. Latest still returns the
// original tag. It is Flux's spec.filterTags.
type TagFilter struct {
	Pattern string
	Extract string
}

// Policy picks the newest of a list of image tags with the semantics of
// Flux's ImagePolicy (image-reflector-controller internal/policy):
//
//   - SemVer: the greatest version within Range (Masterminds/semver/v3
//     constraints). A tag counts only if it has three dot-separated parts
//     and parses as a version ("v1.2.3" does, "1.2" and "latest" do not);
//     other tags are skipped. A pre-release such as 1.3.0-rc.1 only
//     satisfies a range that itself names a pre-release (">=1.0.0-0").
//     Of tags with equal versions ("1.0.0" and "v1.0.0", or differing build
//     metadata) the first in the list wins.
//   - Alphabetical: the greatest tag in byte order (Asc) or the least
//     (Desc).
//   - Numerical: the greatest number (Asc) or the least (Desc), each tag
//     parsed with strconv.ParseFloat; a tag that is not a number fails the
//     selection with ErrInvalidTag. Of equal numbers the last wins.
//
// With a Filter, the policy compares the filtered (and extracted) values.
// Two tags that extract to the same value count once, as the later of the
// two, as in Flux. Flux then iterates a Go map, so its choice between
// distinct values of equal rank (semver "1.0.0" and "v1.0.0") is random;
// Latest keeps the order of the input and so always answers the same.
//
// The zero Policy is invalid; a Policy is a value and safe for concurrent
// use.
type Policy struct {
	Kind Kind
	// Range is the semver constraint of a SemVer policy.
	Range string
	// Order is the order of an Alphabetical or Numerical policy, matched
	// without regard to case, as Flux does; empty means Asc.
	Order Order
	// Filter, when non-nil, filters the tags before the policy orders
	// them.
	Filter *TagFilter
}

// compiled is a validated policy, ready to order tags.
type compiled struct {
	p          Policy
	constraint *semver.Constraints
	desc       bool
	filter     *regexp.Regexp
}

// Validate reports whether the policy can be used, wrapping
// ErrInvalidPolicy if not.
func (p Policy) Validate() error {
	_, err := p.compile()
	return err
}

func (p Policy) compile() (*compiled, error) {
	c := &compiled{p: p}
	switch p.Kind {
	case SemVer:
		cons, err := semver.NewConstraint(p.Range)
		if err != nil {
			return nil, fmt.Errorf("%w: semver range %q: %w", ErrInvalidPolicy, p.Range, err)
		}
		c.constraint = cons
	case Alphabetical, Numerical:
		switch strings.ToLower(string(p.Order)) {
		case "", string(Asc):
		case string(Desc):
			c.desc = true
		default:
			return nil, fmt.Errorf("%w: %s order %q, must be one of: asc, desc", ErrInvalidPolicy, p.Kind, p.Order)
		}
	case "":
		return nil, fmt.Errorf("%w: no policy kind (semver, alphabetical or numerical)", ErrInvalidPolicy)
	default:
		return nil, fmt.Errorf("%w: unknown policy kind %q", ErrInvalidPolicy, p.Kind)
	}
	if p.Filter != nil {
		re, err := regexp.Compile(p.Filter.Pattern)
		if err != nil {
			return nil, fmt.Errorf("%w: filterTags pattern %q: %w", ErrInvalidPolicy, p.Filter.Pattern, err)
		}
		c.filter = re
	}
	return c, nil
}

// Latest returns the tag the policy picks from tags: one of tags, never a
// rewritten form. It fails wrapping ErrNoMatch when tags is empty or no tag
// qualifies, ErrInvalidPolicy when the policy is invalid, and ErrInvalidTag
// when a numerical policy meets a tag that is not a number.
func (p Policy) Latest(tags []string) (string, error) {
	c, err := p.compile()
	if err != nil {
		return "", err
	}
	values, original := tags, map[string]string(nil)
	if c.filter != nil {
		values, original = c.apply(tags)
	}
	if len(tags) == 0 {
		return "", fmt.Errorf("%w: the tag list is empty", ErrNoMatch)
	}
	if len(values) == 0 {
		return "", fmt.Errorf("%w: none of %d tags matches filterTags pattern %q", ErrNoMatch, len(tags), p.Filter.Pattern)
	}
	var latest string
	switch p.Kind {
	case SemVer:
		latest, err = c.semver(values)
	case Alphabetical:
		latest = c.alphabetical(values)
	case Numerical:
		latest, err = c.numerical(values)
	}
	if err != nil {
		return "", err
	}
	if original != nil {
		return original[latest], nil
	}
	return latest, nil
}

// apply is Flux's RegexFilter.Apply and Items, in input order: the values
// to compare, each once, and the original tag of each (the last tag that
// produced it).
func (c *compiled) apply(tags []string) ([]string, map[string]string) {
	var values []string
	original := map[string]string{}
	for _, tag := range tags {
		m := c.filter.FindStringSubmatchIndex(tag)
		if len(m) == 0 {
			continue
		}
		v := tag
		if c.p.Filter.Extract != "" {
			v = string(c.filter.ExpandString(nil, c.p.Filter.Extract, tag, m))
		}
		if _, seen := original[v]; !seen {
			values = append(values, v)
		}
		original[v] = tag
	}
	return values, original
}

func (c *compiled) semver(values []string) (string, error) {
	var latest *semver.Version
	for _, tag := range values {
		v, err := parseVersion(tag)
		if err != nil {
			continue
		}
		// The cheap comparison first: most tags are not the newest, and
		// the range need not be checked for those.
		if (latest == nil || v.GreaterThan(latest)) && c.constraint.Check(v) {
			latest = v
		}
	}
	if latest == nil {
		return "", fmt.Errorf("%w: no tag of %d satisfies semver range %q", ErrNoMatch, len(values), c.p.Range)
	}
	return latest.Original(), nil
}

// parseVersion is fluxcd/pkg/version.ParseVersion: a version needs three
// dot-separated parts, then Masterminds' lenient parse (a "v" prefix is
// allowed).
func parseVersion(tag string) (*semver.Version, error) {
	if v, ok := plainVersion(tag); ok {
		return v, nil
	}
	if len(strings.SplitN(tag, ".", 3)) != 3 {
		return nil, semver.ErrInvalidSemVer
	}
	return semver.NewVersion(tag)
}

// plainVersion parses the common MAJOR.MINOR.PATCH tag (decimal numbers
// without leading zeros, nothing else) without Masterminds' general
// parser, to the same Version: its Original is the tag itself. Anything
// else is left to the general parser.
func plainVersion(tag string) (*semver.Version, bool) {
	var parts [3]uint64
	n, start := 0, 0
	for i := 0; i <= len(tag); i++ {
		if i < len(tag) && tag[i] >= '0' && tag[i] <= '9' {
			continue
		}
		if i < len(tag) && tag[i] != '.' || n == 3 {
			return nil, false
		}
		part := tag[start:i]
		if part == "" || len(part) > 1 && part[0] == '0' || len(part) > 18 {
			return nil, false
		}
		parts[n], _ = strconv.ParseUint(part, 10, 64)
		n, start = n+1, i+1
	}
	if n != 3 {
		return nil, false
	}
	return semver.New(parts[0], parts[1], parts[2], "", ""), true
}

func (c *compiled) alphabetical(values []string) string {
	latest := values[0]
	for _, v := range values[1:] {
		if (!c.desc && v > latest) || (c.desc && v < latest) {
			latest = v
		}
	}
	return latest
}

// numerical is Flux's Numerical.Latest, comparison for comparison (NaN
// included: it always replaces the current pick).
func (c *compiled) numerical(values []string) (string, error) {
	var latest string
	var pv float64
	for i, v := range values {
		cv, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return "", fmt.Errorf("%w: numerical policy: %q is not a number", ErrInvalidTag, v)
		}
		if i > 0 && ((!c.desc && cv < pv) || (c.desc && cv > pv)) {
			continue
		}
		latest, pv = v, cv
	}
	return latest, nil
}
