package operator

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/examples/internal/quiet"
	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/internal/peers"
	"github.com/converge-dev/converge/internal/testenv"
)

// The tests' operator runs passes every testInterval unless an
// Application says otherwise, and retries quickly, so that a whole
// scenario takes seconds.
const (
	testInterval = 2 * time.Second
	waitFor      = 60 * time.Second
)

// plane is the living control plane of the tests that need one; the pure
// tests run without it.
var plane = testenv.NewLazy(testenv.Options{Mode: testenv.Living})

// running is the operator every plane test shares, started with the
// first of them.
var running struct {
	once   sync.Once
	env    *testenv.Env
	client client.Client
	err    error
	cancel context.CancelFunc
	done   chan error
	// dashboard is the address of the operator's web page.
	dashboard string
}

func TestMain(m *testing.M) {
	quiet.Loggers()
	flag.Parse()
	code := m.Run()
	if running.cancel != nil {
		running.cancel()
		if err := <-running.done; err != nil {
			fmt.Fprintf(os.Stderr, "operator: %v\n", err)
			code = max(code, 1)
		}
	}
	if running.env != nil {
		if err := running.env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: stop: %v\n", err)
			code = max(code, 1)
		}
	}
	os.Exit(code)
}

// startOperator starts the plane and the operator on it once, and returns
// the plane and a client that knows Applications.
func startOperator(t *testing.T) (*testenv.Env, client.Client) {
	t.Helper()
	running.once.Do(func() {
		env, err := plane.Start()
		running.env = env
		if err != nil {
			running.err = err
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		if err := InstallCRD(ctx, env.Config); err != nil {
			cancel()
			running.err = err
			return
		}
		scheme, err := Scheme()
		if err != nil {
			cancel()
			running.err = err
			return
		}
		if running.client, err = client.New(env.Config, client.Options{Scheme: scheme}); err != nil {
			cancel()
			running.err = err
			return
		}
		opts := DefaultOptions()
		opts.MetricsAddr, opts.HealthAddr = "0", "0"
		opts.DefaultInterval = testInterval
		opts.RetryInterval = 500 * time.Millisecond
		opts.DependencyRetry = time.Second
		opts.FetchCoalesce = 0
		opts.skipNameValidation = true
		opts.skipApplicationSets = true
		if running.dashboard, err = loopbackAddr(); err != nil {
			cancel()
			running.err = err
			return
		}
		opts.DashboardAddr = running.dashboard
		running.cancel = cancel
		running.done = make(chan error, 1)
		go func() { running.done <- Run(ctx, env.Config, opts) }()
	})
	require.NoError(t, running.err, "start the plane and the operator")
	return running.env, running.client
}

// loopbackAddr is a loopback address no one listens on now.
func loopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// fixture is one test's namespace, repository and clients.
type fixture struct {
	t    *testing.T
	env  *testenv.Env
	c    client.Client
	ns   string
	repo *gittest.Repo
	// down makes the Git server answer 503 to the operator; the test's
	// own git CLI still pushes.
	down *atomic.Bool
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env, c := startOperator(t)
	down := &atomic.Bool{}
	srv := gittest.NewServer(t, gittest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if down.Load() && !strings.HasPrefix(r.UserAgent(), "git/") {
				http.Error(w, "the Git server is down for the test", http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	return &fixture{t: t, env: env, c: c, ns: env.Namespace(t), repo: srv.NewRepo(t, "deploy"), down: down}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// application creates an Application of the fixture's repository.
func (f *fixture) application(name, path string, mutate ...func(*v1alpha1.Application)) *v1alpha1.Application {
	f.t.Helper()
	app := &v1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns},
		Spec: v1alpha1.ApplicationSpec{
			Source: v1alpha1.Source{RepoURL: f.repo.URL, TargetRevision: "main", Path: path},
		},
	}
	for _, m := range mutate {
		m(app)
	}
	require.NoError(f.t, f.c.Create(ctxT(f.t), app))
	return app
}

// get reads an Application.
func (f *fixture) get(name string) *v1alpha1.Application {
	f.t.Helper()
	app := &v1alpha1.Application{}
	require.NoError(f.t, f.c.Get(ctxT(f.t), client.ObjectKey{Namespace: f.ns, Name: name}, app))
	return app
}

// eventually waits until cond holds of the Application, failing with the
// last status seen.
func (f *fixture) eventually(name, what string, cond func(*v1alpha1.Application) bool) *v1alpha1.Application {
	f.t.Helper()
	deadline := time.Now().Add(waitFor)
	var app *v1alpha1.Application
	for {
		app = f.get(name)
		if cond(app) {
			return app
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("application %s/%s: %s: not within %s; status: %+v", f.ns, name, what, waitFor, app.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// condition returns the condition t of app, or a zero one.
func condition(app *v1alpha1.Application, t string) metav1.Condition {
	if c := meta.FindStatusCondition(app.Status.Conditions, t); c != nil {
		return *c
	}
	return metav1.Condition{}
}

func readyAt(revision string) func(*v1alpha1.Application) bool {
	return func(app *v1alpha1.Application) bool {
		c := condition(app, v1alpha1.ConditionReady)
		return c.Status == metav1.ConditionTrue && c.ObservedGeneration == app.Generation &&
			strings.HasSuffix(app.Status.LastAppliedRevision, revision)
	}
}

// configMap returns the data of a ConfigMap of the namespace, or nil when
// there is none.
func (f *fixture) configMap(name string) map[string]string {
	f.t.Helper()
	var cm corev1.ConfigMap
	err := f.c.Get(ctxT(f.t), client.ObjectKey{Namespace: f.ns, Name: name}, &cm)
	if client.IgnoreNotFound(err) != nil {
		require.NoError(f.t, err)
	}
	if err != nil {
		return nil
	}
	if cm.Data == nil {
		return map[string]string{}
	}
	return cm.Data
}

// events returns the events recorded on an Application, as
// "Type/Reason: note".
func (f *fixture) events(name string) []string {
	f.t.Helper()
	var list eventsv1.EventList
	require.NoError(f.t, f.c.List(ctxT(f.t), &list, client.InNamespace(f.ns)))
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Kind == "Application" && e.Regarding.Name == name {
			out = append(out, e.Type+"/"+e.Reason+": "+e.Note)
		}
	}
	return out
}

// eventuallyEvent waits for an event on the Application whose
// "Type/Reason: note" starts with prefix, and returns it.
func (f *fixture) eventuallyEvent(name, prefix string) string {
	f.t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		evs := f.events(name)
		for _, e := range evs {
			if strings.HasPrefix(e, prefix) {
				return e
			}
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("application %s/%s: no event %q within %s; events: %q", f.ns, name, prefix, waitFor, evs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// kubectl runs the real kubectl against the plane.
func (f *fixture) kubectl(args ...string) (string, error) {
	f.t.Helper()
	bin, err := peers.CLI("kubectl")
	require.NoError(f.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", f.env.Kubeconfig, "-n", f.ns}, args...)...)
	out, err := cmd.CombinedOutput()
	f.t.Logf("kubectl %s\n%s", strings.Join(args, " "), out)
	return string(out), err
}

// configMapYAML is a ConfigMap manifest.
func configMapYAML(name string, data map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n", name)
	for k, v := range data {
		fmt.Fprintf(&b, "  %s: %q\n", k, v)
	}
	return b.String()
}

// deploymentYAML is a one-replica Deployment manifest; with a node
// selector no node matches, it never becomes available.
func deploymentYAML(name string, schedulable bool) string {
	selector := ""
	if !schedulable {
		selector = "      nodeSelector:\n        converge.dev/test: nowhere\n"
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: 1
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
%[2]s      containers:
      - name: app
        image: registry.example/%[1]s:1
`, name, selector)
}

// kubectlApply applies a manifest to the fixture's namespace with the
// real kubectl.
func (f *fixture) kubectlApply(manifest string) (string, error) {
	f.t.Helper()
	bin, err := peers.CLI("kubectl")
	require.NoError(f.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--kubeconfig", f.env.Kubeconfig, "-n", f.ns, "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(manifest)
	out, err := cmd.CombinedOutput()
	f.t.Logf("kubectl apply\n%s", out)
	return string(out), err
}
