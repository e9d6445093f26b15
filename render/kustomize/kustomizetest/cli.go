package kustomizetest

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/converge-dev/converge/internal/peers"
)

// CLI returns the path of the kustomize CLI at the version converge's
// library uses, building it with hack/peers/build.sh on first use (about
// half a minute; later calls are instant).
func CLI() (string, error) { return peers.CLI("kustomize") }

// Build runs `kustomize build dir` with the CLI at cli and returns what it
// prints.
func Build(ctx context.Context, cli, dir string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, cli, "build", dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
