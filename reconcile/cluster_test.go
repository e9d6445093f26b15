package reconcile_test

import (
	"context"
	"sync"
	"testing"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/reconcile"
)

// TestForgetClusterAsksTheResolverAgain: a forgotten destination cluster
// is resolved again on the next pass, and that pass writes through the new
// client, not the one it replaced.
func TestForgetClusterAsksTheResolverAgain(t *testing.T) {
	var (
		mu      sync.Mutex
		clients []*cluster.Client
	)
	env := plane.Env(t)
	resolver := reconcile.ClusterResolverFunc(func(_ context.Context, name string) (*cluster.Client, error) {
		if name != "remote" {
			return nil, nil
		}
		// The same API server under another name: a second entry, with
		// a client and a cache of its own.
		c, err := cluster.New(env.Config)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		clients = append(clients, c)
		return c, nil
	})
	resolved := func() []*cluster.Client {
		mu.Lock()
		defer mu.Unlock()
		return append([]*cluster.Client(nil), clients...)
	}
	f := newFixture(t, reconcile.WithClusters(resolver))
	f.repo.Commit(t, "app", map[string]string{"app/a.yaml": configMapYAML("a", nil)})
	u := f.unit("app", "app")
	u.Destination.Cluster = "remote"

	f.reconcile(u)
	f.reconcile(u)
	if n := len(resolved()); n != 1 {
		t.Fatalf("two passes resolved the cluster %d times, want once", n)
	}
	f.mustExist("a")

	if f.r.ForgetCluster("in-cluster") {
		t.Fatal("ForgetCluster dropped the Reconciler's own cluster")
	}
	if f.r.ForgetCluster("elsewhere") {
		t.Fatal("ForgetCluster reported an entry for a name it never resolved")
	}
	if !f.r.ForgetCluster("remote") {
		t.Fatal("ForgetCluster found no entry for the resolved cluster")
	}

	// The next pass must apply through the new client: change the
	// object so that it writes.
	f.repo.Commit(t, "change", map[string]string{"app/a.yaml": configMapYAML("a", map[string]string{"k": "changed"})})
	s := f.reconcile(u)
	got := resolved()
	if len(got) != 2 {
		t.Fatalf("the pass after ForgetCluster resolved the cluster %d times in all, want twice", len(got))
	}
	if !s.Ready() {
		t.Fatalf("the pass after ForgetCluster:\n%s", describe(s))
	}
	if w := got[1].Requests().Writes(); w == 0 {
		t.Fatalf("the new client made no write; the old one made %d: the unit kept its old Applier", got[0].Requests().Writes())
	}
	cm, err := f.configMap("a")
	if err != nil || cm.Data["k"] != "changed" {
		t.Fatalf("ConfigMap a after the pass: %v %v", cm.Data, err)
	}
}
