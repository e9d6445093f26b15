package promote

import (
	"context"
	"fmt"
	"regexp"
)

// TagSource lists the tags a [Policy] picks from: an image repository
// ([ImageRepository]), a Git remote's tags ([GitTags]) or a Helm chart's
// versions ([HelmChart]). Tags returns
// the tags in the order the source gives them (a registry's is lexical);
// the caller owns the returned slice. Implementations must be safe for
// concurrent use and must honour ctx's deadline.
type TagSource interface {
	Tags(ctx context.Context) ([]string, error)
}

// TagSourceFunc adapts a function to a [TagSource].
type TagSourceFunc func(ctx context.Context) ([]string, error)

// Tags calls f.
func (f TagSourceFunc) Tags(ctx context.Context) ([]string, error) { return f(ctx) }

var (
	_ TagSource = TagSourceFunc(nil)
	_ TagSource = (*ImageRepository)(nil)
	_ TagSource = (*GitTags)(nil)
	_ TagSource = (*HelmChart)(nil)
)

// DefaultExclusions is Flux ImageRepository's default exclusion list: the
// cosign signature tags (sha256-<hex>.sig) are not images to deploy.
var DefaultExclusions = []string{`^.*\.sig$`}

// exclusions is a compiled exclusion list.
type exclusions []*regexp.Regexp

func compileExclusions(patterns []string) (exclusions, error) {
	out := make(exclusions, 0, len(patterns))
	for _, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("exclusion pattern %q: %w", p, err)
		}
		out = append(out, re)
	}
	return out, nil
}

// filter returns the tags no pattern matches (Flux's filterOutTags), in
// order.
func (ex exclusions) filter(tags []string) []string {
	if len(ex) == 0 {
		return tags
	}
	out := make([]string, 0, len(tags))
next:
	for _, t := range tags {
		for _, re := range ex {
			if re.MatchString(t) {
				continue next
			}
		}
		out = append(out, t)
	}
	return out
}
