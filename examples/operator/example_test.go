package operator_test

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/converge-dev/converge/examples/operator"
	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

// An Application becomes the SDK's reconcile.Unit, which one pass of
// reconcile.Reconciler applies.
func ExampleUnit() {
	app := &v1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "platform", Generation: 2},
		Spec: v1alpha1.ApplicationSpec{
			Source:      v1alpha1.Source{RepoURL: "https://github.com/myorg/gitops-deploy.git", TargetRevision: "v1.4.2", Path: "apps/shop"},
			Destination: v1alpha1.Destination{Namespace: "shop"},
			SyncPolicy:  v1alpha1.SyncPolicy{Prune: true},
			Retry:       &v1alpha1.Retry{Limit: 3},
			DependsOn:   []string{"db"},
		},
	}
	u, err := operator.Unit(app, 5*time.Minute, 10*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s generation %d, tag %s, path %s, to namespace %s\n", u.Ref(), u.Generation, u.Source.Ref.Tag, u.Path, u.Destination.Namespace)
	fmt.Println("prune:", u.Sync.Prune, "interval:", u.Interval, "retries:", u.Retry.Limit, "first after:", operator.RetryAfter(u.Retry, 1))
	fmt.Println("depends on:", u.DependsOn)

	// Another cluster is named as it is; the cluster registry resolves it
	// when the pass runs.
	app.Spec.Destination.Cluster = "prod-eu"
	u, _ = operator.Unit(app, 5*time.Minute, 10*time.Second)
	fmt.Println("to cluster:", u.Destination.Cluster)

	app.Spec.Render.Kind = "Jsonnet"
	_, err = operator.Unit(app, 5*time.Minute, 10*time.Second)
	fmt.Println(err)
	// Output:
	// platform/shop generation 2, tag v1.4.2, path apps/shop, to namespace shop
	// prune: true interval: 5m0s retries: 3 first after: 10s
	// depends on: [platform/db]
	// to cluster: prod-eu
	// invalid unit platform/shop: spec.render.kind: "Jsonnet" is not Auto, Kustomize, Helm or Plain
}
