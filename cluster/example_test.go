package cluster_test

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/object"
)

// A Cache answers reads from watches: the first read of a kind lists and
// watches it, later reads cost no request. Its View reads the same watches
// by object ID, as health.Wait does.
func ExampleCache_Get() {
	ctx := context.Background()
	restConfig := env.Config // the host's *rest.Config
	// The object read below, as someone else wrote it.
	_ = env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}})
	_ = env.Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "api"}, Data: map[string]string{"mode": "live"}})

	c, err := cluster.New(restConfig)
	if err != nil {
		fmt.Println(err)
		return
	}
	// IgnoreCRDChanges keeps this example to one watch; by default the
	// cache also watches CRDs, to follow the kinds they define.
	cache := cluster.NewCache(c, cluster.CacheOptions{Namespaces: []string{"shop"}, IgnoreCRDChanges: true})
	defer cache.Stop()
	gvk := schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	live, err := cache.Get(ctx, gvk, "shop", "api") // starts a watch for the kind on first use
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Requests())
	before := c.Requests()
	live, err = cache.Get(ctx, gvk, "shop", "api") // from memory
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(live.GetName(), "again:", c.Requests().Sub(before).Total(), "requests")
	obj, found, err := cache.View().Get(ctx, object.ID{Kind: "ConfigMap", Namespace: "shop", Name: "api"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(found, obj.Object["data"])
	// Output:
	// list=2 watch=1
	// api again: 0 requests
	// true map[mode:live]
}

// Requests snapshots say what a reconcile cost; Sub isolates one pass.
func ExampleRequests() {
	before := cluster.Requests{
		{Verb: cluster.VerbList, Resource: "configmaps"}:  1,
		{Verb: cluster.VerbWatch, Resource: "configmaps"}: 1,
	}
	after := cluster.Requests{
		{Verb: cluster.VerbList, Resource: "configmaps"}:   1,
		{Verb: cluster.VerbWatch, Resource: "configmaps"}:  1,
		{Verb: cluster.VerbPatch, Resource: "deployments"}: 2,
	}
	pass := after.Sub(before)
	fmt.Println(pass, "writes:", pass.Writes())
	// Output:
	// patch=2 writes: 2
}
