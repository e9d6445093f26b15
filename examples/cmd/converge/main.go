// Command converge plans, applies, diffs and syncs a GitOps repository into
// a Kubernetes cluster, built on converge's packages only.
//
//	converge plan  --repo ./gitops-deploy --path clusters/dev --kubeconfig ~/.kube/config
//	converge apply --repo https://git.example.com/deploy.git --path clusters/dev
//	converge diff  --repo ./gitops-deploy --base main --head my-change
//	converge sync  --repo ./gitops-deploy --path clusters/dev --local --interval 30s
//
// Exit codes: 0 ok; 1 failed; 2 bad usage; 3 changes found (plan and diff
// with --exit-code). See examples/README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/converge-dev/converge/examples/internal/cli"
	"github.com/converge-dev/converge/examples/internal/quiet"
)

func main() {
	quiet.Loggers()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
