package check

import (
	"time"

	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/kustomize"
)

// RepositoryOptions configure the repository rules.
type RepositoryOptions struct {
	// MaxInterval is the longest reconcile interval that passes.
	MaxInterval time.Duration
	// PromotionPaths are the orders environments are promoted in
	// ([DefaultPromotionPaths] when empty).
	PromotionPaths [][]string
	// Renderer renders the environments layout-prod-drift compares
	// (kustomize when nil).
	Renderer render.Renderer
}

// DefaultRepositoryOptions returns a 5-minute interval limit, the
// default promotion path and the kustomize renderer.
func DefaultRepositoryOptions() RepositoryOptions {
	return RepositoryOptions{MaxInterval: 5 * time.Minute, PromotionPaths: DefaultPromotionPaths, Renderer: kustomize.New()}
}

// RepositoryRules returns every rule over a repository snapshot, in
// report order. Hosts append their own.
func RepositoryRules(opts RepositoryOptions) []Rule {
	if opts.Renderer == nil {
		opts.Renderer = kustomize.New()
	}
	rules := []Rule{PlaintextSecrets(), Credentials(), ImageTags(), PushDeploys()}
	rules = append(rules, ArgoCDRules()...)
	rules = append(rules, ArgoCDInterval(opts.MaxInterval))
	rules = append(rules, FluxRules(opts.MaxInterval)...)
	rules = append(rules, FluxTenancy())
	rules = append(rules, NotificationRules()...)
	return append(rules, Layout(), PromotionPath(opts.PromotionPaths), ProdDrift(opts.Renderer, opts.PromotionPaths), InvalidYAML())
}
