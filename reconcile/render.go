package reconcile

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"helm.sh/helm/v3/pkg/strvals"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/helm"
	"github.com/converge-dev/converge/render/kustomize"
	"github.com/converge-dev/converge/render/plain"
	"github.com/converge-dev/converge/source"
)

// NewRenderer returns the default renderer. Unit.Render.Kind chooses, or
// by default what Path holds: a kustomization.yaml, kustomization.yml or
// Kustomization file means Kustomize, a Chart.yaml Helm, anything else
// plain manifests. Plain manifests with overrides (a target namespace,
// images) go through Kustomize, as Flux does, so the overrides keep
// Kustomize's meaning. Kustomize renders share an incremental cache.
func NewRenderer(opts ...RendererOption) Renderer {
	var o rendererOptions
	for _, opt := range opts {
		opt(&o)
	}
	return &defaultRenderer{
		kustomize: kustomize.New(append([]kustomize.Option{kustomize.WithCache(kustomize.NewCache())}, o.kustomize...)...),
		plain:     plain.New(),
	}
}

// RendererOption configures NewRenderer.
type RendererOption func(*rendererOptions)

type rendererOptions struct{ kustomize []kustomize.Option }

// WithRemoteBases lets Kustomize fetch remote bases whose reference starts
// with one of the prefixes in allow, through f (RemoteBaseFetcher reads
// them with source/git). Remote bases are refused by default.
func WithRemoteBases(allow []string, f kustomize.Fetcher) RendererOption {
	return func(o *rendererOptions) { o.kustomize = append(o.kustomize, kustomize.WithRemoteBases(allow, f)) }
}

type defaultRenderer struct {
	kustomize *kustomize.Renderer
	plain     *plain.Renderer
}

// Detect says which renderer the default renderer picks for dir.
func Detect(fsys fs.FS, dir string) RenderKind {
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if info, err := fs.Stat(fsys, path.Join(dir, name)); err == nil && !info.IsDir() {
			return RenderKustomize
		}
	}
	if info, err := fs.Stat(fsys, path.Join(dir, "Chart.yaml")); err == nil && !info.IsDir() {
		return RenderHelm
	}
	return RenderPlain
}

func (d *defaultRenderer) Render(ctx context.Context, u *Unit, snap *source.Snapshot) (*object.Set, error) {
	dir := cleanPath(u.Path)
	info, err := fs.Stat(snap.FS, dir)
	if err != nil || !info.IsDir() {
		return nil, fmt.Errorf("path %s is not a directory of the source at %s", dir, snap.Revision)
	}
	opts := u.Render.Options
	if opts.Decode == (object.DecodeOptions{}) {
		opts.Decode = object.DefaultDecodeOptions()
	}
	if u.Destination.TargetNamespace != "" {
		opts.Namespace = u.Destination.TargetNamespace
	}
	kind := u.Render.Kind
	if kind == RenderAuto {
		kind = Detect(snap.FS, dir)
	}
	switch kind {
	case RenderKustomize:
		return d.kustomize.Render(ctx, snap.FS, dir, opts)
	case RenderHelm:
		return d.helm(ctx, u, snap, dir, opts)
	default:
		if !u.Render.Recurse {
			// Only the directory's own files (Argo CD's default); "/*/" is
			// every directory right below it.
			opts.Ignore = append(opts.Ignore, "/*/")
		}
		if opts.HasOverrides() {
			return d.kustomize.Render(ctx, snap.FS, dir, opts)
		}
		return d.plain.Render(ctx, snap.FS, dir, opts)
	}
}

func (d *defaultRenderer) helm(ctx context.Context, u *Unit, snap *source.Snapshot, dir string, opts render.Options) (*object.Set, error) {
	h := u.Render.Helm
	if opts.Namespace != "" && u.Destination.TargetNamespace == "" {
		return nil, fmt.Errorf("%w: Kustomize overrides on a Helm chart", render.ErrUnsupported)
	}
	settings := helm.DefaultSettings()
	settings.ReleaseName = cmpOr(h.ReleaseName, u.Name)
	settings.Namespace = cmpOr(u.Destination.TargetNamespace, u.Destination.Namespace, settings.Namespace)
	for _, f := range h.ValuesFiles {
		// Argo CD's valueFiles are relative to the chart.
		settings.ValuesFiles = append(settings.ValuesFiles, path.Join(dir, f))
	}
	values, err := helmValues(h)
	if err != nil {
		return nil, err
	}
	settings.Values = values
	settings.Capabilities = helm.Capabilities{KubeVersion: h.KubeVersion, APIVersions: h.APIVersions}
	opts.Namespace = ""
	set, err := helm.New(settings).Render(ctx, snap.FS, dir, opts)
	if err != nil {
		return nil, err
	}
	if h.SkipCRDs {
		for id := range set.All() {
			if src := set.Source(id); id.Kind == "CustomResourceDefinition" && (strings.HasPrefix(src, path.Join(dir, "crds")+"/") || strings.Contains(src, "/crds/")) {
				set.Remove(id)
			}
		}
	}
	if u.Destination.TargetNamespace != "" {
		for _, obj := range set.Objects() {
			if obj.GetNamespace() != "" {
				obj.SetNamespace(u.Destination.TargetNamespace)
			}
		}
	}
	return set, nil
}

// helmValues merges inline values and --set parameters, parameters last.
func helmValues(h Helm) (map[string]any, error) {
	if len(h.Parameters) == 0 {
		return h.Values, nil
	}
	values := map[string]any{}
	for k, v := range h.Values {
		values[k] = v
	}
	for _, p := range h.Parameters {
		expr := p.Name + "=" + p.Value
		var err error
		if p.ForceString {
			err = strvals.ParseIntoString(expr, values)
		} else {
			err = strvals.ParseInto(expr, values)
		}
		if err != nil {
			// Helm's message quotes the expression, whose value may be a
			// secret: name the parameter only.
			return nil, fmt.Errorf("helm parameter %s: not a valid --set expression", p.Name)
		}
	}
	return values, nil
}

func cleanPath(p string) string {
	p = path.Clean("/" + strings.TrimPrefix(p, "./"))
	if p == "/" {
		return "."
	}
	return strings.TrimPrefix(p, "/")
}

// substitute runs post-render substitution when the unit asks for it.
func substitute(ctx context.Context, u *Unit, vars map[string]string, set *object.Set) (*object.Set, error) {
	if len(u.Substitute.Vars) == 0 && len(u.Substitute.From) == 0 {
		return set, nil
	}
	opts := render.DefaultSubstituteOptions()
	opts.Strict = u.Substitute.Strict
	return render.Substitute(vars, opts).Process(ctx, set)
}
