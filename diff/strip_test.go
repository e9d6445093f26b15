package diff_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/object"
)

// builtinSchemas gives the built-in kinds' schemas without a server, from
// the copy client-go embeds.
var builtinSchemas = diff.SchemasFunc(func(context.Context, schema.GroupVersionKind) (managedfields.TypeConverter, error) {
	return applyconfigurations.NewTypeConverter(clientgoscheme.Scheme), nil
})

func stripDeployment() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "api", "namespace": "shop",
			"annotations": map[string]any{"example.com/checksum": "abc"}},
		"spec": map[string]any{
			"replicas": int64(2),
			"selector": map[string]any{"matchLabels": map[string]any{"app": "api"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "api"}},
				"spec": map[string]any{"containers": []any{
					map[string]any{"name": "api", "image": "registry.example/api:1.0.0"},
					map[string]any{"name": "sidecar", "image": "registry.example/proxy:1.0.0"},
				}},
			},
		},
	}}
}

// owned returns obj with managedFields entries: manager → FieldsV1 JSON.
func owned(obj *unstructured.Unstructured, entries ...metav1.ManagedFieldsEntry) *unstructured.Unstructured {
	out := obj.DeepCopy()
	out.SetManagedFields(entries)
	return out
}

func entry(manager string, op metav1.ManagedFieldsOperationType, fields, subresource string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, APIVersion: "apps/v1",
		FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(fields), Subresource: subresource}
}

const convergeFields = `{"f:metadata":{"f:annotations":{"f:example.com/checksum":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"api\"}":{".":{},"f:image":{},"f:name":{}},"k:{\"name\":\"sidecar\"}":{".":{},"f:image":{},"f:name":{}}}}}}}`

func TestStripIgnored(t *testing.T) {
	replicasRule := diff.IgnoreRule{Group: "apps", Kind: "Deployment", JSONPointers: []string{"/spec/replicas"}}
	hpa := entry("kube-controller-manager", metav1.ManagedFieldsOperationUpdate, `{"f:spec":{"f:replicas":{}}}`, "scale")
	converge := entry(object.FieldManager, metav1.ManagedFieldsOperationApply, convergeFields, "")
	cases := map[string]struct {
		rules  []diff.IgnoreRule
		live   *unstructured.Unstructured
		check  func(t *testing.T, out *unstructured.Unstructured)
		reason string
	}{
		"replicas an HPA owns are left out": {
			rules: []diff.IgnoreRule{replicasRule},
			live:  owned(stripDeployment(), converge, hpa),
			check: func(t *testing.T, out *unstructured.Unstructured) {
				_, found, _ := unstructured.NestedFieldNoCopy(out.Object, "spec", "replicas")
				assert.False(t, found)
				image, _, _ := unstructured.NestedSlice(out.Object, "spec", "template", "spec", "containers")
				assert.Len(t, image, 2, "the rest of desired is sent")
			},
		},
		"on create replicas are sent": {
			rules: []diff.IgnoreRule{replicasRule},
			check: func(t *testing.T, out *unstructured.Unstructured) {
				assert.Equal(t, stripDeployment().Object, out.Object)
			},
		},
		"replicas only converge owns are sent": {
			rules: []diff.IgnoreRule{replicasRule},
			live:  owned(stripDeployment(), converge),
			check: func(t *testing.T, out *unstructured.Unstructured) {
				assert.Equal(t, stripDeployment().Object, out.Object)
			},
		},
		"replicas nobody owns are sent": {
			rules: []diff.IgnoreRule{replicasRule},
			live:  stripDeployment(),
			check: func(t *testing.T, out *unstructured.Unstructured) {
				assert.Equal(t, stripDeployment().Object, out.Object)
			},
		},
		"a field another manager owns but no rule covers is sent": {
			live: owned(stripDeployment(), converge, hpa),
			check: func(t *testing.T, out *unstructured.Unstructured) {
				assert.Equal(t, stripDeployment().Object, out.Object)
			},
		},
		"an image an updater owns, by path selector": {
			rules: []diff.IgnoreRule{{Kind: "Deployment", Paths: []string{".spec.template.spec.containers[name=api].image"}}},
			live: owned(stripDeployment(), converge, entry("image-updater", metav1.ManagedFieldsOperationApply,
				`{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"api\"}":{".":{},"f:image":{},"f:name":{}}}}}}}`, "")),
			check: func(t *testing.T, out *unstructured.Unstructured) {
				cs, _, _ := unstructured.NestedSlice(out.Object, "spec", "template", "spec", "containers")
				require.Len(t, cs, 2)
				assert.Equal(t, map[string]any{"name": "api"}, cs[0], "the container stays, without the image")
				assert.Equal(t, "registry.example/proxy:1.0.0", cs[1].(map[string]any)["image"])
			},
		},
		"a container an injector owns whole": {
			rules: []diff.IgnoreRule{{Kind: "Deployment", Paths: []string{".spec.template.spec.containers[name=sidecar]"}}},
			live: owned(stripDeployment(), converge, entry("injector", metav1.ManagedFieldsOperationUpdate,
				`{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"sidecar\"}":{".":{},"f:image":{},"f:name":{}}}}}}}`, "")),
			check: func(t *testing.T, out *unstructured.Unstructured) {
				cs, _, _ := unstructured.NestedSlice(out.Object, "spec", "template", "spec", "containers")
				require.Len(t, cs, 1)
				assert.Equal(t, "api", cs[0].(map[string]any)["name"])
			},
		},
		"the fields of an ignored manager": {
			rules: []diff.IgnoreRule{{Kind: "Deployment", Managers: []string{"kube-controller-manager"}}},
			live:  owned(stripDeployment(), converge, hpa),
			check: func(t *testing.T, out *unstructured.Unstructured) {
				_, found, _ := unstructured.NestedFieldNoCopy(out.Object, "spec", "replicas")
				assert.False(t, found)
			},
		},
		"a map emptied by stripping is dropped": {
			rules: []diff.IgnoreRule{{Kind: "Deployment", Paths: []string{`.metadata.annotations["example.com/checksum"]`}}},
			live: owned(stripDeployment(), converge, entry("checksum-operator", metav1.ManagedFieldsOperationUpdate,
				`{"f:metadata":{"f:annotations":{"f:example.com/checksum":{}}}}`, "")),
			check: func(t *testing.T, out *unstructured.Unstructured) {
				_, found, _ := unstructured.NestedFieldNoCopy(out.Object, "metadata", "annotations")
				assert.False(t, found, "applying annotations: {} would claim the map")
				assert.Equal(t, "api", out.GetName())
			},
		},
		"a rule for another kind": {
			rules: []diff.IgnoreRule{{Kind: "StatefulSet", JSONPointers: []string{"/spec/replicas"}}},
			live:  owned(stripDeployment(), converge, hpa),
			check: func(t *testing.T, out *unstructured.Unstructured) {
				assert.Equal(t, stripDeployment().Object, out.Object)
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d, err := diff.New(builtinSchemas, diff.WithIgnoreRules(tc.rules...))
			require.NoError(t, err)
			desired := stripDeployment()
			out, err := d.StripIgnored(context.Background(), desired, tc.live)
			require.NoError(t, err)
			assert.Equal(t, stripDeployment().Object, desired.Object, "desired is not modified")
			assert.NotSame(t, desired, out)
			tc.check(t, out)
		})
	}
}

// TestStripIgnoredKeepsAnotherManagersValue scales a Deployment as an HPA
// does, through /scale, then changes its image in Git: applying desired as
// rendered takes replicas back, applying what StripIgnored returns leaves
// the HPA's value, and the Differ then finds the object in sync.
func TestStripIgnoredKeepsAnotherManagersValue(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	c, err := cluster.New(env.Config)
	require.NoError(t, err)
	d, err := diff.New(c, diff.WithIgnoreRules(diff.IgnoreRule{Group: "apps", Kind: "Deployment", JSONPointers: []string{"/spec/replicas"}}))
	require.NoError(t, err)

	for _, stripped := range []bool{false, true} {
		dep := desiredObjects(ns, 0, "original")[3]
		dep.SetName(map[bool]string{false: "as-rendered", true: "stripped"}[stripped])
		created, err := d.StripIgnored(ctx, dep, nil)
		require.NoError(t, err)
		applyAs(t, c, created, object.FieldManager)
		mutate(t, c, dep, "scale") // the "hpa" manager sets replicas to 4

		changed := desiredObjects(ns, 0, "changed")[3]
		changed.SetName(dep.GetName())
		live, err := c.Get(ctx, changed.GroupVersionKind(), ns, changed.GetName())
		require.NoError(t, err)
		send := changed
		if stripped {
			send, err = d.StripIgnored(ctx, changed, live)
			require.NoError(t, err)
		}
		applied := applyAs(t, c, send, object.FieldManager)
		replicas, _, _ := unstructured.NestedInt64(applied.Object, "spec", "replicas")
		containers, _, _ := unstructured.NestedSlice(applied.Object, "spec", "template", "spec", "containers")
		assert.Equal(t, "registry.example/api:2.0.0", containers[0].(map[string]any)["image"], "the image changes either way")
		if !stripped {
			assert.Equal(t, int64(2), replicas, "applied as rendered, converge takes replicas back from the HPA")
			continue
		}
		assert.Equal(t, int64(4), replicas, "the HPA's replicas stay")

		require.NoError(t, d.Record(ctx, changed, applied))
		res, err := d.Diff(ctx, changed, applied)
		require.NoError(t, err)
		assert.Equal(t, diff.Unchanged, res.Action, "%s\n%s", res, res.Diff)
		fresh, err := diff.New(c, diff.WithIgnoreRules(diff.IgnoreRule{Group: "apps", Kind: "Deployment", JSONPointers: []string{"/spec/replicas"}}))
		require.NoError(t, err)
		res, err = fresh.Diff(ctx, changed, applied)
		require.NoError(t, err)
		assert.Equal(t, diff.Unchanged, res.Action, "a new process agrees: %s\n%s", res, res.Diff)
	}
}
