package promote_test

import (
	"context"
	"fmt"
	"testing/fstest"

	"github.com/converge-dev/converge/promote"
)

func ExamplePolicy_Latest() {
	tags := []string{"1.0.0", "1.2.0", "1.3.0-rc.1", "latest"}

	p := promote.Policy{Kind: promote.SemVer, Range: ">=1.0.0"}
	tag, _ := p.Latest(tags)
	fmt.Println(tag)

	p.Range = ">=1.0.0-0" // a range naming a pre-release admits them
	tag, _ = p.Latest(tags)
	fmt.Println(tag)

	ts := promote.Policy{Kind: promote.Numerical, Filter: &promote.TagFilter{
		Pattern: `^main-[a-f0-9]+-(?P<ts>[0-9]+)`, Extract: "$ts",
	}}
	tag, _ = ts.Latest([]string{"main-abc1234-1700000000", "main-0ff1ce0-1700000999", "pr-12"})
	fmt.Println(tag)
	// Output:
	// 1.2.0
	// 1.3.0-rc.1
	// main-0ff1ce0-1700000999
}

func ExampleSetImage() {
	tree := fstest.MapFS{"overlays/prod/kustomization.yaml": {Data: []byte(`resources:
  - ../../base
images:
  - name: web   # promoted by converge
    newName: ghcr.io/acme/web
    newTag: "1.0.0"
`)}}
	img, _ := promote.ParseImage("web=ghcr.io/acme/web:1.2.0")
	res, err := promote.SetImage{File: "overlays/prod", Images: []promote.Image{img}}.Apply(context.Background(), tree)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(res.Diff())
	// Output:
	// --- a/overlays/prod/kustomization.yaml
	// +++ b/overlays/prod/kustomization.yaml
	// @@ -3,4 +3,4 @@
	//  images:
	//    - name: web   # promoted by converge
	//      newName: ghcr.io/acme/web
	// -    newTag: "1.0.0"
	// +    newTag: "1.2.0"
}
