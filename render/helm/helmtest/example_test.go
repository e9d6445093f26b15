package helmtest_test

import (
	"context"
	"fmt"

	"github.com/converge-dev/converge/render/helm/helmtest"
)

// `helm template` by the pinned helm CLI, the oracle render/helm is
// compared with, as the package overview runs it. (Compiled, not run: CLI
// may build helm first.)
func Example() {
	ctx := context.Background()
	cli, err := helmtest.CLI()
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := helmtest.Template(ctx, cli, "testdata/charts/webapp", "--namespace", "shop")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(out) > 0)
}
