package apply_test

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/object"
)

// An Applier per owner, called on every reconcile: the first call creates,
// the second finds nothing to do and sends no request.
func ExampleApplier_Apply() {
	ctx := context.Background()
	// The owner's namespace, where its inventory is kept.
	_ = env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "platform"}})
	client, err := cluster.New(env.Config) // any *rest.Config
	if err != nil {
		panic(err)
	}
	a, err := apply.New(client, apply.Owner{Name: "shop-prod", Namespace: "platform"})
	if err != nil {
		panic(err)
	}
	defer a.Close()

	set := object.NewSet()
	for _, name := range []string{"shop-settings", "shop-flags"} {
		cm := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name, "namespace": "default"},
			"data":     map[string]any{"mode": "live"},
		}}
		if err := set.Add(cm, "example"); err != nil {
			panic(err)
		}
	}
	res, err := a.Apply(ctx, set, apply.DefaultOptions())
	if err != nil {
		panic(err)
	}
	fmt.Println(res) // "2 created" the first time; "2 unchanged", and no request, the next
	fmt.Println(client.Requests().Writes(), "writes")

	before := client.Requests()
	res, err = a.Apply(ctx, set, apply.DefaultOptions())
	if err != nil {
		panic(err)
	}
	fmt.Println(res)
	fmt.Println(client.Requests().Sub(before).Total(), "requests")
	// Output:
	// 2 created
	// 3 writes
	// 2 unchanged
	// 0 requests
}

// A TenantPolicy refuses a set before anything is written.
func ExampleTenantPolicy() {
	policy := apply.TenantPolicy{
		Namespaces:  []string{"team-a"},
		DeniedKinds: []schema.GroupKind{{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}},
	}
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName("team-b")
	fmt.Println(policy.Check(context.Background(), []*unstructured.Unstructured{ns}))
	// Output:
	// Namespace/team-b: cluster-scoped objects are not allowed
}
