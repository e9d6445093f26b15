package reconcile_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/internal/testenv"
	"github.com/converge-dev/converge/reconcile"
)

// plane starts with the first test that needs it: the pure tests of the
// package run without one.
var plane = testenv.NewLazy(testenv.Options{Mode: testenv.Bare})

func TestMain(m *testing.M) { plane.Main(m) }

// fixture is one test's namespace, Git repository and Reconciler.
type fixture struct {
	t      *testing.T
	env    *testenv.Env
	ctx    context.Context
	ns     string
	client *cluster.Client
	git    *gittest.Server
	repo   *gittest.Repo
	r      *reconcile.Reconciler
}

func newFixture(t *testing.T, opts ...reconcile.Option) *fixture {
	t.Helper()
	env := plane.Env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	c, err := cluster.New(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	srv := gittest.NewServer(t)
	f := &fixture{t: t, env: env, ctx: ctx, ns: env.Namespace(t), client: c, git: srv, repo: srv.NewRepo(t, "deploy")}
	f.r = f.reconciler(opts...)
	return f
}

func (f *fixture) reconciler(opts ...reconcile.Option) *reconcile.Reconciler {
	f.t.Helper()
	r, err := reconcile.New(f.client, opts...)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(r.Close)
	return r
}

// unit is an automated, pruning unit of the fixture's repository at path.
func (f *fixture) unit(name, path string) reconcile.Unit {
	return reconcile.Unit{
		Name:        name,
		Namespace:   f.ns,
		Source:      reconcile.Source{URL: f.repo.URL},
		Path:        path,
		Destination: reconcile.Destination{Namespace: f.ns},
		Sync:        reconcile.Sync{Prune: true},
		Timeout:     time.Minute,
	}
}

func configMapYAML(name string, data map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n", name)
	if len(data) == 0 {
		b.WriteString("  k: v\n")
	}
	for k, v := range data {
		fmt.Fprintf(&b, "  %s: %q\n", k, v)
	}
	return b.String()
}

func (f *fixture) configMap(name string) (*corev1.ConfigMap, error) {
	var cm corev1.ConfigMap
	err := f.env.Client.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: name}, &cm)
	return &cm, err
}

func (f *fixture) mustExist(names ...string) {
	f.t.Helper()
	for _, n := range names {
		if _, err := f.configMap(n); err != nil {
			f.t.Fatalf("ConfigMap %s: %v", n, err)
		}
	}
}

func (f *fixture) mustBeGone(names ...string) {
	f.t.Helper()
	for _, n := range names {
		if _, err := f.configMap(n); !apierrors.IsNotFound(err) {
			f.t.Fatalf("ConfigMap %s should be gone: %v", n, err)
		}
	}
}

func (f *fixture) reconcile(u reconcile.Unit) reconcile.Status {
	f.t.Helper()
	s, err := f.r.Reconcile(f.ctx, u)
	if err != nil {
		f.t.Fatalf("reconcile %s: %v\n%s", u.Name, err, describe(s))
	}
	return s
}

func describe(s reconcile.Status) string {
	var b strings.Builder
	fmt.Fprintf(&b, "revision %s, applied %s, sync %s, health %s\n", s.Revision, s.LastAppliedRevision, s.Sync, s.Health)
	for _, c := range s.Conditions {
		fmt.Fprintf(&b, "  %s=%s %s: %s\n", c.Type, c.Status, c.Reason, c.Message)
	}
	if s.Result != nil {
		for _, o := range s.Result.Objects {
			fmt.Fprintf(&b, "  %s %s %s %s %v\n", o.Phase, o.ID, o.Action, o.Reason, o.Err)
		}
	}
	return b.String()
}

func condition(s reconcile.Status, t string) string {
	if c := s.Condition(t); c != nil {
		return string(c.Status) + "/" + c.Reason
	}
	return "absent"
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func clientKey(namespace, name string) client.ObjectKey {
	return client.ObjectKey{Namespace: namespace, Name: name}
}
