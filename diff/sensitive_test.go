package diff_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/object"
)

func deployment(value string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "api", "namespace": "shop", "annotations": map[string]any{
			object.AnnotationSensitive: `["/spec/template/spec/containers/0/env/0/value"]`,
			"example.com/copy":         "dsn is " + value,
		}},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{
			map[string]any{"name": "api", "image": "api:1", "env": []any{map[string]any{"name": "PASSWORD", "value": value}}},
		}}}},
	}}
}

// Fields a secrets step marked sensitive are masked in a non-Secret
// object as a Secret's values are, copies included.
func TestSensitiveFieldsAreMasked(t *testing.T) {
	before, after := deployment("MARKER-old-secret"), deployment("MARKER-new-secret")
	after.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["image"] = "api:2"

	text, err := diff.Unified(before, after, diff.UnifiedOptions{})
	require.NoError(t, err)
	assert.NotContains(t, text, "MARKER")
	assert.Contains(t, text, diff.MaskBefore)
	assert.Contains(t, text, diff.MaskAfter)
	assert.Contains(t, text, "api:2", "the rest of the diff is shown")

	one := diff.MaskSecret(after)
	env := one.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["env"].([]any)[0].(map[string]any)
	assert.Equal(t, diff.Mask, env["value"])
	assert.Equal(t, diff.Mask, one.GetAnnotations()["example.com/copy"])
	assert.Equal(t, `["/spec/template/spec/containers/0/env/0/value"]`, one.GetAnnotations()[object.AnnotationSensitive], "the paths stay readable")
	orig := after.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["env"].([]any)[0].(map[string]any)
	assert.Equal(t, "MARKER-new-secret", orig["value"], "the input is not modified")

	bad := deployment("MARKER-x-secret")
	bad.SetAnnotations(map[string]string{object.AnnotationSensitive: "not json"})
	masked := diff.MaskSecret(bad)
	text, err = diff.Unified(nil, masked, diff.UnifiedOptions{})
	require.NoError(t, err)
	assert.NotContains(t, text, "MARKER", "an unreadable annotation masks every value")
}
