package plain_test

import (
	"context"
	"fmt"
	"testing/fstest"

	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/plain"
)

func Example() {
	fsys := fstest.MapFS{
		"deploy/app.yaml":    {Data: []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\n")},
		"deploy/README.md":   {Data: []byte("# not a manifest")},
		"deploy/test/t.yaml": {Data: []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: t\n")},
	}
	opts := render.DefaultOptions()
	opts.Ignore = []string{"test/"}
	ctx := context.Background()
	set, err := plain.New().Render(ctx, fsys, "deploy", opts)
	if err != nil {
		panic(err)
	}
	for id := range set.All() {
		fmt.Println(id)
	}
	// Output:
	// Service/shop/web
}
