package vaulttest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// BinaryEnv names an environment variable that, when set, is the path of a
// vault binary to use instead of the one hack/vault/build.sh builds.
const BinaryEnv = "CONVERGE_VAULT"

var binary struct {
	once sync.Once
	path string
	err  error
}

// Binary returns the path of the vault server binary: $CONVERGE_VAULT when
// set, else the one hack/vault/build.sh builds or finds in the cache (the
// first build takes 15 to 30 minutes and prints progress to stderr).
func Binary() (string, error) {
	binary.once.Do(func() { binary.path, binary.err = findBinary() })
	return binary.path, binary.err
}

func findBinary() (string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("$%s: %w", BinaryEnv, err)
		}
		return p, nil
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate the converge source tree")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	script := filepath.Join(root, "hack", "vault", "build.sh")
	if _, err := os.Stat(script); err != nil {
		return "", fmt.Errorf("cannot locate hack/vault/build.sh from %s: %w", root, err)
	}
	cmd := exec.Command("bash", script)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build vault with hack/vault/build.sh: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return filepath.Join(lines[len(lines)-1], "vault"), nil
}
