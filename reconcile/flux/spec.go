package flux

import (
	"encoding/json"
	"regexp"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/render"
)

// varName is a postBuild variable name, as Flux's schema has it.
var varName = regexp.MustCompile(`^[_A-Za-z][_A-Za-z0-9]*$`)

// health reads spec.wait and spec.healthChecks.
func (l *loader) health(d *doc, spec *node, u *reconcile.Unit) {
	u.Health.Wait = spec.boolean("wait")
	checks := spec.objs("healthChecks")
	for _, c := range checks {
		gv, err := schema.ParseGroupVersion(c.str("apiVersion"))
		if err != nil {
			d.fail(c.at("apiVersion"), ErrInvalid, "%v", err)
			continue
		}
		id := object.ID{Group: gv.Group, Kind: c.str("kind"), Namespace: c.str("namespace"), Name: c.str("name")}
		if err := id.Validate(); err != nil {
			d.fail(c.path, ErrInvalid, "%v", err)
			continue
		}
		u.Health.Checks = append(u.Health.Checks, id)
	}
	if u.Health.Wait && len(checks) > 0 {
		d.warn(spec.at("healthChecks"), "ignored because spec.wait is true, as in Flux: every applied object is waited for")
		u.Health.Checks = nil
	}
}

// dependsOn reads spec.dependsOn.
func (l *loader) dependsOn(d *doc, spec *node, u *reconcile.Unit) {
	for _, dep := range spec.objs("dependsOn") {
		r := reconcile.Ref{Name: dep.str("name"), Namespace: dep.str("namespace")}
		dep.refuse("readyExpr", "readiness expressions are not supported: a dependency is ready when its unit is Ready and healthy")
		switch {
		case r.Name == "":
			d.fail(dep.at("name"), ErrInvalid, "required")
			continue
		case r.Name == u.Name && (r.Namespace == "" || r.Namespace == u.Namespace):
			d.fail(dep.path, ErrInvalid, "the Kustomization depends on itself")
			continue
		}
		u.DependsOn = append(u.DependsOn, r)
	}
}

// postBuild reads spec.postBuild: variable substitution.
func postBuild(d *doc, pb *node, u *reconcile.Unit) {
	vars := pb.strMap("substitute")
	for k := range vars {
		if !varName.MatchString(k) {
			d.fail(joinPath(pb.at("substitute"), k), ErrInvalid, "not a variable name (letters, digits and '_', not starting with a digit)")
		}
	}
	u.Substitute.Vars = vars
	for _, f := range pb.objs("substituteFrom") {
		from := reconcile.SubstituteFrom{Kind: f.str("kind"), Name: f.str("name"), Optional: f.boolean("optional")}
		if from.Kind != "ConfigMap" && from.Kind != "Secret" {
			d.fail(f.at("kind"), ErrInvalid, "%q is not ConfigMap or Secret", short(from.Kind))
		}
		if from.Name == "" {
			d.fail(f.at("name"), ErrInvalid, "required")
		}
		u.Substitute.From = append(u.Substitute.From, from)
	}
}

// overrides reads the kustomization overrides of a Kustomization.
func overrides(d *doc, spec *node, o *render.Options) {
	o.NamePrefix = spec.str("namePrefix")
	o.NameSuffix = spec.str("nameSuffix")
	for _, i := range spec.objs("images") {
		img := render.Image{Name: i.str("name"), NewName: i.str("newName"), NewTag: i.str("newTag"), Digest: i.str("digest")}
		if img.Name == "" {
			d.fail(i.at("name"), ErrInvalid, "required")
		}
		o.Images = append(o.Images, img)
	}
	for _, p := range spec.objs("patches") {
		rp := render.Patch{Patch: p.str("patch"), Target: selector(p.obj("target"))}
		if rp.Patch == "" {
			d.fail(p.at("patch"), ErrInvalid, "required")
		}
		o.Patches = append(o.Patches, rp)
	}
	o.Components = spec.strs("components")
	if spec.boolean("ignoreMissingComponents") {
		d.warn(spec.at("ignoreMissingComponents"), "a missing component fails the render instead of being skipped")
	}
	cm := spec.obj("commonMetadata")
	o.CommonLabels = cm.strMap("labels")
	o.CommonAnnotations = cm.strMap("annotations")

	// v1beta2's patch lists, as inline patches.
	for i, p := range spec.list("patchesStrategicMerge") {
		b, err := json.Marshal(p)
		if _, isMap := p.(map[string]any); !isMap || err != nil {
			d.fail(spec.at("patchesStrategicMerge")+"["+strconv.Itoa(i)+"]", ErrInvalid, "must be a mapping, not %s", typeName(p))
			continue
		}
		o.Patches = append(o.Patches, render.Patch{Patch: string(b)})
	}
	for _, p := range spec.objs("patchesJson6902") {
		ops := p.list("patch")
		b, err := json.Marshal(ops)
		if len(ops) == 0 || err != nil {
			d.fail(p.at("patch"), ErrInvalid, "required: a list of JSON 6902 operations")
			continue
		}
		o.Patches = append(o.Patches, render.Patch{Patch: string(b), Target: selector(p.obj("target"))})
	}
}

// selector reads a patch target; nil when absent.
func selector(t *node) *render.Selector {
	if t.m == nil {
		return nil
	}
	return &render.Selector{
		Group: t.str("group"), Version: t.str("version"), Kind: t.str("kind"),
		Name: t.str("name"), Namespace: t.str("namespace"),
		LabelSelector: t.str("labelSelector"), AnnotationSelector: t.str("annotationSelector"),
	}
}

// kubeConfig reads spec.kubeConfig: a remote cluster, named through the
// host's Options.KubeConfigCluster.
func (l *loader) kubeConfig(d *doc, k *node, u *reconcile.Unit) {
	if k.m == nil {
		return
	}
	ref := KubeConfigRef{Namespace: u.Namespace}
	if sr := k.obj("secretRef"); sr.m != nil {
		ref.Secret, ref.Key = sr.str("name"), sr.str("key")
	}
	if cm := k.obj("configMapRef"); cm.m != nil {
		ref.ConfigMap = cm.str("name")
	}
	switch {
	case ref.Secret == "" && ref.ConfigMap == "":
		d.fail(k.path, ErrInvalid, "a secretRef or a configMapRef with a name is required")
	case l.opts.KubeConfigCluster == nil:
		d.fail(k.path, ErrUnsupported, "a remote cluster from a kubeconfig needs Options.KubeConfigCluster to name it as the Reconciler's ClusterResolver knows it")
	default:
		cluster, err := l.opts.KubeConfigCluster(ref)
		if err != nil {
			d.fail(k.path, ErrMissing, "%v", err)
			return
		}
		u.Destination.Cluster = cluster
	}
}

// add keeps a unit that loaded without errors, and reports whether it
// did.
func (l *loader) add(d *doc, u *reconcile.Unit, cascade bool) bool {
	for i, prev := range l.units {
		if prev.Ref() == u.Ref() {
			d.fail("metadata.name", ErrInvalid, "unit %s is also defined by %s", u.Ref(), l.objects[i])
			return false
		}
	}
	if err := u.Validate(); err != nil {
		d.fail("", ErrInvalid, "%v", err)
		return false
	}
	l.units = append(l.units, *u)
	l.objects = append(l.objects, d.object)
	if cascade {
		l.cascades = append(l.cascades, Cascade{Unit: u.Ref(), Propagation: metav1.DeletePropagationBackground})
	}
	return true
}
