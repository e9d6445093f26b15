package argocd

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/generate"
	"github.com/converge-dev/converge/reconcile/internal/manifest"
)

// Generators other than list, as Argo CD names them.
var otherGenerators = []string{"clusters", "git", "matrix", "merge", "scmProvider", "pullRequest", "clusterDecisionResource", "plugin"}

// applicationSet expands an ApplicationSet's list generators into units.
func (l *loader) applicationSet(d *manifest.Doc, n *manifest.Node) {
	n.Accept("apiVersion", "kind", "status")
	m := manifest.ReadMeta(n, l.opts.Namespace)
	spec := n.Obj("spec")
	if spec.Bool("goTemplate") {
		d.Fail(spec.At("goTemplate"), ErrUnsupported, "Go templates are not supported: write {{param}} placeholders (Argo CD's default fasttemplate syntax)")
	}
	spec.Strs("goTemplateOptions") // only read with goTemplate
	spec.Refuse("templatePatch", "template patches are not supported (they need Go templates)")
	spec.Refuse("strategy", "progressive syncs (RollingSync) are not supported: order the units with dependsOn, or promote between environments")
	sp := spec.Obj("syncPolicy")
	if sp.Present("preserveResourcesOnDeletion") {
		sp.Bool("preserveResourcesOnDeletion")
		d.Warn(sp.At("preserveResourcesOnDeletion"), "converge has no ApplicationSet controller: whether removing an Application deletes its objects is each unit's Cascade")
	}
	sp.Inform("applicationsSync", "converge has no ApplicationSet controller: the host adds, updates and removes the units Load returns")
	spec.Inform("preservedFields", "converge has no ApplicationSet controller, so there are no fields of generated Applications to preserve")
	spec.Inform("ignoreApplicationDifferences", "converge has no ApplicationSet controller, so there are no generated Applications to compare")
	tn := spec.Obj("template")
	tn.Accept("metadata", "spec")
	if tn.Map() == nil {
		d.Fail(tn.Path(), ErrInvalid, "required")
	}
	gens := spec.Objs("generators")
	if len(gens) == 0 {
		d.Fail(spec.At("generators"), ErrInvalid, "required")
	}
	var elems []element
	for _, g := range gens {
		for _, k := range otherGenerators {
			g.Refuse(k, "the %s generator is not supported: only the list generator is (expand the others into list elements)", k)
		}
		g.Refuse("selector", "generator selectors are not supported: list only the elements you want")
		if !g.Present("list") {
			if len(g.Map()) == 0 {
				d.Fail(g.Path(), ErrInvalid, "no generator")
			}
			continue
		}
		list := g.Obj("list")
		list.Refuse("elementsYaml", "elementsYaml is for Go templates, which are not supported: write elements")
		list.Refuse("template", "a generator's own template is not supported: put its fields in spec.template")
		for i, e := range list.List("elements") {
			p := fmt.Sprintf("%s[%d]", list.At("elements"), i)
			if len(elems) == maxElements(l.opts) {
				d.Fail(list.At("elements"), ErrInvalid, "more than %d elements", maxElements(l.opts))
				break
			}
			if params, ok := elementParams(d, p, e); ok {
				elems = append(elems, element{path: p, params: params})
			}
		}
	}
	if d.Failed() || tn.Map() == nil {
		return
	}
	if len(elems) == 0 {
		d.Warn(spec.At("generators"), "no element: the ApplicationSet generates no Application")
	}
	set := reconcile.Ref{Namespace: m.Namespace, Name: m.Name}
	for _, e := range elems {
		l.expandElement(d, tn.Map(), set, e)
	}
}

// maxElements bounds the Applications one Load generates: the decoder's
// document limit.
func maxElements(o Options) int {
	if o.Decode.MaxDocuments > 0 {
		return o.Decode.MaxDocuments
	}
	return object.DefaultMaxDocuments
}

// element is one list element's parameters.
type element struct {
	path   string
	params map[string]string
}

// elementParams reads a list element as Argo CD's fasttemplate mode does:
// each key a parameter, and each key of "values" a "values.key" one.
func elementParams(d *manifest.Doc, p string, e any) (map[string]string, bool) {
	m, ok := e.(map[string]any)
	if !ok {
		d.Fail(p, ErrInvalid, "must be a mapping, not %s", manifest.TypeName(e))
		return nil, false
	}
	params := map[string]string{}
	good := true
	put := func(name, path string, v any) {
		s, ok := scalarString(v)
		if !ok {
			d.Fail(path, ErrInvalid, "must be a string, not %s", manifest.TypeName(v))
			good = false
			return
		}
		if _, isStr := v.(string); !isStr {
			d.Warn(path, "%s: Argo CD takes only strings as list element values; converge uses %q", manifest.TypeName(v), s)
		}
		params[name] = s
	}
	for _, k := range sortedKeys(m) {
		if k != "values" {
			put(k, manifest.JoinPath(p, k), m[k])
			continue
		}
		vm, ok := m[k].(map[string]any)
		if !ok {
			d.Fail(manifest.JoinPath(p, k), ErrInvalid, "must be a mapping, not %s", manifest.TypeName(m[k]))
			good = false
			continue
		}
		for _, vk := range sortedKeys(vm) {
			put("values."+vk, manifest.JoinPath(manifest.JoinPath(p, k), vk), vm[vk])
		}
	}
	return params, good
}

func scalarString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	}
	return "", false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// expandElement substitutes an element's parameters into the template and
// loads the Application it gives.
func (l *loader) expandElement(set *manifest.Doc, tmpl map[string]any, ref reconcile.Ref, e element) {
	namespace := ref.Namespace
	gen := make(generate.Params, len(e.params))
	for k, v := range e.params {
		gen[k] = v
	}
	x := &expansion{l: l, d: set, params: e.params, gen: gen, elem: e.path}
	out, _ := x.value(tmpl, "spec.template").(map[string]any)
	if x.failed {
		return
	}
	app := map[string]any{"apiVersion": APIVersion, "kind": "Application", "metadata": out["metadata"], "spec": out["spec"]}
	name := "?"
	if md, ok := out["metadata"].(map[string]any); ok {
		if s, ok := md["name"].(string); ok {
			name = manifest.Short(s)
		}
	}
	// Its scalars went through string substitution: a string "true"
	// stands for a boolean and "3" for a number.
	d := manifest.NewDoc(fmt.Sprintf("%s: %s (Application %s)", set.Object(), e.path, name), manifest.FromTemplate("Argo CD"))
	l.application(d, d.Root(app, "spec.template"), namespace)
	d.Finish()
	l.found.Fail(d.Errors()...)
	if !d.Failed() {
		obj := &unstructured.Unstructured{Object: app}
		if obj.GetNamespace() == "" {
			obj.SetNamespace(namespace)
		}
		l.generated = append(l.generated, Generated{Set: ref, Application: obj})
	}
	// One warning per field of the template, not one per element.
	for _, w := range d.Warnings() {
		w.Object = set.Object()
		l.found.Warn(w)
	}
}

// expansion substitutes parameters into a template, within the loader's
// byte budget.
type expansion struct {
	l      *loader
	d      *manifest.Doc
	params map[string]string
	gen    generate.Params // params, as generate takes them
	elem   string          // the element, for errors
	failed bool
}

func (x *expansion) spend(n int) bool {
	if x.failed {
		return false
	}
	x.l.budget -= int64(n)
	if x.l.budget < 0 {
		x.d.Fail("spec.template", ErrInvalid, "the ApplicationSet expands beyond %d bytes (element %s)", budgetOf(x.l.opts), x.elem)
		x.l.budget = math.MinInt64 / 2
		x.failed = true
		return false
	}
	return true
}

func (x *expansion) value(v any, p string) any {
	if !x.spend(16) {
		return nil
	}
	switch v := v.(type) {
	case string:
		return x.text(v, p)
	case map[string]any:
		out := make(map[string]any, len(v))
		for _, k := range sortedKeys(v) {
			nk := x.text(k, manifest.JoinPath(p, k))
			if _, dup := out[nk]; dup {
				x.d.Fail(manifest.JoinPath(p, k), ErrInvalid, "two keys are %q after substitution (element %s)", manifest.Short(nk), x.elem)
				x.failed = true
			}
			out[nk] = x.value(v[k], manifest.JoinPath(p, k))
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = x.value(e, fmt.Sprintf("%s[%d]", p, i))
		}
		return out
	}
	return v
}

// text replaces {{name}} by the parameter name with generate's
// fasttemplate mode, as Argo CD does: spaces around the name are trimmed,
// and a name that is no parameter stays as it is (with a warning here).
func (x *expansion) text(s, p string) string {
	if !strings.Contains(s, "{{") {
		return s
	}
	tags, err := generate.Placeholders(s)
	if err != nil {
		x.d.Fail(p, ErrInvalid, "a {{ without }} (element %s)", x.elem)
		x.failed = true
		return ""
	}
	for _, tag := range tags {
		if _, ok := x.params[tag]; !ok || tag == "" {
			x.d.Warn(p, "{{%s}} is no parameter of the element; kept as it is, as Argo CD does", manifest.Short(tag))
		}
	}
	if x.failed || x.l.budget <= 0 {
		x.spend(1)
		return ""
	}
	o := generate.DefaultOptions()
	o.MaxBytes = int(min(x.l.budget, math.MaxInt32))
	out, err := generate.String(s, x.gen, o)
	if err != nil { // only the byte budget: the placeholders parsed
		x.spend(int(x.l.budget) + 1)
		return ""
	}
	if !x.spend(len(out)) {
		return ""
	}
	return out
}
