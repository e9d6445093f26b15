package render_test

import (
	"context"
	"fmt"
	"os"
	"testing/fstest"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/plain"
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
