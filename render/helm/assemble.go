package helm

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
)

// assemble builds the Set from the engine's output in `helm template
// --include-crds --skip-tests` order: CRDs, manifests in Helm's install
// order, hooks in Helm's order. Every document goes through the object
// package's bounded decoder.
func assemble(c *chart.Chart, files map[string]string, dir string, dec object.DecodeOptions) (*object.Set, error) {
	for name := range files {
		if strings.HasSuffix(name, "NOTES.txt") {
			delete(files, name)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	if err != nil {
		return nil, &render.Error{Path: dir, Err: sortError(err)}
	}
	set := object.NewSet()
	add := func(source, content string, edit func(*unstructured.Unstructured)) error {
		source = sourcePath(c.Name(), dir, source)
		dec := dec
		dec.Source = source
		// `helm template` prints a newline after each document, which a
		// trailing block scalar ("|") keeps.
		objs, err := object.DecodeBytes([]byte(content+"\n"), dec)
		if err != nil {
			return &render.Error{Path: source, Err: err}
		}
		for _, obj := range objs {
			if edit != nil {
				edit(obj)
			}
			if err := set.Add(obj, source); err != nil {
				return &render.Error{Path: dir, Err: err}
			}
			if set.Len() > dec.MaxDocuments {
				return &render.Error{Path: dir, Err: fmt.Errorf("%w: the chart renders more than %d objects", object.ErrTooManyDocuments, dec.MaxDocuments)}
			}
		}
		return nil
	}
	for _, crd := range c.CRDObjects() {
		if err := add(crd.Filename, string(crd.File.Data), nil); err != nil {
			return nil, err
		}
	}
	for _, m := range manifests {
		if err := add(m.Name, m.Content, nil); err != nil {
			return nil, err
		}
	}
	for _, h := range hooks {
		annotations, keep := hookAnnotations(h)
		if !keep {
			continue
		}
		err := add(h.Path, h.Manifest, func(obj *unstructured.Unstructured) {
			a := obj.GetAnnotations()
			if a == nil {
				a = map[string]string{}
			}
			if _, ok := a[object.HelmHookWeight]; ok {
				annotations[object.AnnotationSyncWave] = strconv.Itoa(h.Weight) // Helm's reading: 0 unless an integer
			}
			for k, v := range annotations {
				if _, set := a[k]; !set { // the chart's own converge annotations win
					a[k] = v
				}
			}
			obj.SetAnnotations(a)
		})
		if err != nil {
			return nil, err
		}
	}
	return set, nil
}

// hookAnnotations maps a Helm hook to converge's annotations. It returns
// false for a hook converge drops: a test hook (as `helm template
// --skip-tests`), and one whose events are all delete or rollback events,
// phases a GitOps sync does not have.
func hookAnnotations(h *release.Hook) (map[string]string, bool) {
	var pre, post bool
	for _, e := range h.Events {
		switch e {
		case release.HookTest:
			return nil, false
		case release.HookPreInstall, release.HookPreUpgrade:
			pre = true
		case release.HookPostInstall, release.HookPostUpgrade:
			post = true
		}
	}
	var phases []string
	if pre {
		phases = append(phases, "PreSync")
	}
	if post {
		phases = append(phases, "PostSync")
	}
	if len(phases) == 0 {
		return nil, false
	}
	out := map[string]string{object.AnnotationHook: strings.Join(phases, ",")}
	var policies []string
	seen := map[string]bool{}
	for _, p := range h.DeletePolicies {
		var v string
		switch p {
		case release.HookBeforeHookCreation:
			v = "BeforeHookCreation"
		case release.HookSucceeded:
			v = "HookSucceeded"
		case release.HookFailed:
			v = "HookFailed"
		default:
			continue
		}
		if !seen[v] {
			seen[v] = true
			policies = append(policies, v)
		}
	}
	if len(policies) == 0 {
		policies = []string{"BeforeHookCreation"} // Helm's default
	}
	out[object.AnnotationHookDeletePolicy] = strings.Join(policies, ",")
	return out, true
}

// sourcePath is a rendered file's path relative to the fs root: the
// engine names templates "CHART/templates/x.yaml".
func sourcePath(chartName, dir, name string) string {
	rest, ok := strings.CutPrefix(name, chartName+"/")
	if !ok {
		return path.Join(dir, name)
	}
	return path.Join(dir, rest)
}

var parseOnRE = regexp.MustCompile(`YAML parse error on (\S+?):`)

// sortError describes a rendered document Helm cannot parse by its
// template and line only.
func sortError(err error) error {
	msg := err.Error()
	where := "a rendered template"
	if m := parseOnRE.FindStringSubmatch(msg); m != nil {
		where = m[1]
	}
	return fmt.Errorf("%w: %s renders %s", render.ErrSyntax, where, yamlPosition(err))
}
