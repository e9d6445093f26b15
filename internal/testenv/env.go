package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Mode chooses how much of a cluster a plane runs.
type Mode int

const (
	// Bare runs etcd and kube-apiserver: objects are stored and validated,
	// nothing acts on them.
	Bare Mode = iota
	// Living adds kube-controller-manager, kube-scheduler and kwok with fake
	// nodes, so workloads roll out and report status.
	Living
)

func (m Mode) String() string {
	if m == Living {
		return "living"
	}
	return "bare"
}

// Options configure [Start].
type Options struct {
	Mode Mode
	// Nodes is the number of fake nodes of a living plane; 3 when zero.
	Nodes int
	// ServiceIPRange is the API server's service CIDR. The default, a /16,
	// holds thousands of Services (envtest's own default is a /24).
	ServiceIPRange string
	// StartTimeout bounds the start of each part; 2 minutes when zero.
	StartTimeout time.Duration
}

// Env is a running control plane.
type Env struct {
	// Config reaches the API server as a cluster admin.
	Config *rest.Config
	// Client is a controller-runtime client on Config that knows the core
	// and apiextensions types.
	Client client.Client
	// Scheme is Client's scheme.
	Scheme *runtime.Scheme
	// Kubeconfig is the path of an admin kubeconfig file for other processes.
	Kubeconfig string
	// Mode is the kind of plane.
	Mode Mode

	dir      string // logs and kubeconfig
	envtest  *envtest.Environment
	procs    []*process
	watchdog *watchdog
}

// Start starts a control plane. On error nothing is left running.
func Start(opts Options) (env *Env, err error) {
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.ServiceIPRange == "" {
		opts.ServiceIPRange = "10.96.0.0/16"
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 2 * time.Minute
	}
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "converge-testenv-")
	if err != nil {
		return nil, err
	}
	env = &Env{Mode: opts.Mode, dir: dir}
	defer func() {
		if err != nil {
			err = errors.Join(err, env.Stop())
			env = nil
		}
	}()

	useExisting := false
	env.envtest = &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		UseExistingCluster:       &useExisting,
		ControlPlaneStartTimeout: opts.StartTimeout,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	env.envtest.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", opts.ServiceIPRange)
	if env.Config, err = env.envtest.Start(); err != nil {
		return env, fmt.Errorf("start %s control plane: %w", opts.Mode, err)
	}
	// Keep the watchdog's list current as each part starts, so a crash
	// during start-up leaves nothing behind either.
	if err := env.guard(); err != nil {
		return env, err
	}
	env.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(env.Kubeconfig, env.envtest.KubeConfig, 0o600); err != nil {
		return env, err
	}
	env.Scheme = runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(env.Scheme); err != nil {
		return env, err
	}
	if err := apiextensionsv1.AddToScheme(env.Scheme); err != nil {
		return env, err
	}
	if env.Client, err = client.New(env.Config, client.Options{Scheme: env.Scheme}); err != nil {
		return env, err
	}
	if opts.Mode == Living {
		if err := env.startLiving(assets, opts); err != nil {
			return env, err
		}
	}
	return env, nil
}

func (e *Env) startLiving(assets string, opts Options) error {
	kc := "--kubeconfig=" + e.Kubeconfig
	stages := filepath.Join(e.dir, StagesFile)
	if err := os.WriteFile(stages, []byte(convergeStages), 0o600); err != nil {
		return err
	}
	parts := []struct {
		name string
		args []string
	}{
		{"kube-controller-manager", []string{kc,
			"--controllers=*,-serviceaccount-token",
			"--use-service-account-credentials=false",
			"--secure-port=0", "--leader-elect=false",
			// Terminate Pods on vanished nodes and sync Jobs quickly: tests
			// wait on these.
			"--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10",
		}},
		{"kube-scheduler", []string{kc, "--secure-port=0", "--leader-elect=false"}},
		{"kwok", []string{kc,
			"--config=" + filepath.Join(assets, "kwok-stages.yaml"),
			"--config=" + stages,
			"--manage-all-nodes=true",
			"--node-ip=127.0.0.1",
			"--cidr=10.244.0.0/16",
		}},
	}
	for _, p := range parts {
		proc, err := startProcess(filepath.Join(assets, p.name), p.args, filepath.Join(e.dir, p.name+".log"))
		if err != nil {
			return err
		}
		e.procs = append(e.procs, proc)
		if err := e.guard(); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.StartTimeout)
	defer cancel()
	if err := e.createNodes(ctx, opts.Nodes); err != nil {
		return err
	}
	return e.waitNodesReady(ctx, opts.Nodes)
}

func (e *Env) createNodes(ctx context.Context, n int) error {
	for i := range n {
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        fmt.Sprintf("kwok-node-%d", i),
				Labels:      map[string]string{"type": "kwok", "kubernetes.io/os": "linux"},
				Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
			},
			Status: corev1.NodeStatus{
				Allocatable: fakeNodeResources(),
				Capacity:    fakeNodeResources(),
			},
		}
		if err := e.Client.Create(ctx, node); err != nil {
			return fmt.Errorf("create fake node %s: %w", node.Name, err)
		}
	}
	return nil
}

func fakeNodeResources() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
}

func (e *Env) waitNodesReady(ctx context.Context, n int) error {
	for {
		var nodes corev1.NodeList
		ready := 0
		if err := e.Client.List(ctx, &nodes); err == nil {
			for _, node := range nodes.Items {
				for _, c := range node.Status.Conditions {
					if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
						ready++
					}
				}
			}
		}
		if ready >= n {
			return nil
		}
		for _, p := range e.procs {
			if p.exited() {
				return fmt.Errorf("%s exited during start-up:\n%s", p.name, tail(p.log, 20))
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %d fake nodes to be Ready (%d are): %w\nkwok log:\n%s", n, ready, ctx.Err(), tail(filepath.Join(e.dir, "kwok.log"), 20))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Stop stops every process of the plane and removes its files. It is safe
// to call more than once.
func (e *Env) Stop() error {
	var errs []error
	e.watchdog.disarm()
	e.watchdog = nil
	for i := len(e.procs) - 1; i >= 0; i-- {
		errs = append(errs, e.procs[i].stop())
	}
	e.procs = nil
	if e.envtest != nil {
		errs = append(errs, e.envtest.Stop())
		e.envtest = nil
	}
	if e.dir != "" {
		errs = append(errs, os.RemoveAll(e.dir))
		e.dir = ""
	}
	return errors.Join(errs...)
}
