package converge_test

import (
	"context"
	"fmt"
	"os"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/kustomize"
	"github.com/converge-dev/converge/source/git"
)

// The engine, as the package overview wires it: one pass over a unit.
// (Compiled, not run: it needs a cluster and a Git server.)
func Example() {
	ctx := context.Background()
	restConfig, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		fmt.Println(err)
		return
	}

	client, err := cluster.New(restConfig)
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := reconcile.New(client)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	status, err := r.Reconcile(ctx, reconcile.Unit{
		Name: "shop-prod", Namespace: "platform",
		Source: reconcile.Source{URL: "https://github.com/myorg/gitops-deploy.git"},
		Path:   "clusters/prod",
		Sync:   reconcile.Sync{Prune: true},
	})
	if err != nil {
		fmt.Println(err)
	}
	fmt.Println(status.Condition(reconcile.ConditionReady).Message) // "Applied revision: main@sha1:…"
}

// The same pass with the packages one by one, as the package overview
// wires them. (Compiled, not run: it needs a cluster and a Git server.)
func Example_packages() {
	ctx := context.Background()
	restConfig, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		fmt.Println(err)
		return
	}
	client, err := cluster.New(restConfig)
	if err != nil {
		fmt.Println(err)
		return
	}

	src, err := git.New("https://github.com/myorg/gitops-deploy.git", git.Reference{Branch: "main"})
	if err != nil {
		fmt.Println(err)
		return
	}
	snap, err := src.Fetch(ctx) // one reference listing when nothing changed
	if err != nil {
		fmt.Println(err)
		return
	}
	set, err := kustomize.New().Render(ctx, snap.FS, "clusters/prod", render.DefaultOptions())
	if err != nil {
		fmt.Println(err)
		return
	}
	applier, err := apply.New(client, apply.Owner{Name: "shop-prod", Namespace: "platform"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer applier.Close()
	res, err := applier.Apply(ctx, set, apply.DefaultOptions()) // diffs against its watch cache, writes only drift
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res)
	checker, err := health.New(health.WithCRDs(applier.Cache().View()))
	if err != nil {
		fmt.Println(err)
		return
	}
	report, err := health.Wait(ctx, applier.Cache().View(), checker, set.IDs(), health.DefaultWaitOptions())
	if err != nil {
		fmt.Println(err)
	}
	fmt.Println(report.Status)
}
