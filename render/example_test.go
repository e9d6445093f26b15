package render_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing/fstest"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/kustomize"
	"github.com/converge-dev/converge/render/plain"
	"github.com/converge-dev/converge/source/dir"
)

// Render a tree of manifests, then substitute variables the host built.
func Example() {
	fsys := fstest.MapFS{
		"deploy/web.yaml": {Data: []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ${NAMESPACE}
spec:
  replicas: ${REPLICAS:=1}
`)},
	}
	vars := map[string]string{"NAMESPACE": "shop"}
	r := render.Then(plain.New(), render.Substitute(vars, render.DefaultSubstituteOptions()))
	set, err := r.Render(context.Background(), fsys, "deploy", render.DefaultOptions())
	if err != nil {
		panic(err)
	}
	if err := object.Encode(os.Stdout, set.Objects()...); err != nil {
		panic(err)
	}
	// Output:
	// apiVersion: apps/v1
	// kind: Deployment
	// metadata:
	//   name: web
	//   namespace: shop
	// spec:
	//   replicas: 1
}

func ExampleExpand() {
	out, err := render.Expand("image: web:${TAG:-latest} env: ${ENV}", map[string]string{"ENV": "prod"}, true)
	fmt.Println(out, err)
	_, err = render.Expand("${MISSING}", nil, true)
	fmt.Println(err)
	// Output:
	// image: web:latest env: prod <nil>
	// variable not set: line 1: MISSING
}

// A Kustomize overlay of a source snapshot, then variable substitution,
// as the package overview wires them.
func ExampleThen() {
	root, _ := os.MkdirTemp("", "deploy")
	defer os.RemoveAll(root)
	for name, content := range map[string]string{
		"apps/shop/base/kustomization.yaml":          "resources:\n- cm.yaml\n",
		"apps/shop/base/cm.yaml":                     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shop\ndata:\n  cluster: ${CLUSTER}\n",
		"apps/shop/overlays/prod/kustomization.yaml": "resources:\n- ../../base\nnamespace: shop\nnamePrefix: prod-\n",
	} {
		_ = os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755)
		_ = os.WriteFile(filepath.Join(root, name), []byte(content), 0o644)
	}
	ctx := context.Background()
	src := dir.New(root)
	vars := map[string]string{"CLUSTER": "prod-eu"}

	snap, err := src.Fetch(ctx)
	if err != nil {
		panic(err)
	}
	r := render.Then(kustomize.New(), render.Substitute(vars, render.DefaultSubstituteOptions()))
	set, err := r.Render(ctx, snap.FS, "apps/shop/overlays/prod", render.DefaultOptions())
	if err != nil {
		panic(err)
	}
	if err := object.Encode(os.Stdout, set.Objects()...); err != nil {
		panic(err)
	}
	// Output:
	// apiVersion: v1
	// data:
	//   cluster: prod-eu
	// kind: ConfigMap
	// metadata:
	//   name: prod-shop
	//   namespace: shop
}
