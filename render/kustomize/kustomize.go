package kustomize

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
)

// Renderer builds Kustomize overlays. Create it with [New]; it is safe for
// concurrent use.
type Renderer struct {
	log    logr.Logger
	cache  *Cache
	remote *remotePolicy // nil: remote bases refused
}

var _ render.Renderer = (*Renderer)(nil)

// Option configures a [Renderer].
type Option func(*Renderer)

// WithLogger logs each build at V(1). The default discards.
func WithLogger(l logr.Logger) Option { return func(r *Renderer) { r.log = l } }

// WithCache reuses the output of an earlier build when every file and
// directory listing that build read is unchanged (compared by content
// hash), and records new builds in c. A Cache may be shared by Renderers.
func WithCache(c *Cache) Option { return func(r *Renderer) { r.cache = c } }

// New returns a Renderer.
func New(opts ...Option) *Renderer {
	r := &Renderer{log: logr.Discard()}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Render builds the kustomization in directory dir of fsys and returns its
// objects in kustomize's output order. A directory without a kustomization
// file gets a generated one listing its manifests (see [Generate]), so one
// without manifests (only a README or a .gitkeep) renders as an empty set;
// a kustomization file that declares nothing is refused, as kustomize
// refuses it, naming the file. The overrides in opts are applied on top,
// as a kustomization that has dir as its only resource. A resource with a
// generateName and no name fails with an [*object.GenerateNameError].
func (r *Renderer) Render(ctx context.Context, fsys fs.FS, dir string, opts render.Options) (*object.Set, error) {
	res, err := r.build(ctx, fsys, dir, opts, true)
	if err != nil {
		return nil, err
	}
	if r.cache == nil {
		return res.set, nil // not shared with anyone
	}
	return res.set.DeepCopy(), nil
}

// Build is [Renderer.Render] returning the YAML stream that `kustomize
// build` prints for the same tree, byte for byte.
func (r *Renderer) Build(ctx context.Context, fsys fs.FS, dir string, opts render.Options) ([]byte, error) {
	res, err := r.build(ctx, fsys, dir, opts, false)
	if err != nil {
		return nil, err
	}
	return res.yaml, nil
}

// result is one build's output, kept by a Cache.
type result struct {
	inputs []input
	yaml   []byte
	set    *object.Set // nil until asked for
}

func (r *Renderer) build(ctx context.Context, fsys fs.FS, dir string, opts render.Options, wantSet bool) (*result, error) {
	dir = path.Clean(strings.TrimPrefix(dir, "/"))
	if !fs.ValidPath(dir) {
		return nil, &render.Error{Path: dir, Err: render.ErrOutsideRoot}
	}
	maxBytes := opts.Decode.MaxBytes
	if maxBytes <= 0 {
		maxBytes = object.DefaultMaxBytes
	}
	maxAlias := opts.Decode.MaxAliasNodes
	if maxAlias <= 0 {
		maxAlias = object.DefaultMaxAliasNodes
	}
	base := render.Confine(fsys)
	var remote *remoteFS
	if r.remote != nil {
		remote = newRemoteFS(ctx, base, r.remote, maxBytes)
		base = remote
	}
	cfs := newConfinedFS(ctx, base, maxBytes, maxAlias)
	key, err := cacheKey(dir, opts)
	if err != nil {
		return nil, &render.Error{Path: dir, Err: err}
	}
	target := path.Join(rootDir, dir)
	if err := generateIfMissing(cfs, dir, opts.Ignore); err != nil {
		return nil, err
	}
	if len(opts.Images) > 0 {
		if err := setImages(cfs, dir, opts.Images); err != nil {
			return nil, err
		}
		opts.Images = nil // done, in place
	}
	if opts.HasOverrides() {
		k, err := overrides(dir, opts)
		if err != nil {
			return nil, &render.Error{Path: dir, Err: err}
		}
		cfs.addVirtual(hostDir+"/kustomization.yaml", k)
		target = hostDir
	}

	if r.cache != nil {
		if res := r.cache.lookup(key, cfs, wantSet); res != nil {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			r.log.V(1).Info("kustomize build cached", "path", dir)
			return res, nil
		}
	}

	m, err := run(cfs, target)
	if remote != nil && remote.failure() != nil {
		return nil, remote.failure()
	}
	if cfs.policy != nil {
		var re *render.Error
		if errors.As(cfs.policy, &re) {
			return nil, cfs.policy
		}
		return nil, &render.Error{Path: dir, Err: cfs.policy}
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, &render.Error{Path: dir, Err: cleanError(err)}
	}
	res := &result{inputs: cfs.inputs}
	if wantSet {
		res.set, err = resmapToSet(m, dir)
	} else {
		res.yaml, err = m.AsYaml()
	}
	if err != nil {
		return nil, err
	}
	if r.cache != nil {
		r.cache.store(key, res)
	}
	r.log.V(1).Info("kustomize build", "path", dir, "objects", m.Size())
	return res, nil
}

// run is one krusty build with plugins disabled, the CLI's default load
// restrictions and resource order, and kustomize's panics turned into
// errors. A panic in converge's own code below it (the file system
// kustomize reads through) becomes an error too, but one that says so:
// the fuzz targets fail on it, since it is a bug here, not there.
func run(cfs *confinedFS, target string) (m resmap.ResMap, err error) {
	defer func() {
		if p := recover(); p != nil {
			m = nil
			if site := panicSite(); strings.HasPrefix(site, ownCode) {
				err = fmt.Errorf("%w at %s: %v\n%s", errOwnPanic, site, p, firstLines(debug.Stack(), 12))
				return
			}
			err = fmt.Errorf("kustomize panicked: %v\n%s", p, firstLines(debug.Stack(), 12))
		}
	}()
	o := krusty.MakeDefaultOptions()
	o.Reorder = krusty.ReorderOptionLegacy // what `kustomize build` does by default
	o.LoadRestrictions = types.LoadRestrictionsRootOnly
	o.PluginConfig = types.DisabledPluginConfig()
	return krusty.MakeKustomizer(o).Run(cfs, target)
}

// ownCode prefixes the functions of this module.
const ownCode = "github.com/converge-dev/converge/"

// errOwnPanic marks a recovered panic that started in this module's code.
var errOwnPanic = errors.New("panic in converge's own code (a bug; please report it)")

// panicSite names the function a panic being recovered started in: the
// first frame below runtime.gopanic that is not the runtime's own. It must
// be called from the deferred function that recovers, while the panicking
// frames are still on the stack.
func panicSite() string {
	pcs := make([]uintptr, 128)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	below := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			below = true
		case below && !strings.HasPrefix(f.Function, "runtime."):
			return f.Function
		}
		if !more {
			return ""
		}
	}
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// maxMessage bounds error messages: kustomize prints whole objects in some.
const maxMessage = 2000

// cleanError replaces the virtual mount points in kustomize's message with
// paths relative to the user's tree.
func cleanError(err error) error {
	msg := err.Error()
	msg = strings.ReplaceAll(msg, rootDir+"/", "")
	msg = strings.ReplaceAll(msg, rootDir, ".")
	msg = strings.ReplaceAll(msg, hostDir, "(host overrides)")
	if len(msg) > maxMessage {
		msg = msg[:maxMessage] + " ...(truncated)"
	}
	if msg == err.Error() {
		return err
	}
	return &cleanedError{msg: msg, err: err}
}

type cleanedError struct {
	msg string
	err error
}

func (e *cleanedError) Error() string { return e.msg }
func (e *cleanedError) Unwrap() error { return e.err }

// resmapToSet converts kustomize's resources, with values of the types
// unstructured expects (int64, not int).
func resmapToSet(m resmap.ResMap, dir string) (*object.Set, error) {
	set := object.NewSet()
	for _, res := range m.Resources() {
		v, err := nodeValue(res.YNode(), 0)
		if err != nil {
			return nil, &render.Error{Path: dir, Err: fmt.Errorf("%s: %w", res.CurId(), err)}
		}
		fields, ok := v.(map[string]any)
		if !ok {
			return nil, &render.Error{Path: dir, Err: fmt.Errorf("%s: not a mapping", res.CurId())}
		}
		obj := &unstructured.Unstructured{Object: fields}
		if err := set.Add(obj, dir); err != nil {
			return nil, &render.Error{Path: dir, Err: err}
		}
	}
	return set, nil
}

// overrides returns the host's kustomization, whose only resource is dir.
func overrides(dir string, opts render.Options) ([]byte, error) {
	k := types.Kustomization{
		TypeMeta:          types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind},
		Namespace:         opts.Namespace,
		NamePrefix:        opts.NamePrefix,
		NameSuffix:        opts.NameSuffix,
		CommonAnnotations: opts.CommonAnnotations,
		Resources:         []string{relFromHost(dir)},
	}
	if len(opts.CommonLabels) > 0 {
		k.Labels = []types.Label{{Pairs: opts.CommonLabels}}
	}
	for _, img := range opts.Images {
		if img.Name == "" {
			return nil, errors.New("image override without a name")
		}
		k.Images = append(k.Images, types.Image{Name: img.Name, NewName: img.NewName, NewTag: img.NewTag, Digest: img.Digest})
	}
	for _, p := range opts.Patches {
		kp := types.Patch{Patch: p.Patch}
		if t := p.Target; t != nil {
			kp.Target = &types.Selector{
				ResId:              resIDOf(t),
				LabelSelector:      t.LabelSelector,
				AnnotationSelector: t.AnnotationSelector,
			}
		}
		k.Patches = append(k.Patches, kp)
	}
	for _, c := range opts.Components {
		c = path.Clean(c)
		if path.IsAbs(c) {
			return nil, fmt.Errorf("component %s: %w", c, render.ErrOutsideRoot)
		}
		k.Components = append(k.Components, relFromHost(path.Join(dir, c)))
	}
	return json.Marshal(k)
}

// relFromHost is the path of dir, relative to the fs root, as seen from
// the host's kustomization.
func relFromHost(dir string) string {
	return path.Join("..", path.Base(rootDir), dir)
}

func cacheKey(dir string, opts render.Options) ([sha256.Size]byte, error) {
	data, err := json.Marshal(struct {
		Dir  string
		Opts render.Options
	}{dir, opts})
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	return sha256.Sum256(data), nil
}
