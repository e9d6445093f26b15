package promtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/converge-dev/converge/internal/daemon"
)

// BinaryEnv names an environment variable that, when set, is the path of
// the prometheus binary to use.
const BinaryEnv = "CONVERGE_PROMETHEUS"

// installLock is the file that serialises installs across test binaries
// (go test runs packages in parallel).
const installLock = "/tmp/converge-promtest-install.lock"

var binary struct {
	once sync.Once
	path string
	err  error
}

// Binary returns the path of the prometheus server: $CONVERGE_PROMETHEUS
// when set, else `prometheus` on PATH (or /usr/bin/prometheus). When there
// is none and this process runs as root, it installs Debian's package
// with `apt-get install -y prometheus` (after `apt-get update` if the
// install fails), holding an exclusive lock on installLock so that test
// binaries running in parallel install once; it is idempotent: under the
// lock it looks again first. It prints how long the install took.
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
	if p, err := lookPath(); err == nil {
		return p, nil
	}
	if os.Geteuid() != 0 {
		return "", errors.New("prometheus is not installed and this process is not root: run `apt-get install -y prometheus` or set $" + BinaryEnv)
	}
	return install()
}

func lookPath() (string, error) {
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p, nil
	}
	const debian = "/usr/bin/prometheus"
	if _, err := os.Stat(debian); err != nil {
		return "", err
	}
	return debian, nil
}

func install() (string, error) {
	lock, err := os.OpenFile(installLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("open install lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("take install lock: %w", err)
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	if p, err := lookPath(); err == nil {
		return p, nil // another test binary installed it while we waited
	}
	start := time.Now()
	fmt.Fprintln(os.Stderr, "promtest: prometheus is missing; installing Debian's package (apt-get install -y prometheus)")
	if err := apt("install", "-y", "--no-install-recommends", "prometheus"); err != nil {
		if err := apt("update"); err != nil {
			return "", err
		}
		if err := apt("install", "-y", "--no-install-recommends", "prometheus"); err != nil {
			return "", err
		}
	}
	fmt.Fprintf(os.Stderr, "promtest: prometheus installed in %s\n", time.Since(start).Round(100*time.Millisecond))
	return lookPath()
}

func apt(args ...string) error {
	cmd := exec.Command("apt-get", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("apt-get %s: %w\n%s", args[0], err, daemon.Tail(out, 20))
	}
	return nil
}
