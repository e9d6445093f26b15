package healthtest_test

import (
	"testing"
	"time"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/health/healthtest"
	"github.com/converge-dev/converge/internal/testenv"
)

// The suite run against the cluster package's View, as the package
// overview runs it against a host's own view. (Compiled, not run: it is a
// test, and needs a control plane.)
func Example() {
	var env *testenv.Env // started in TestMain
	testViewConformance := func(t *testing.T) {
		healthtest.TestView(t, func(t *testing.T) healthtest.Harness {
			c, err := cluster.New(env.Config)
			if err != nil {
				t.Fatal(err)
			}
			cache := cluster.NewCache(c, cluster.CacheOptions{})
			t.Cleanup(cache.Stop)
			return healthtest.Harness{
				View:      cache.View(),
				Client:    env.Client,
				Namespace: env.Namespace(t),
				Requests:  func() int64 { return c.Requests().Total() },
			}
		}, healthtest.WithTimeout(time.Minute)) // options are optional
	}
	_ = testViewConformance
}
