package cluster_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/health/healthtest"
)

// TestViewConformance runs health's View conformance suite against the
// cache's View on the bare plane, with a cache per subtest, limited to the
// subtest's namespace and to all namespaces. The suite's waits get a
// minute rather than their default half: the cluster packages' tests run
// beside other packages' control planes on small CI machines, and a
// longer timeout costs nothing when the view is fast.
func TestViewConformance(t *testing.T) {
	for name, namespaced := range map[string]bool{"one namespace": true, "all namespaces": false} {
		t.Run(name, func(t *testing.T) {
			healthtest.TestView(t, func(t *testing.T) healthtest.Harness {
				ns := env.Namespace(t)
				c, err := cluster.New(env.Config)
				require.NoError(t, err)
				opts := cluster.CacheOptions{}
				if namespaced {
					opts.Namespaces = []string{ns}
				}
				cache := cluster.NewCache(c, opts)
				t.Cleanup(cache.Stop)
				return healthtest.Harness{
					View:      cache.View(),
					Client:    env.Client,
					Namespace: ns,
					Requests:  func() int64 { return c.Requests().Total() },
				}
			}, healthtest.WithTimeout(time.Minute))
		})
	}
}
