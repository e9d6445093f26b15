package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// AssetsDir returns the folder holding etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok and kwok-stages.yaml. It is
// $KUBEBUILDER_ASSETS when set, else the cache folder that
// hack/testbin/build.sh fills, which it runs (instant when cached; a first
// build prints progress to stderr and takes about a quarter of an hour).
func AssetsDir() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("bash", filepath.Join(root, "hack", "testbin", "build.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build test binaries with hack/testbin/build.sh: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

// repoRoot finds the converge repository from this file's location, which
// works from any test package and from the examples module.
func repoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate the converge source tree")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	if _, err := os.Stat(filepath.Join(root, "hack", "testbin", "build.sh")); err != nil {
		return "", fmt.Errorf("cannot locate hack/testbin/build.sh from %s: %w", root, err)
	}
	return root, nil
}

// tail returns the last lines of a log file, for start-up errors.
func tail(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	all := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return string(bytes.Join(all, []byte("\n")))
}
