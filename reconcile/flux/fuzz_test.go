package flux_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/reconcile/flux"
)

// FuzzLoad: Load never panics, and either fails with the errors its doc
// promises (a *FieldError or the object package's *DecodeError) or
// returns units that all pass Validate.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, s := range []string{
		pair,
		"", "---\n", "[]", "{}", "null",
		"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n",
		"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: a}\nspec: 1\n",
		"apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImagePolicy\n",
		strings.Replace(pair, "./apps/api", "/../../x", 1),
		strings.Replace(pair, "interval: 5m", "interval: 9999999999999h", 1),
		strings.Replace(pair, "    branch: main", "    semver: '>= <'", 1),
		strings.Replace(pair, "    branch: main", "    name: refs/heads/../x", 1),
		strings.Replace(pair, "    branch: main", "    branch: main\n  ignore: \"!\\n#\\n\\\\\\n**/**/[\"", 1),
		pair + "  healthCheckExprs:\n    - {apiVersion: a/v1, kind: B, current: 'status.x.all(status, status.exists(spec, spec == metadata))'}\n",
		pair + "  healthCheckExprs:\n    - {apiVersion: a/v1, kind: B, current: '" + strings.Repeat("(", 200) + "'}\n",
		pair + "  dependsOn: [{name: api}, {name: ''}, 1]\n",
		pair + "  postBuild: {substitute: {'': x, 'a b': y}, substituteFrom: [{}]}\n",
		pair + "  patchesStrategicMerge: [1, [], {}]\n  patchesJson6902: [{patch: []}, {}]\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		res, err := flux.Load(strings.NewReader(in), flux.Options{})
		if err != nil {
			var fe *flux.FieldError
			var de *object.DecodeError
			if !errors.As(err, &fe) && !errors.As(err, &de) {
				t.Fatalf("error is neither a *FieldError nor a *DecodeError: %v", err)
			}
			if res != nil {
				t.Fatal("a Result with an error")
			}
			return
		}
		for _, u := range res.Units {
			if err := u.Validate(); err != nil {
				t.Fatalf("unit %s: %v", u.Ref(), err)
			}
		}
	})
}
