package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// StopAPIServer stops the plane's kube-apiserver and leaves etcd running,
// so that a test can see what a client does while the API server is away
// and what it finds once [Env.StartAPIServer] brings it back with the same
// data. Requests fail with "connection refused" meanwhile.
//
// The API server is killed, as a crash would end it: a graceful stop
// waits for every client's watches to end, which a client with an
// informer never does.
//
// Stop only a plane the test started for itself: the plane of TestMain is
// shared by the package's tests.
func (e *Env) StopAPIServer() error {
	if e.envtest == nil {
		return errors.New("testenv: the plane is stopped")
	}
	as := e.envtest.ControlPlane.GetAPIServer()
	// envtest removes a certificate folder it created when the API server
	// stops, and the next start would make a new serving CA that
	// e.Config does not trust. Keep a copy in the plane's folder (which
	// Stop removes) and start from it.
	keep := filepath.Join(e.dir, "apiserver-certs")
	if as.CertDir != keep {
		if err := copyDir(as.CertDir, keep); err != nil {
			return fmt.Errorf("testenv: keep the API server's certificates: %w", err)
		}
	}
	pid, err := apiServerPID(as.SecureServing.Port)
	if err != nil {
		return err
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("testenv: kill the API server: %w", err)
	}
	// envtest's Stop now only notes the exit; it can fail while the
	// process is being reaped, so ask again.
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := as.Stop()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testenv: stop the API server: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	as.CertDir = keep
	return nil
}

// apiServerPID finds the kube-apiserver, a child of this process, that
// serves on port: the package's shared plane runs another one.
func apiServerPID(port string) (int, error) {
	pids, err := childPIDs()
	if err != nil {
		return 0, err
	}
	for _, pid := range pids {
		cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if filepath.Base(args[0]) == "kube-apiserver" && slices.Contains(args, "--secure-port="+port) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("testenv: no kube-apiserver serving on port %s among this process's children", port)
}

// StartAPIServer starts the kube-apiserver that [Env.StopAPIServer]
// stopped, on the same address with the same certificates, so Config,
// Client and Kubeconfig work again. It returns once the API server is
// healthy.
func (e *Env) StartAPIServer() error {
	if e.envtest == nil {
		return errors.New("testenv: the plane is stopped")
	}
	if err := e.envtest.ControlPlane.GetAPIServer().Start(); err != nil {
		return fmt.Errorf("testenv: start the API server: %w", err)
	}
	// The new process is not in the watchdog's list yet.
	return e.guard()
}

func copyDir(from, to string) error {
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	for _, entry := range entries {
		if !entry.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(from, entry.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, entry.Name()), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}
