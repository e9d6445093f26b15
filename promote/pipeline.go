package promote

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/converge-dev/converge/object"
	renderpkg "github.com/converge-dev/converge/render"
)

// Environment is one stage of a promotion path: an overlay directory of
// a directory-per-environment repository ("apps/web/overlays/staging").
type Environment struct {
	// Name is the environment's name ("staging").
	Name string
	// Dir is its overlay, slash-separated from the repository's root;
	// its kustomization file is what a promotion edits.
	Dir string
}

func (e Environment) String() string { return e.Name + " (" + e.Dir + ")" }

// Gate decides whether what runs in an environment may move on: its
// health as the reconcile engine last saw it, an analysis run, a change
// window. The host implements it; promote does not read a cluster.
type Gate interface {
	Check(ctx context.Context, env Environment, images []ImageRef) (GateResult, error)
}

// GateFunc adapts a function to a [Gate].
type GateFunc func(ctx context.Context, env Environment, images []ImageRef) (GateResult, error)

// Check calls f.
func (f GateFunc) Check(ctx context.Context, env Environment, images []ImageRef) (GateResult, error) {
	return f(ctx, env, images)
}

// GateResult is one gate's answer.
type GateResult struct {
	// Name names the gate in commit trailers and messages ("health").
	Name string
	// Passed is the answer; Detail says why, in a line.
	Passed bool
	Detail string
}

func (g GateResult) String() string {
	verdict := "passed"
	if !g.Passed {
		verdict = "failed"
	}
	if g.Detail == "" {
		return g.Name + " " + verdict
	}
	return g.Name + " " + verdict + ": " + g.Detail
}

// ErrGateFailed is what [PlanPromotion] returns, wrapped, when a gate
// says no: nothing is promoted.
var ErrGateFailed = errors.New("a promotion gate failed")

// Plan is what moving one environment's images to the next would
// change, as [PlanPromotion] plans it: a host commits it (directly or as
// a pull request) or shows it.
type Plan struct {
	From, To Environment
	// Images are the images From runs that To runs at another tag or
	// digest, as From runs them.
	Images []ImageRef
	// Edit is the change to To's files; empty when To already runs them.
	Edit Result
	// Render lists how To's render changes: container images only.
	Render []RenderChange
	// Gates are the gates' answers, all passed.
	Gates []GateResult
}

// Empty reports whether the promotion changes nothing.
func (p *Plan) Empty() bool { return len(p.Edit.Files) == 0 }

// Summary is a one-line description for a commit or a pull request's
// title: "promote web 1.5.0 from dev to staging".
func (p *Plan) Summary() string {
	var imgs []string
	for _, i := range p.Images {
		imgs = append(imgs, path.Base(i.Name)+" "+cmp.Or(i.Tag, i.Digest))
	}
	return fmt.Sprintf("promote %s from %s to %s", strings.Join(imgs, ", "), p.From.Name, p.To.Name)
}

// PlanOptions tune [PlanPromotion].
type PlanOptions struct {
	// Images limits the promotion to these repositories; every image
	// both environments run when empty.
	Images []string
	// Gates run against From, in order, before anything is planned; the
	// first that fails stops the promotion with [ErrGateFailed].
	Gates []Gate
}

// PlanPromotion plans moving what from runs to to in the tree fsys: it
// renders both overlays with renderer, takes the images (by repository)
// that both run and that differ, edits to's kustomization images: so that
// it runs them as from does ([SetImage], keeping the file's comments and
// layout), and renders to again to verify the edit changed container
// images and nothing else ([VerifyRender] with [ImagesOnly]). The gates
// run first, against from. Nothing is written: [Result.Write] the Edit,
// or give the Plan to a Publisher.
func PlanPromotion(ctx context.Context, fsys fs.FS, renderer renderpkg.Renderer, from, to Environment, opts PlanOptions) (*Plan, error) {
	if from.Dir == "" || to.Dir == "" || path.Clean(from.Dir) == path.Clean(to.Dir) {
		return nil, fmt.Errorf("promote: %s to %s: two different environment directories are needed", from, to)
	}
	source, err := renderer.Render(ctx, fsys, from.Dir, renderpkg.DefaultOptions())
	if err != nil {
		return nil, fmt.Errorf("promote: render %s: %w", from, err)
	}
	target, err := renderer.Render(ctx, fsys, to.Dir, renderpkg.DefaultOptions())
	if err != nil {
		return nil, fmt.Errorf("promote: render %s: %w", to, err)
	}
	runs, err := runningImages(source)
	if err != nil {
		return nil, fmt.Errorf("promote: %s: %w", from, err)
	}
	targetRuns, err := runningImages(target)
	if err != nil {
		return nil, fmt.Errorf("promote: %s: %w", to, err)
	}
	p := &Plan{From: from, To: to}
	for _, name := range slices.Sorted(maps.Keys(runs)) {
		if len(opts.Images) > 0 && !slices.Contains(opts.Images, name) {
			continue
		}
		want, have := runs[name], targetRuns[name]
		if have == (ImageRef{}) || want == have {
			continue // to does not run it, or runs it already
		}
		p.Images = append(p.Images, want)
	}
	for _, g := range opts.Gates {
		res, err := g.Check(ctx, from, p.Images)
		if err != nil {
			return nil, fmt.Errorf("promote: gate on %s: %w", from, err)
		}
		p.Gates = append(p.Gates, res)
		if !res.Passed {
			return p, fmt.Errorf("promote: %s to %s: %w: %s", from.Name, to.Name, ErrGateFailed, res)
		}
	}
	if len(p.Images) == 0 {
		return p, nil
	}
	edit, err := setImagesFor(fsys, to.Dir, p.Images)
	if err != nil {
		return nil, fmt.Errorf("promote: %s: %w", to, err)
	}
	if p.Edit, err = edit.Apply(ctx, fsys); err != nil {
		return nil, fmt.Errorf("promote: edit %s: %w", to, err)
	}
	if p.Render, err = VerifyRender(ctx, renderer, fsys, p.Edit, []string{to.Dir}, ImagesOnly); err != nil {
		return nil, fmt.Errorf("promote: %s: %w", to, err)
	}
	return p, nil
}

// setImagesFor returns the SetImage edit that makes dir's kustomization
// run images: each goes to the images: entry that already renames or
// retags that repository, or to a new entry named for it.
func setImagesFor(fsys fs.FS, dir string, images []ImageRef) (SetImage, error) {
	file, err := kustomizationFile(fsys, dir)
	if err != nil {
		return SetImage{}, err
	}
	src, err := readFile(fsys, file)
	if err != nil {
		return SetImage{}, err
	}
	var k struct {
		Images []struct {
			Name    string `json:"name"`
			NewName string `json:"newName"`
		} `json:"images"`
	}
	if err := yaml.Unmarshal(src, &k); err != nil {
		return SetImage{}, fmt.Errorf("%s: %w", file, err)
	}
	edit := SetImage{File: file}
	for _, ref := range images {
		img := Image{Name: ref.Name, NewTag: ref.Tag, Digest: ref.Digest}
		for _, e := range k.Images {
			if e.NewName == ref.Name || e.NewName == "" && e.Name == ref.Name {
				img.Name, img.NewName = e.Name, e.NewName
				break
			}
		}
		edit.Images = append(edit.Images, img)
	}
	return edit, nil
}

func kustomizationFile(fsys fs.FS, dir string) (string, error) {
	for _, n := range kustomizationNames {
		p := path.Join(dir, n)
		if _, err := fs.Stat(fsys, p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: no kustomization file: %w", dir, ErrNotFound)
}

// podSpecs are where each workload kind keeps its pod spec.
var podSpecs = map[string][]string{
	"Pod": {"spec"}, "Deployment": {"spec", "template", "spec"}, "StatefulSet": {"spec", "template", "spec"},
	"DaemonSet": {"spec", "template", "spec"}, "ReplicaSet": {"spec", "template", "spec"}, "Job": {"spec", "template", "spec"},
	"Rollout": {"spec", "template", "spec"}, "CronJob": {"spec", "jobTemplate", "spec", "template", "spec"},
}

// runningImages returns the images a render runs, by repository. One
// repository run at two tags in one environment is an error: which one
// to promote is not clear.
func runningImages(set *object.Set) (map[string]ImageRef, error) {
	out := map[string]ImageRef{}
	for _, obj := range set.Objects() {
		p, ok := podSpecs[obj.GetKind()]
		if !ok {
			continue
		}
		spec, _, _ := unstructured.NestedMap(obj.Object, p...)
		for _, field := range []string{"initContainers", "containers", "ephemeralContainers"} {
			list, _ := spec[field].([]any)
			for _, c := range list {
				m, _ := c.(map[string]any)
				s, _ := m["image"].(string)
				if s == "" {
					continue
				}
				name, tag, digest := splitImage(s)
				ref := ImageRef{Name: name, Tag: tag, Digest: digest}
				if was, ok := out[name]; ok && was != ref {
					return nil, fmt.Errorf("runs %s as %s and as %s: promote one version of an image per environment", name, was, ref)
				}
				out[name] = ref
			}
		}
	}
	return out, nil
}
