package diff

import (
	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/converge-dev/converge/object"
)

// unifiedDiff renders before and after (either may be nil) as YAML and
// returns their unified diff, headed like kubectl diff's.
func unifiedDiff(id object.ID, before, after *unstructured.Unstructured) (string, error) {
	a, err := toYAML(before)
	if err != nil {
		return "", err
	}
	b, err := toYAML(after)
	if err != nil {
		return "", err
	}
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        difflib.SplitLines(a),
		B:        difflib.SplitLines(b),
		FromFile: "live/" + id.String(),
		ToFile:   "desired/" + id.String(),
		Context:  3,
	})
}

func toYAML(obj *unstructured.Unstructured) (string, error) {
	if obj == nil {
		return "", nil
	}
	out, err := yaml.Marshal(obj.Object)
	return string(out), err
}
