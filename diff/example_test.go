package diff_test

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"

	"github.com/converge-dev/converge/diff"
)

// A Differ normally gets its schemas and dry-runs from a cluster.Client.
// Here the types are deduced from the values (no list keys, no schema
// knowledge), which is enough to show the shape of a result.
func ExampleDiffer_Diff() {
	deduced := diff.SchemasFunc(func(schema.GroupVersionKind) (managedfields.TypeConverter, error) {
		return managedfields.NewDeducedTypeConverter(), nil
	})
	d, err := diff.New(deduced)
	if err != nil {
		fmt.Println(err)
		return
	}
	live := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "settings", "namespace": "shop"},
		"data":     map[string]any{"mode": "blue", "owner": "team-a"},
	}}
	desired := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "settings", "namespace": "shop"},
		"data":     map[string]any{"mode": "green"},
	}}
	res, err := d.Diff(context.Background(), desired, live)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Action, res.Paths)
	// Output:
	// Update [.data.mode]
}

// Two revisions of a Secret, as a preview of a pull request renders them
// without a cluster: the diff names the key that changed, never a value.
func ExampleUnified() {
	secret := func(password string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret",
			"metadata":   map[string]any{"name": "db", "namespace": "shop"},
			"stringData": map[string]any{"password": password, "user": "app"},
		}}
	}
	text, err := diff.Unified(secret("hunter2"), secret("hunter3"), diff.UnifiedOptions{From: "base/Secret/shop/db", To: "head/Secret/shop/db"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(text)
	// Output:
	// --- base/Secret/shop/db
	// +++ head/Secret/shop/db
	// @@ -4,6 +4,6 @@
	//    name: db
	//    namespace: shop
	//  stringData:
	// -  password: '*** (before)'
	// +  password: '*** (after)'
	//    user: '***'
}

// An HPA scales a Deployment whose replicas an ignore rule covers: the
// object to apply leaves replicas out, so the apply does not take them
// back. On create (no live object) replicas are sent.
func ExampleDiffer_StripIgnored() {
	d, err := diff.New(builtinSchemas, diff.WithIgnoreRules(diff.IgnoreRule{
		Group: "apps", Kind: "Deployment", JSONPointers: []string{"/spec/replicas"},
		Reason: "scaled by an HPA",
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	desired := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "api", "namespace": "shop"},
		"spec":     map[string]any{"replicas": int64(2), "minReadySeconds": int64(5)},
	}}
	live := desired.DeepCopy()
	live.SetManagedFields([]metav1.ManagedFieldsEntry{{
		Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "scale",
		APIVersion: "apps/v1", FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:spec":{"f:replicas":{}}}`),
	}})
	for _, l := range []*unstructured.Unstructured{nil, live} {
		send, err := d.StripIgnored(desired, l)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(send.Object["spec"])
	}
	// Output:
	// map[minReadySeconds:5 replicas:2]
	// map[minReadySeconds:5]
}
