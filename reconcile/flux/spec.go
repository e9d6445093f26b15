package flux

import (
	"encoding/json"
	"regexp"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/internal/manifest"
	"github.com/converge-dev/converge/render"
)

// varName is a postBuild variable name, as Flux's schema has it.
var varName = regexp.MustCompile(`^[_A-Za-z][_A-Za-z0-9]*$`)

// health reads spec.wait and spec.healthChecks.
func (l *loader) health(d *manifest.Doc, spec *manifest.Node, u *reconcile.Unit) {
	u.Health.Wait = spec.Bool("wait")
	checks := spec.Objs("healthChecks")
	for _, c := range checks {
		gv, err := schema.ParseGroupVersion(c.Str("apiVersion"))
		if err != nil {
			d.Fail(c.At("apiVersion"), ErrInvalid, "%v", err)
			continue
		}
		id := object.ID{Group: gv.Group, Kind: c.Str("kind"), Namespace: c.Str("namespace"), Name: c.Str("name")}
		if err := id.Validate(); err != nil {
			d.Fail(c.Path(), ErrInvalid, "%v", err)
			continue
		}
		u.Health.Checks = append(u.Health.Checks, id)
	}
	if u.Health.Wait && len(checks) > 0 {
		d.Warn(spec.At("healthChecks"), "ignored because spec.wait is true, as in Flux: every applied object is waited for")
		u.Health.Checks = nil
	}
}

// dependsOn reads spec.dependsOn.
func (l *loader) dependsOn(d *manifest.Doc, spec *manifest.Node, u *reconcile.Unit) {
	for _, dep := range spec.Objs("dependsOn") {
		r := reconcile.Ref{Name: dep.Str("name"), Namespace: dep.Str("namespace")}
		dep.Refuse("readyExpr", "readiness expressions are not supported: a dependency is ready when its unit is Ready and healthy")
		switch {
		case r.Name == "":
			d.Fail(dep.At("name"), ErrInvalid, "required")
			continue
		case r.Name == u.Name && (r.Namespace == "" || r.Namespace == u.Namespace):
			d.Fail(dep.Path(), ErrInvalid, "the Kustomization depends on itself")
			continue
		}
		u.DependsOn = append(u.DependsOn, r)
	}
}

// postBuild reads spec.postBuild: variable substitution.
func postBuild(d *manifest.Doc, pb *manifest.Node, u *reconcile.Unit) {
	vars := pb.StrMap("substitute")
	for k := range vars {
		if !varName.MatchString(k) {
			d.Fail(manifest.JoinPath(pb.At("substitute"), k), ErrInvalid, "not a variable name (letters, digits and '_', not starting with a digit)")
		}
	}
	u.Substitute.Vars = vars
	for _, f := range pb.Objs("substituteFrom") {
		from := reconcile.SubstituteFrom{Kind: f.Str("kind"), Name: f.Str("name"), Optional: f.Bool("optional")}
		if from.Kind != "ConfigMap" && from.Kind != "Secret" {
			d.Fail(f.At("kind"), ErrInvalid, "%q is not ConfigMap or Secret", manifest.Short(from.Kind))
		}
		if from.Name == "" {
			d.Fail(f.At("name"), ErrInvalid, "required")
		}
		u.Substitute.From = append(u.Substitute.From, from)
	}
}

// overrides reads the kustomization overrides of a Kustomization.
func overrides(d *manifest.Doc, spec *manifest.Node, o *render.Options) {
	o.NamePrefix = spec.Str("namePrefix")
	o.NameSuffix = spec.Str("nameSuffix")
	for _, i := range spec.Objs("images") {
		img := render.Image{Name: i.Str("name"), NewName: i.Str("newName"), NewTag: i.Str("newTag"), Digest: i.Str("digest")}
		if img.Name == "" {
			d.Fail(i.At("name"), ErrInvalid, "required")
		}
		o.Images = append(o.Images, img)
	}
	for _, p := range spec.Objs("patches") {
		rp := render.Patch{Patch: p.Str("patch"), Target: manifest.PatchTarget(p.Obj("target"))}
		if rp.Patch == "" {
			d.Fail(p.At("patch"), ErrInvalid, "required")
		}
		o.Patches = append(o.Patches, rp)
	}
	o.Components = spec.Strs("components")
	if spec.Bool("ignoreMissingComponents") {
		d.Warn(spec.At("ignoreMissingComponents"), "a missing component fails the render instead of being skipped")
	}
	cm := spec.Obj("commonMetadata")
	o.CommonLabels = cm.StrMap("labels")
	o.CommonAnnotations = cm.StrMap("annotations")

	// v1beta2's patch lists, as inline patches.
	for i, p := range spec.List("patchesStrategicMerge") {
		b, err := json.Marshal(p)
		if _, isMap := p.(map[string]any); !isMap || err != nil {
			d.Fail(spec.At("patchesStrategicMerge")+"["+strconv.Itoa(i)+"]", ErrInvalid, "must be a mapping, not %s", manifest.TypeName(p))
			continue
		}
		o.Patches = append(o.Patches, render.Patch{Patch: string(b)})
	}
	for _, p := range spec.Objs("patchesJson6902") {
		ops := p.List("patch")
		b, err := json.Marshal(ops)
		if len(ops) == 0 || err != nil {
			d.Fail(p.At("patch"), ErrInvalid, "required: a list of JSON 6902 operations")
			continue
		}
		o.Patches = append(o.Patches, render.Patch{Patch: string(b), Target: manifest.PatchTarget(p.Obj("target"))})
	}
}

// kubeConfig reads spec.kubeConfig: a remote cluster, named through the
// host's Options.KubeConfigCluster.
func (l *loader) kubeConfig(d *manifest.Doc, k *manifest.Node, u *reconcile.Unit) {
	if k.Map() == nil {
		return
	}
	ref := KubeConfigRef{Namespace: u.Namespace}
	if sr := k.Obj("secretRef"); sr.Map() != nil {
		ref.Secret, ref.Key = sr.Str("name"), sr.Str("key")
	}
	if cm := k.Obj("configMapRef"); cm.Map() != nil {
		ref.ConfigMap = cm.Str("name")
	}
	switch {
	case ref.Secret == "" && ref.ConfigMap == "":
		d.Fail(k.Path(), ErrInvalid, "a secretRef or a configMapRef with a name is required")
	case l.opts.KubeConfigCluster == nil:
		d.Fail(k.Path(), ErrUnsupported, "a remote cluster from a kubeconfig needs Options.KubeConfigCluster to name it as the Reconciler's ClusterResolver knows it")
	default:
		cluster, err := l.opts.KubeConfigCluster(ref)
		if err != nil {
			d.Fail(k.Path(), ErrMissing, "%v", err)
			return
		}
		u.Destination.Cluster = cluster
	}
}

// add keeps a unit that loaded without errors, and reports whether it
// did.
func (l *loader) add(d *manifest.Doc, u *reconcile.Unit, cascade bool) bool {
	if !l.units.Add(d, u) {
		return false
	}
	if cascade {
		l.cascades = append(l.cascades, Cascade{Unit: u.Ref(), Propagation: metav1.DeletePropagationBackground})
	}
	return true
}
