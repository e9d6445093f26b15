package kustomizetest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// CLI returns the path of the kustomize CLI at the version converge's
// library uses, building it with hack/peers/build.sh on first use (about
// half a minute; later calls are instant).
func CLI() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate the converge source tree")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	script := filepath.Join(root, "hack", "peers", "build.sh")
	if _, err := os.Stat(script); err != nil {
		return "", fmt.Errorf("cannot locate hack/peers/build.sh from %s: %w", root, err)
	}
	cmd := exec.Command("bash", script, "kustomize")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build peers with hack/peers/build.sh: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return filepath.Join(lines[len(lines)-1], "kustomize"), nil
}

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
