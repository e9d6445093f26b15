package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/converge-dev/converge/internal/testenv"
)

// clusterFlags say which cluster to reach.
type clusterFlags struct {
	kubeconfig string
	context    string
	local      bool
	testbin    string
}

func (f *clusterFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, then ~/.kube/config)")
	fs.StringVar(&f.context, "context", "", "kubeconfig context (default: the current one)")
	fs.BoolVar(&f.local, "local", false, "start a local control plane (etcd, kube-apiserver, controllers, kwok nodes) for this command and stop it on exit")
	fs.StringVar(&f.testbin, "testbin", "", "with --local: folder of the control-plane binaries (default $CONVERGE_TESTBIN, $KUBEBUILDER_ASSETS, or built by hack/testbin/build.sh)")
}

// connect returns a rest.Config for the cluster the flags name, checked
// with one request, and a function that releases it (stopping the local
// control plane that --local started).
func connect(ctx context.Context, f clusterFlags, out *output) (*rest.Config, func(), error) {
	if f.local {
		return startLocal(f, out)
	}
	cfg, err := loadKubeconfig(f)
	if err != nil {
		return nil, nil, err
	}
	if err := ping(ctx, cfg); err != nil {
		return nil, nil, err
	}
	return cfg, func() {}, nil
}

func loadKubeconfig(f clusterFlags) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	from := "$KUBECONFIG"
	switch {
	case f.kubeconfig != "":
		if _, err := os.Stat(f.kubeconfig); err != nil {
			return nil, fmt.Errorf("kubeconfig %s does not exist", f.kubeconfig)
		}
		rules.ExplicitPath = f.kubeconfig
		from = f.kubeconfig
	case os.Getenv("KUBECONFIG") == "":
		home := clientcmd.RecommendedHomeFile
		if _, err := os.Stat(home); err != nil {
			return nil, usagef("no cluster: pass --kubeconfig, set KUBECONFIG, or use --local for a local control plane")
		}
		from = home
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: f.context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %s", from, oneLine(err.Error()))
	}
	cfg.QPS, cfg.Burst = 100, 200
	return cfg, nil
}

// ping asks the API server for its version, so that a cluster that is down
// is one clear line before any work starts.
func ping(ctx context.Context, cfg *rest.Config) error {
	c := rest.CopyConfig(cfg)
	c.Timeout = 10 * time.Second
	dc, err := discovery.NewDiscoveryClientForConfig(c)
	if err != nil {
		return fmt.Errorf("cluster %s: %w", cfg.Host, err)
	}
	done := make(chan error, 1)
	go func() { _, err := dc.ServerVersion(); done <- err }()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err = <-done:
	}
	if err != nil {
		return fmt.Errorf("cannot reach the cluster at %s: %s", cfg.Host, rootCause(err))
	}
	return nil
}

// rootCause shortens network errors to what people act on
// ("connect: connection refused").
func rootCause(err error) string {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Err.Error()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return oneLine(err.Error())
}

// startLocal starts a living control plane for the command's lifetime.
func startLocal(f clusterFlags, out *output) (*rest.Config, func(), error) {
	assets, err := testbinDir(f.testbin, out)
	if err != nil {
		return nil, nil, err
	}
	if err := os.Setenv("KUBEBUILDER_ASSETS", assets); err != nil {
		return nil, nil, err
	}
	out.progressf("converge: --local: starting a local control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok with 3 fake nodes) from %s", assets)
	start := time.Now()
	env, err := testenv.Start(testenv.Options{Mode: testenv.Living})
	if err != nil {
		return nil, nil, fmt.Errorf("start the local control plane: %s", oneLine(err.Error()))
	}
	out.progressf("converge: --local: control plane up in %s at %s (kubeconfig %s); it stops when converge exits",
		time.Since(start).Round(100*time.Millisecond), env.Config.Host, env.Kubeconfig)
	stop := func() {
		if err := env.Stop(); err != nil {
			out.errorf("converge: --local: stop the control plane: %s", oneLine(err.Error()))
			return
		}
		out.progressf("converge: --local: control plane stopped")
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 100, 200
	return cfg, stop, nil
}

// testbinDir finds the control-plane binaries: --testbin, $CONVERGE_TESTBIN,
// $KUBEBUILDER_ASSETS, else hack/testbin/build.sh of the converge source
// tree (found above the working directory, above the executable, or where
// this program was built from), which builds them on first use.
func testbinDir(flagDir string, out *output) (string, error) {
	for _, d := range []struct{ dir, from string }{
		{flagDir, "--testbin"},
		{os.Getenv("CONVERGE_TESTBIN"), "$CONVERGE_TESTBIN"},
		{os.Getenv("KUBEBUILDER_ASSETS"), "$KUBEBUILDER_ASSETS"},
	} {
		if d.dir == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d.dir, "kube-apiserver")); err != nil {
			return "", fmt.Errorf("%s %s holds no kube-apiserver: build the binaries with hack/testbin/build.sh", d.from, d.dir)
		}
		return d.dir, nil
	}
	script := findBuildScript()
	if script == "" {
		return "", fmt.Errorf("cannot find hack/testbin/build.sh: run converge inside the converge repository, or pass --testbin DIR")
	}
	out.progressf("converge: --local: control-plane binaries from %s (built once, about a quarter of an hour on 2 cores, then cached; progress follows)", script)
	var stdout bytes.Buffer
	cmd := exec.Command("bash", script)
	cmd.Stdout = &stdout
	cmd.Stderr = out.stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build the control-plane binaries with %s: %w", script, err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	return lines[len(lines)-1], nil
}

func findBuildScript() string {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			p := filepath.Join(dir, "hack", "testbin", "build.sh")
			if _, err := os.Stat(p); err == nil {
				return p
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return ""
}
