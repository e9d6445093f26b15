package diff_test

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/object"
)

// A Differ normally gets its schemas and dry-runs from a cluster.Client.
// Here the types are deduced from the values (no list keys, no schema
// knowledge), which is enough to show the shape of a result.
func ExampleDiffer_Diff() {
	deduced := diff.SchemasFunc(func(context.Context, schema.GroupVersionKind) (managedfields.TypeConverter, error) {
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
	// @@ -4,5 +4,5 @@
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
		send, err := d.StripIgnored(context.Background(), desired, l)
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

// A Differ on a cluster's schemas and dry-run, as the package overview
// builds it: a changed Secret is an Update whose diff masks the values;
// once applied and recorded, the same desired object is Unchanged by its
// receipt, without a request.
func ExampleNew() {
	env, err := plane.Start() // a real API server: the host brings its own rest.Config
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	client, err := cluster.New(env.Config)
	if err != nil {
		fmt.Println(err)
		return
	}
	// The host's apply: server-side, as converge's field manager.
	apply := func(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
		secrets := client.Dynamic().Resource(schema.GroupVersionResource{Version: "v1", Resource: "secrets"})
		return secrets.Namespace(obj.GetNamespace()).Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: object.FieldManager, Force: true})
	}
	secret := func(password string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret",
			"metadata":   map[string]any{"name": "example-db", "namespace": "default"},
			"stringData": map[string]any{"password": password, "user": "app"},
		}}
	}
	live, err := apply(ctx, secret("hunter2")) // what a watch cache would hold
	if err != nil {
		fmt.Println(err)
		return
	}
	desired := secret("hunter3")

	d, err := diff.New(client, diff.WithDryRun(client))
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := d.Diff(ctx, desired, live) // live from a watch cache, or nil
	if err != nil {
		fmt.Println(err)
		return
	}
	switch res.Action {
	case diff.Create, diff.Update:
		fmt.Print(res.Diff) // unified YAML diff, Secret values masked
	case diff.Unchanged:
	}

	send, err := d.StripIgnored(ctx, desired, live)
	if err != nil {
		fmt.Println(err)
		return
	}
	applied, err := apply(ctx, send)
	if err != nil {
		fmt.Println(err)
		return
	}
	err = d.Record(ctx, desired, applied) // desired as rendered, for its receipt
	if err != nil {
		fmt.Println(err)
		return
	}
	before := client.Requests()
	res, err = d.Diff(ctx, desired, applied)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Action, "by", res.Method, "with", client.Requests().Sub(before).Total(), "requests")
	// Output:
	// --- live/Secret/default/example-db
	// +++ desired/Secret/default/example-db
	// @@ -1,6 +1,6 @@
	//  apiVersion: v1
	//  data:
	// -  password: '*** (before)'
	// +  password: '*** (after)'
	//    user: '***'
	//  kind: Secret
	//  metadata:
	// Unchanged by Receipt with 0 requests
}
