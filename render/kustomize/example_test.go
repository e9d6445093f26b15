package kustomize_test

import (
	"context"
	"fmt"
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
