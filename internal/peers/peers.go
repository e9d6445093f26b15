// Package peers finds the CLIs converge's tests and benchmarks compare
// against (kustomize, helm, sops, kubeseal, the Sealed Secrets
// controller), built at pinned versions by hack/peers/build.sh and cached
// under the user's cache directory.
package peers

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// CLI returns the path of the peer CLI name (one hack/peers/build.sh knows),
// building it on first use (minutes; later calls are instant). Build
// progress goes to stderr.
func CLI(name string) (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate the converge source tree")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	script := filepath.Join(root, "hack", "peers", "build.sh")
	if _, err := os.Stat(script); err != nil {
		return "", fmt.Errorf("cannot locate hack/peers/build.sh from %s: %w", root, err)
	}
	cmd := exec.Command("bash", script, name)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build %s with hack/peers/build.sh: %w", name, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return filepath.Join(lines[len(lines)-1], name), nil
}
