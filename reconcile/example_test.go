package reconcile_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/reconcile"
)

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
