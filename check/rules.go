package check

import "time"

// RepositoryOptions configure the repository rules.
type RepositoryOptions struct {
	// MaxInterval is the longest reconcile interval that passes.
	MaxInterval time.Duration
}

// DefaultRepositoryOptions returns a 5-minute interval limit.
func DefaultRepositoryOptions() RepositoryOptions {
	return RepositoryOptions{MaxInterval: 5 * time.Minute}
}

// RepositoryRules returns every rule over a repository snapshot, in
// report order. Hosts append their own.
func RepositoryRules(opts RepositoryOptions) []Rule {
	rules := []Rule{PlaintextSecrets(), Credentials(), ImageTags(), PushDeploys()}
	rules = append(rules, ArgoCDRules()...)
	rules = append(rules, FluxRules(opts.MaxInterval)...)
	return append(rules, Layout(), InvalidYAML())
}
