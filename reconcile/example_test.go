package reconcile_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/notify"
)

// A host's wiring, as the package overview shows it: one Reconciler per
// cluster, one pass, then a Loop until interrupted. (Compiled, not run: it
// needs a cluster and a Git server.)
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
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
	hook, err := notify.NewWebhook("https://hooks.example.com/gitops")
	if err != nil {
		fmt.Println(err)
		return
	}

	r, err := reconcile.New(client, reconcile.WithNotifier(hook))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	unit := reconcile.Unit{
		Name: "backend-prod", Namespace: "platform",
		Source:      reconcile.Source{URL: "https://github.com/myorg/gitops-deploy.git"},
		Path:        "apps/backend/overlays/prod",
		Destination: reconcile.Destination{Namespace: "backend"},
		Sync:        reconcile.Sync{Prune: true, SelfHeal: true, CreateNamespace: true},
	}
	status, err := r.Reconcile(ctx, unit) // one pass
	if err != nil {
		fmt.Println(err)
	}
	fmt.Println(status.Condition(reconcile.ConditionReady).Message) // "Applied revision: main@sha1:…"

	loop := reconcile.NewLoop(r, reconcile.DefaultLoopOptions())
	err = loop.Set(unit)
	if err != nil {
		fmt.Println(err)
		return
	}
	err = loop.Run(ctx) // until ctx is done
	if err != nil {
		fmt.Println(err)
	}
}

// One pass over a directory of manifests, then an unchanged one.
func ExampleReconciler_Reconcile() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	_ = os.WriteFile(filepath.Join(dir, "settings.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n"), 0o644)

	env, startErr := plane.Start() // a real API server: the host brings its own rest.Config
	if startErr != nil {
		fmt.Println(startErr)
		return
	}
	client, _ := cluster.New(env.Config)
	r, _ := reconcile.New(client)
	defer r.Close()
	unit := reconcile.Unit{
		Name:        "example",
		Source:      reconcile.Source{Dir: dir},
		Destination: reconcile.Destination{Namespace: "default"},
		Sync:        reconcile.Sync{Prune: true},
	}
	s, err := r.Reconcile(context.Background(), unit)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Result, s.Sync, s.Health)
	s, _ = r.Reconcile(context.Background(), unit)
	fmt.Println(s.Result, "rendered again:", s.Rendered)
	_, _ = r.Delete(context.Background(), unit, false)
	// Output:
	// 1 created Synced Healthy
	// 1 unchanged rendered again: false
}

func ExampleSourceIdentity() {
	fmt.Println(reconcile.SourceIdentity("https://user:token@GitHub.com/myorg/gitops-deploy.git"))
	fmt.Println(reconcile.SourceIdentity("git@github.com:myorg/gitops-deploy"))
	// Output:
	// github.com/myorg/gitops-deploy
	// github.com/myorg/gitops-deploy
}

func ExampleDefaultName() {
	fmt.Println(reconcile.DefaultName("https://github.com/myorg/gitops-deploy.git", "clusters/dev"))
	fmt.Println(reconcile.DefaultName("https://github.com/other/gitops-deploy.git", "clusters/dev"))
	// Output:
	// clusters-dev-0fcb7079
	// clusters-dev-e0d449fc
}
