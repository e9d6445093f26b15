// Package promote moves images between environments: it picks the newest
// tag by a policy with Flux ImagePolicy semantics and edits the files that
// name an image while keeping their comments, key order and formatting.
//
// # Policies
//
// A [Policy] orders tags by semver range, alphabetically or numerically,
// after an optional filter with an extract template, exactly as Flux's
// image-reflector-controller does:
//
//	p := promote.Policy{Kind: promote.SemVer, Range: ">=1.0.0"}
//	tag, err := p.Latest([]string{"1.0.0", "1.2.0", "1.3.0-rc.1"}) // "1.2.0"
//
// [ParseImagePolicy] reads the same from an ImagePolicy manifest.
package promote
