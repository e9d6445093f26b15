package cli_test

import (
	"context"
	"fmt"
	"os"

	"github.com/converge-dev/converge/examples/internal/cli"
)

// The command, in process, as cmd/converge and the tests run it.
// (Compiled, not run: it needs a cluster.)
func Example() {
	ctx := context.Background()
	code := cli.Main(ctx, []string{"plan", "--repo", "./deploy", "--path", "clusters/dev"}, os.Stdout, os.Stderr)
	os.Exit(code)
}

// A mistake in the command line is one line and exit code 2.
func ExampleMain_usage() {
	code := cli.Main(context.Background(), []string{"plan", "--repo", "./deploy", "--path", "clusters/dev", "--colour"}, os.Stdout, os.Stdout)
	fmt.Println("exit", code)
	// Output:
	// converge plan: unknown flag: --colour (see converge plan --help)
	// exit 2
}
