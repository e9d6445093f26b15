package giteatest

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
// gitea binary to use instead of the one hack/gitea/build.sh builds. It
// must be v1.26.0 built with the sqlite tags.
const BinaryEnv = "CONVERGE_GITEA"

var binary struct {
	once         sync.Once
	path, static string
	err          error
}

// Binary returns the path of the gitea binary ($CONVERGE_GITEA when set,
// else the one hack/gitea/build.sh builds or finds in the cache; the
// first build takes about 10 minutes and prints progress to stderr) and
// the folder of Gitea's module source, which holds the templates,
// locales and options a build without bindata reads at run time.
func Binary() (bin, static string, err error) {
	binary.once.Do(func() { binary.path, binary.static, binary.err = findBinary() })
	return binary.path, binary.static, binary.err
}

func findBinary() (string, string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", "", fmt.Errorf("cannot locate the converge source tree")
	}
	script := filepath.Join(filepath.Dir(file), "..", "..", "hack", "gitea", "build.sh")
	if _, err := os.Stat(script); err != nil {
		return "", "", fmt.Errorf("cannot locate hack/gitea/build.sh: %w", err)
	}
	static, err := lastLine(script, "static")
	if err != nil {
		return "", "", fmt.Errorf("find gitea's source folder with hack/gitea/build.sh static: %w", err)
	}
	if _, err := os.Stat(filepath.Join(static, "options", "locale")); err != nil {
		return "", "", fmt.Errorf("gitea source folder %s has no options/locale: %w", static, err)
	}
	if p := os.Getenv(BinaryEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", "", fmt.Errorf("$%s: %w", BinaryEnv, err)
		}
		return p, static, nil
	}
	dir, err := lastLine(script)
	if err != nil {
		return "", "", fmt.Errorf("build gitea with hack/gitea/build.sh: %w", err)
	}
	return filepath.Join(dir, "gitea"), static, nil
}

// lastLine runs script with args and returns the last line it prints.
func lastLine(script string, args ...string) (string, error) {
	cmd := exec.Command("bash", append([]string{script}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if lines[len(lines)-1] == "" {
		return "", fmt.Errorf("%s printed nothing", filepath.Base(script))
	}
	return lines[len(lines)-1], nil
}
