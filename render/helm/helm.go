package helm

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
)

// Settings are what `helm template` takes besides the chart: the release,
// its values and the cluster it is rendered for. Start from
// [DefaultSettings].
type Settings struct {
	// ReleaseName is .Release.Name.
	ReleaseName string
	// Namespace is .Release.Namespace. Helm does not set it on the objects
	// (a chart writes "namespace: {{ .Release.Namespace }}" where it
	// wants it), and neither does converge.
	Namespace string
	// ValuesFiles are YAML files merged over the chart's values.yaml in
	// order, later files winning, as `helm template -f a.yaml -f b.yaml`.
	// Paths are slash-separated and relative to the root of the fs.FS given
	// to Render (not to the chart): "../" that leaves the root, absolute
	// paths and symbolic links that lead outside it are refused with
	// [render.ErrOutsideRoot].
	ValuesFiles []string
	// Values are merged last, over ValuesFiles, as one more values file
	// (like Argo CD's valuesObject and Flux's values): maps merge key by
	// key, anything else replaces. The map is copied (through JSON) on
	// each render and never changed.
	Values map[string]any
	// Capabilities describe the target cluster for .Capabilities.
	Capabilities Capabilities
}

// Capabilities are the cluster facts a host supplies instead of Helm's
// discovery: converge never contacts a cluster while rendering.
type Capabilities struct {
	// KubeVersion is .Capabilities.KubeVersion ("v1.37.2"); empty means
	// Helm's default, as `helm template` without --kube-version.
	KubeVersion string
	// APIVersions are added to Helm's built-in set (every API version of
	// the Kubernetes libraries it is built with), as `helm template
	// --api-versions` does: "group/version" or "group/version/Kind".
	APIVersions []string
}

// DefaultSettings returns the settings `helm template CHART` uses with no
// flags: release "release-name" in namespace "default", the chart's own
// values and Helm's default capabilities.
func DefaultSettings() Settings {
	return Settings{ReleaseName: "release-name", Namespace: "default"}
}

// Limits bound what one render may load and how long it may run.
type Limits struct {
	// MaxFiles bounds the files of the chart, its subcharts and the
	// entries of their archives, together.
	MaxFiles int
	// MaxBytes bounds the bytes loaded for one render: chart files,
	// decompressed archives and values files, together. Each single file
	// is also bounded by [render.Options].Decode.MaxBytes, and so is the
	// rendered output.
	MaxBytes int64
	// Timeout bounds the template engine's run, on top of the context.
	Timeout time.Duration
}

// Defaults of [DefaultLimits].
const (
	DefaultMaxFiles = 10_000
	DefaultMaxBytes = 128 << 20
	DefaultTimeout  = time.Minute
)

// DefaultLimits returns limits that admit every public chart we know of.
func DefaultLimits() Limits {
	return Limits{MaxFiles: DefaultMaxFiles, MaxBytes: DefaultMaxBytes, Timeout: DefaultTimeout}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxFiles <= 0 {
		l.MaxFiles = d.MaxFiles
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.Timeout <= 0 {
		l.Timeout = d.Timeout
	}
	return l
}

// Renderer renders one Helm release of a chart. Create it with [New]; it
// is safe for concurrent use, and cheap: a host with many releases creates
// one Renderer per release.
type Renderer struct {
	settings Settings
	limits   Limits
	log      logr.Logger
}

var _ render.Renderer = (*Renderer)(nil)

// Option configures a [Renderer].
type Option func(*Renderer)

// WithLogger logs each render at V(1). The default discards.
func WithLogger(l logr.Logger) Option { return func(r *Renderer) { r.log = l } }

// WithLimits replaces [DefaultLimits]; zero fields keep their default.
func WithLimits(l Limits) Option { return func(r *Renderer) { r.limits = l.withDefaults() } }

// New returns a Renderer of the release that s describes.
func New(s Settings, opts ...Option) *Renderer {
	r := &Renderer{settings: s, limits: DefaultLimits(), log: logr.Discard()}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Render renders the chart in directory dir of fsys, as `helm template
// --include-crds --skip-tests` does, and returns its objects in Helm's
// order: the CRDs of crds/ (of the chart, then of its subcharts), the
// chart's manifests in Helm's install order, then its hooks, each mapped
// to converge's hook annotations (see the package documentation).
//
// Of opts, Decode bounds each file and the rendered output, and Ignore
// adds patterns to the chart's .helmignore. The Kustomize-style overrides
// (Namespace to Components) are refused with [render.ErrUnsupported]:
// set the release namespace in [Settings], or chain a Kustomize render.
func (r *Renderer) Render(ctx context.Context, fsys fs.FS, dir string, opts render.Options) (set *object.Set, err error) {
	dir = path.Clean(strings.TrimPrefix(dir, "/"))
	if !fs.ValidPath(dir) {
		return nil, &render.Error{Path: dir, Err: render.ErrOutsideRoot}
	}
	if opts.HasOverrides() {
		return nil, &render.Error{Path: dir, Err: fmt.Errorf("%w: helm takes the release namespace and values from its Settings, not overrides", render.ErrUnsupported)}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := chartutil.ValidateReleaseName(r.settings.ReleaseName); err != nil {
		return nil, &render.Error{Path: dir, Err: fmt.Errorf("%w: release name %q: %v", render.ErrSyntax, r.settings.ReleaseName, err)}
	}
	defer func() {
		// Helm is third-party code fed hostile input: a panic must become an
		// error, not a crashed controller. It names no input.
		if p := recover(); p != nil {
			set = nil
			err = &render.Error{Path: dir, Err: fmt.Errorf("helm panicked: %v\n%s", p, firstLines(debug.Stack(), 12))}
		}
	}()
	opts.Decode = withDecodeDefaults(opts.Decode)
	start := time.Now()
	fsys = render.Confine(fsys)
	b := &budget{files: r.limits.MaxFiles, bytes: r.limits.MaxBytes, perFile: opts.Decode.MaxBytes}

	chrt, err := loadChart(ctx, fsys, dir, opts.Ignore, b)
	if err != nil {
		return nil, err
	}

	vals, err := r.values(fsys, b)
	if err != nil {
		return nil, err
	}
	if err := chartutil.ProcessDependenciesWithMerge(chrt, vals); err != nil {
		return nil, &render.Error{Path: dir, Err: fmt.Errorf("dependencies: %s", redact(err.Error()))}
	}
	caps, err := r.capabilities()
	if err != nil {
		return nil, &render.Error{Path: dir, Err: err}
	}
	if kv := chrt.Metadata.KubeVersion; kv != "" && !chartutil.IsCompatibleRange(kv, caps.KubeVersion.String()) {
		return nil, &render.Error{Path: path.Join(dir, "Chart.yaml"), Err: fmt.Errorf("chart requires kubeVersion %s, which is incompatible with Kubernetes %s", kv, caps.KubeVersion.String())}
	}
	top, err := chartutil.ToRenderValuesWithSchemaValidation(chrt, vals, chartutil.ReleaseOptions{
		Name:      r.settings.ReleaseName,
		Namespace: r.settings.Namespace,
		Revision:  1,
		IsInstall: true,
	}, caps, true)
	if err != nil {
		return nil, &render.Error{Path: dir, Err: fmt.Errorf("values: %s", redact(err.Error()))}
	}
	topVals, _ := top["Values"].(chartutil.Values)
	if err := validateSchemas(chrt, topVals, dir); err != nil {
		return nil, err
	}

	rendered, err := runEngine(ctx, chrt, top, r.limits.Timeout, opts.Decode.MaxBytes)
	if err != nil {
		return nil, &render.Error{Path: dir, Err: err}
	}
	set, err = assemble(chrt, rendered, dir, opts.Decode)
	if err != nil {
		return nil, err
	}
	r.log.V(1).Info("helm template", "path", dir, "chart", chrt.Name(), "objects", set.Len(), "duration", time.Since(start))
	return set, nil
}

// loadChart loads the chart in directory dir of fsys within the budget
// and checks it as `helm template` does.
func loadChart(ctx context.Context, fsys fs.FS, dir string, ignore []string, b *budget) (*chart.Chart, error) {
	files, err := loadChartFiles(ctx, fsys, dir, ignore, b)
	if err != nil {
		return nil, err
	}
	chrt, err := loadFiles(files)
	if err != nil {
		return nil, &render.Error{Path: dir, Err: err}
	}
	if err := checkChart(chrt); err != nil {
		return nil, &render.Error{Path: dir, Err: err}
	}
	return chrt, nil
}

// errLoaderPanic marks a panic in Helm's chart loader.
var errLoaderPanic = errors.New("helm's loader panicked")

// loadFiles is Helm's loader.LoadFiles with a panic turned into an error:
// the loader is third-party code fed hostile input. Only that call
// recovers, so that a panic in converge's own loading code surfaces (in
// FuzzLoad above all).
func loadFiles(files []*loader.BufferedFile) (chrt *chart.Chart, err error) {
	defer func() {
		if p := recover(); p != nil {
			chrt, err = nil, fmt.Errorf("%w: %w: %v", render.ErrSyntax, errLoaderPanic, p)
		}
	}()
	chrt, err = loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("%w: load chart: %s", render.ErrSyntax, redact(err.Error()))
	}
	return chrt, nil
}

// checkChart refuses what `helm template` refuses before rendering: a
// library chart, and a dependency of Chart.yaml missing from charts/
// (converge never downloads one).
func checkChart(c *chart.Chart) error {
	if c.Metadata == nil {
		return fmt.Errorf("%w: Chart.yaml missing", render.ErrSyntax)
	}
	if c.Metadata.Type != "" && c.Metadata.Type != "application" {
		return fmt.Errorf("%w: chart of type %q is not installable", render.ErrUnsupported, c.Metadata.Type)
	}
	var missing []string
outer:
	for _, req := range c.Metadata.Dependencies {
		if req == nil {
			continue
		}
		for _, d := range c.Dependencies() {
			if d.Name() == req.Name {
				continue outer
			}
		}
		missing = append(missing, req.Name)
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: Chart.yaml dependencies missing from charts/ (vendor them, for example with helm dependency build; converge downloads nothing): %s",
			ErrMissingDependency, strings.Join(missing, ", "))
	}
	return nil
}

// ErrMissingDependency: Chart.yaml names a dependency that is not in the
// chart's charts/ directory.
var ErrMissingDependency = errors.New("missing chart dependency")

func (r *Renderer) capabilities() (*chartutil.Capabilities, error) {
	caps := chartutil.DefaultCapabilities.Copy()
	if v := r.settings.Capabilities.KubeVersion; v != "" {
		kv, err := chartutil.ParseKubeVersion(v)
		if err != nil {
			return nil, fmt.Errorf("%w: capabilities: Kubernetes version %q: %v", render.ErrSyntax, v, err)
		}
		caps.KubeVersion = *kv
	}
	caps.APIVersions = append(append(chartutil.VersionSet{}, caps.APIVersions...), r.settings.Capabilities.APIVersions...)
	return caps, nil
}

func withDecodeDefaults(o object.DecodeOptions) object.DecodeOptions {
	d := object.DefaultDecodeOptions()
	if o.MaxBytes <= 0 {
		o.MaxBytes = d.MaxBytes
	}
	if o.MaxDocuments <= 0 {
		o.MaxDocuments = d.MaxDocuments
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = d.MaxDepth
	}
	if o.MaxAliasNodes <= 0 {
		o.MaxAliasNodes = d.MaxAliasNodes
	}
	return o
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
