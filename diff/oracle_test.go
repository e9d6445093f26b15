package diff_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/object"
)

const widgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              replicas: {type: integer}
              image: {type: string}
              size: {x-kubernetes-int-or-string: true}
              tags: {type: array, items: {type: string}}
              config: {type: object, additionalProperties: {type: string}}
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    port: {type: integer}
          status:
            type: object
            properties:
              ready: {type: boolean}
`

// installWidgetCRD creates the Widget CRD once and waits for it.
func installWidgetCRD(t *testing.T, c *cluster.Client) {
	t.Helper()
	objs, err := object.DecodeBytes([]byte(widgetCRD), object.DecodeOptions{})
	require.NoError(t, err)
	ctx := context.Background()
	ri, _, err := c.ResourceFor(ctx, objs[0])
	require.NoError(t, err)
	_, err = ri.Apply(ctx, objs[0].GetName(), objs[0], metav1.ApplyOptions{FieldManager: "test", Force: true})
	require.NoError(t, err)
	require.NoError(t, wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := env.Client.Get(ctx, types.NamespacedName{Name: "widgets.example.com"}, &crd); err != nil {
			return false, nil
		}
		for _, cond := range crd.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	}))
	c.Invalidate()
	// The API server publishes the new group's OpenAPI a moment after the
	// CRD is Established.
	require.NoError(t, wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := c.TypeConverter(ctx, schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"})
		return err == nil, nil
	}))
}

// desiredObjects returns the objects of one oracle round, for index i.
func desiredObjects(ns string, i int, variant string) []*unstructured.Unstructured {
	image := "registry.example/api:1.0.0"
	value := "v1"
	labels := map[string]any{"app": "api", "tier": "backend"}
	switch variant {
	case "changed":
		image, value = "registry.example/api:2.0.0", "v2"
	case "removed":
		labels = map[string]any{"app": "api"}
	}
	name := fmt.Sprintf("o%d", i)
	meta := func() map[string]any {
		return map[string]any{"name": name, "namespace": ns, "labels": copyMap(labels)}
	}
	return []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(),
			"data": map[string]any{"key": value, "other": "x"}}},
		{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": meta(),
			"stringData": map[string]any{"password": "hunter-" + value}}},
		{Object: map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": meta(),
			"spec": map[string]any{"selector": map[string]any{"app": "api"},
				"ports": []any{map[string]any{"name": "http", "port": int64(80), "targetPort": "http"}}}}},
		{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(),
			"spec": map[string]any{
				"replicas": int64(2),
				"selector": map[string]any{"matchLabels": map[string]any{"app": "api"}},
				"template": map[string]any{
					"metadata": map[string]any{"labels": map[string]any{"app": "api"}},
					"spec": map[string]any{"containers": []any{map[string]any{
						"name": "api", "image": image,
						"resources": map[string]any{"limits": map[string]any{"cpu": "1000m", "memory": "128Mi"}},
						"env":       []any{map[string]any{"name": "MODE", "value": value}},
					}}},
				},
			}}},
		{Object: map[string]any{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": meta(),
			"spec": map[string]any{"replicas": int64(1), "image": image, "size": "10", "tags": []any{"a", "b"},
				"config": map[string]any{"k": value},
				"ports":  []any{map[string]any{"name": "http", "port": int64(8080)}}}}},
	}
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// mutations the oracle applies to live objects, by index.
var mutations = []string{
	"none", "edit-owned", "edit-unowned", "other-applier", "status", "scale",
	"desired-changed", "desired-removed", "edit-same-value",
}

// TestOracle checks, for every object, that converge's local verdict
// agrees with a real server-side dry-run apply.
func TestOracle(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	c, err := cluster.New(env.Config)
	require.NoError(t, err)
	installWidgetCRD(t, c)

	type item struct {
		mutation string
		desired  *unstructured.Unstructured
	}
	var items []item
	for i, m := range mutations {
		for _, obj := range desiredObjects(ns, i, "original") {
			applyAs(t, c, obj, object.FieldManager)
			variant := "original"
			switch m {
			case "desired-changed":
				variant = "changed"
			case "desired-removed":
				variant = "removed"
			}
			for _, d := range desiredObjects(ns, i, variant) {
				if object.IDOf(d) == object.IDOf(obj) {
					items = append(items, item{mutation: m, desired: d})
				}
			}
		}
	}
	for _, it := range items {
		mutate(t, c, it.desired, it.mutation)
	}

	local, err := diff.New(c)
	require.NoError(t, err)
	settled, err := diff.New(c, diff.WithDryRun(c))
	require.NoError(t, err)

	var agree, uncertain int
	for _, it := range items {
		id := object.IDOf(it.desired)
		live, err := c.Get(ctx, it.desired.GroupVersionKind(), id.Namespace, id.Name)
		require.NoError(t, err)
		serverChanged := serverWouldChange(t, c, it.desired, live)

		res, err := local.Diff(ctx, it.desired, live)
		require.NoError(t, err, "%s %s", it.mutation, id)
		if res.Uncertain {
			uncertain++
			t.Logf("uncertain: %s after %s: %s (server: changed=%v)", id, it.mutation, res.Reason, serverChanged)
		} else if assert.Equal(t, serverChanged, res.Action == diff.Update,
			"%s after %s: local says %s %v, the server's dry-run says changed=%v\n%s", id, it.mutation, res.Action, res.Paths, serverChanged, res.Diff) {
			agree++
		}

		// With the dry-run fallback every verdict is settled and agrees.
		final, err := settled.Diff(ctx, it.desired, live)
		require.NoError(t, err)
		assert.False(t, final.Uncertain)
		assert.Equal(t, serverChanged, final.Action == diff.Update, "%s after %s (settled by %s)", id, it.mutation, final.Method)

		// The final truth: a real apply of an object judged Unchanged
		// writes nothing, so its resourceVersion stays.
		if final.Action == diff.Unchanged {
			applied := applyAs(t, c, it.desired, object.FieldManager)
			assert.Equal(t, live.GetResourceVersion(), applied.GetResourceVersion(), "%s after %s: judged Unchanged, but applying it wrote", id, it.mutation)
		}
	}
	t.Logf("local verdicts: %d agree with the server, %d uncertain, of %d", agree, uncertain, len(items))
	assert.LessOrEqual(t, uncertain, len(items)/4, "the local merge should settle most objects")
}

func applyAs(t *testing.T, c *cluster.Client, obj *unstructured.Unstructured, manager string) *unstructured.Unstructured {
	t.Helper()
	ri, _, err := c.ResourceFor(context.Background(), obj)
	require.NoError(t, err)
	out, err := ri.Apply(context.Background(), obj.GetName(), obj, metav1.ApplyOptions{FieldManager: manager, Force: true})
	require.NoError(t, err, "apply %s", object.IDOf(obj))
	return out
}

// mutate changes the live object the way other actors do.
func mutate(t *testing.T, c *cluster.Client, desired *unstructured.Unstructured, how string) {
	t.Helper()
	ctx := context.Background()
	id := object.IDOf(desired)
	ri, _, err := c.ResourceFor(ctx, desired)
	require.NoError(t, err)
	live, err := ri.Get(ctx, id.Name, metav1.GetOptions{})
	require.NoError(t, err)
	update := func(manager string, change func(u *unstructured.Unstructured), sub ...string) {
		u := live.DeepCopy()
		change(u)
		_, err := ri.Update(ctx, u, metav1.UpdateOptions{FieldManager: manager}, sub...)
		require.NoError(t, err, "%s %s", how, id)
	}
	switch how {
	case "edit-owned":
		update("kubectl-edit", func(u *unstructured.Unstructured) {
			switch id.Kind {
			case "ConfigMap":
				_ = unstructured.SetNestedField(u.Object, "edited", "data", "key")
			case "Secret":
				_ = unstructured.SetNestedField(u.Object, "ZWRpdGVk", "data", "password")
			case "Service":
				_ = unstructured.SetNestedField(u.Object, map[string]any{"app": "other"}, "spec", "selector")
			case "Deployment":
				_ = unstructured.SetNestedField(u.Object, int64(5), "spec", "replicas")
			case "Widget":
				_ = unstructured.SetNestedField(u.Object, "edited:1", "spec", "image")
			}
		})
	case "edit-unowned", "edit-same-value":
		update("kubectl-edit", func(u *unstructured.Unstructured) {
			if how == "edit-unowned" {
				ann := u.GetAnnotations()
				if ann == nil {
					ann = map[string]string{}
				}
				ann["example.com/touched"] = "yes"
				u.SetAnnotations(ann)
				return
			}
			labels := u.GetLabels()
			labels["app"] = "api" // the same value converge set
			u.SetLabels(labels)
		})
	case "other-applier":
		patch := &unstructured.Unstructured{}
		patch.SetGroupVersionKind(desired.GroupVersionKind())
		patch.SetName(id.Name)
		patch.SetNamespace(id.Namespace)
		patch.SetLabels(map[string]string{"team": "payments"})
		applyAs(t, c, patch, "other-applier")
	case "status":
		if id.Kind == "Widget" {
			update("widget-controller", func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, true, "status", "ready")
			}, "status")
		}
		if id.Kind == "Deployment" {
			update("kube-controller-manager", func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, int64(1), "status", "observedGeneration")
			}, "status")
		}
	case "scale":
		if id.Kind == "Deployment" {
			scale, err := ri.Get(ctx, id.Name, metav1.GetOptions{}, "scale")
			require.NoError(t, err)
			_ = unstructured.SetNestedField(scale.Object, int64(4), "spec", "replicas")
			_, err = ri.Update(ctx, scale, metav1.UpdateOptions{FieldManager: "hpa"}, "scale")
			require.NoError(t, err)
		}
	}
}

// serverWouldChange asks the API server: would applying desired write
// anything? It compares the dry-run result with live, ignoring only the
// timestamps in managedFields.
func serverWouldChange(t *testing.T, c *cluster.Client, desired, live *unstructured.Unstructured) bool {
	t.Helper()
	after, err := c.DryRunApply(context.Background(), desired, object.FieldManager)
	require.NoError(t, err)
	a, b := withoutTimes(live), withoutTimes(after)
	if reflect.DeepEqual(a, b) {
		return false
	}
	ay, _ := yaml.Marshal(a)
	by, _ := yaml.Marshal(b)
	text, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{A: difflib.SplitLines(string(ay)), B: difflib.SplitLines(string(by)), Context: 2})
	t.Logf("the server would change %s:\n%s", object.IDOf(desired), text)
	return true
}

// withoutTimes drops managedFields timestamps, which the server ignores
// when it decides whether an apply is a no-op. The order of entries is
// kept: re-sorting entries that share a timestamp second is a real write.
func withoutTimes(u *unstructured.Unstructured) map[string]any {
	out := u.DeepCopy()
	mf := out.GetManagedFields()
	for i := range mf {
		mf[i].Time = nil
	}
	out.SetManagedFields(mf)
	return out.Object
}
