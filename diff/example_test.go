package diff_test

import (
	"context"
	"fmt"

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
