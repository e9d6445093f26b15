// Command operator runs converge's reference operator: the controller of
// converge.dev/v1alpha1 Applications (see package operator).
//
//	operator --kubeconfig ~/.kube/config --metrics-bind-address :8080 \
//		--default-interval 5m --concurrency 4 --install-crd
//
// Without --kubeconfig it uses $KUBECONFIG, the in-cluster service account
// or ~/.kube/config, in that order. It stops on SIGINT or SIGTERM.
//
// With --webhook-bind-address it receives the push events of GitHub,
// GitLab and Gitea at /hooks/git and reconciles the Applications of the
// pushed repository and branch at once; --webhook-secret-file names the
// file holding the secret every forge is configured with (GitHub's and
// Gitea's HMAC key, GitLab's token), as a mounted Secret provides it:
//
//	operator --webhook-bind-address :9443 --webhook-secret-file /etc/converge/webhook/secret
//
// Several replicas split the Applications with --shards (the same number
// on every replica), each shard a Lease of --lease-namespace that moves
// to another replica within --lease-duration when its holder dies:
//
//	operator --shards 8 --lease-namespace converge-system --lease-duration 15s
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/converge-dev/converge/examples/operator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "operator:", err)
		os.Exit(1)
	}
}

// run parses the flags and runs the operator until ctx is done.
func run(ctx context.Context, args []string) error {
	d := operator.DefaultOptions()
	opts := d
	fs := flag.NewFlagSet("operator", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)")
	fs.StringVar(&opts.MetricsAddr, "metrics-bind-address", d.MetricsAddr, `address of the Prometheus metrics endpoint ("0" turns it off)`)
	fs.StringVar(&opts.HealthAddr, "health-probe-bind-address", d.HealthAddr, `address of /healthz and /readyz ("0" turns them off)`)
	fs.DurationVar(&opts.DefaultInterval, "default-interval", d.DefaultInterval, "interval of Applications that set none")
	fs.IntVar(&opts.Concurrency, "concurrency", d.Concurrency, "Applications reconciled at once (MaxConcurrentReconciles)")
	fs.DurationVar(&opts.RetryInterval, "retry-interval", d.RetryInterval, "first wait after a failed pass of Applications without spec.retry, doubling up to the interval")
	fs.DurationVar(&opts.DependencyRetry, "dependency-retry", d.DependencyRetry, "how soon an Application waiting for a dependency is tried again")
	fs.DurationVar(&opts.FetchCoalesce, "fetch-coalesce", d.FetchCoalesce, "how long one fetch of a repository answers the other Applications on it")
	fs.StringVar(&opts.GitCacheDir, "git-cache-dir", "", "keep Git repositories on disk here (default: in memory)")
	fs.BoolVar(&opts.InstallCRD, "install-crd", false, "apply the Application CRD before starting")
	fs.StringVar(&opts.ClusterNamespace, "cluster-namespace", d.ClusterNamespace, "namespace of the Secrets that register destination clusters (converge.dev/cluster kubeconfigs, Argo CD cluster Secrets)")
	fs.StringVar(&opts.WebhookAddr, "webhook-bind-address", "0", `address of the push-event receiver at /hooks/git ("0" turns it off)`)
	fs.BoolVar(&opts.RequireProject, "require-project", false, "refuse Applications that name no Project (where tenants create Applications)")
	fs.BoolVar(&opts.ServeArgoCD, "serve-argocd", false, "also serve Argo CD Applications and ApplicationSets (argoproj.io/v1alpha1)")
	fs.BoolVar(&opts.ServeFlux, "serve-flux", false, "also serve Flux GitRepositories and Kustomizations")
	fs.StringVar(&opts.DashboardAddr, "dashboard-bind-address", "0", `address of the read-only web page ("0" turns it off)`)
	var qps float64
	fs.Float64Var(&qps, "kube-api-qps", float64(d.KubeAPIQPS), "requests per second of the operator's own client (status, finalizers, events), as Flux's flag")
	fs.IntVar(&opts.KubeAPIBurst, "kube-api-burst", d.KubeAPIBurst, "burst of the operator's own client, as Flux's flag")
	sd := operator.DefaultShardOptions()
	opts.Sharding = sd
	fs.IntVar(&opts.Sharding.Shards, "shards", sd.Shards, "shards the Applications are split into over the replicas, each held by a Lease (1: no Leases)")
	fs.StringVar(&opts.Sharding.Namespace, "lease-namespace", sd.Namespace, "namespace of the shards' Leases (the operator's own)")
	fs.DurationVar(&opts.Sharding.LeaseDuration, "lease-duration", sd.LeaseDuration, "how long a dead replica's shards wait before another replica takes them")
	secretFile := fs.String("webhook-secret-file", "", "file holding the webhook secret of GitHub, Gitea and GitLab (needed with --webhook-bind-address)")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if opts.Concurrency < 1 {
		return fmt.Errorf("--concurrency must be at least 1, not %d", opts.Concurrency)
	}
	if qps <= 0 || opts.KubeAPIBurst < 1 {
		return fmt.Errorf("--kube-api-qps and --kube-api-burst must be positive, not %g and %d", qps, opts.KubeAPIBurst)
	}
	opts.KubeAPIQPS = float32(qps)
	if opts.Sharding.Shards < 1 {
		return fmt.Errorf("--shards must be at least 1, not %d", opts.Sharding.Shards)
	}
	if opts.DefaultInterval <= 0 {
		return fmt.Errorf("--default-interval must be positive, not %s", opts.DefaultInterval)
	}
	if opts.WebhookAddr != "0" && opts.WebhookAddr != "" {
		if *secretFile == "" {
			return errors.New("--webhook-bind-address needs --webhook-secret-file")
		}
		secret, err := readSecret(*secretFile)
		if err != nil {
			return err
		}
		opts.WebhookSecrets = operator.WebhookSecrets{GitHub: secret, Gitea: secret, GitLab: secret}
	}
	opts.Logger = zap.New(zap.UseFlagOptions(&zapOpts))
	// controller-runtime logs a warning through its global logger when
	// none is set; the operator's own logger is the one it should use.
	ctrl.SetLogger(opts.Logger)
	cfg, err := restConfig(*kubeconfig)
	if err != nil {
		return err
	}
	return operator.Run(ctx, cfg, opts)
}

// readSecret reads a webhook secret from a file, without the line end an
// editor or `kubectl create secret --from-file` leaves.
func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--webhook-secret-file: %w", err)
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) == 0 {
		return nil, fmt.Errorf("--webhook-secret-file %s is empty", path)
	}
	return b, nil
}

func restConfig(path string) (*rest.Config, error) {
	if path == "" {
		return ctrl.GetConfig()
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return cfg, nil
}
