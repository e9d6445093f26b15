package kustomize_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing/fstest"

	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/kustomize"
)

func Example() {
	fsys := fstest.MapFS{
		"base/kustomization.yaml":          {Data: []byte("resources:\n- svc.yaml\n")},
		"base/svc.yaml":                    {Data: []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n")},
		"overlays/prod/kustomization.yaml": {Data: []byte("resources:\n- ../../base\nnamePrefix: prod-\n")},
	}
	opts := render.DefaultOptions()
	opts.Namespace = "shop" // a host override, as "kustomize edit set namespace" would
	set, err := kustomize.New().Render(context.Background(), fsys, "overlays/prod", opts)
	if err != nil {
		panic(err)
	}
	for id := range set.All() {
		fmt.Println(id)
	}
	// Output:
	// Service/shop/prod-web
}

// A checkout on disk, read through os.DirFS, as the package overview
// renders it.
func ExampleRenderer_Render() {
	repo, _ := os.MkdirTemp("", "repo")
	defer os.RemoveAll(repo)
	for name, content := range map[string]string{
		"apps/shop/base/kustomization.yaml":          "resources:\n- svc.yaml\n",
		"apps/shop/base/svc.yaml":                    "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n",
		"apps/shop/overlays/prod/kustomization.yaml": "resources:\n- ../../base\nnamespace: shop\n",
	} {
		_ = os.MkdirAll(filepath.Dir(filepath.Join(repo, name)), 0o755)
		_ = os.WriteFile(filepath.Join(repo, name), []byte(content), 0o644)
	}
	ctx := context.Background()

	r := kustomize.New()
	set, err := r.Render(ctx, os.DirFS(repo), "apps/shop/overlays/prod", render.DefaultOptions())
	if err != nil {
		panic(err)
	}
	for id := range set.All() {
		fmt.Println(id)
	}
	// Output:
	// Service/shop/web
}

func ExampleRenderer_Build() {
	fsys := fstest.MapFS{
		"app/kustomization.yaml": {Data: []byte("configMapGenerator:\n- name: conf\n  literals:\n  - mode=prod\n")},
	}
	out, err := kustomize.New().Build(context.Background(), fsys, "app", render.DefaultOptions())
	if err != nil {
		panic(err)
	}
	fmt.Print(string(out))
	// Output:
	// apiVersion: v1
	// data:
	//   mode: prod
	// kind: ConfigMap
	// metadata:
	//   name: conf-mgc92dd9c6
}
