package cluster_test

import (
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/cluster"
)

// The defect of issue 19: client-go wrote to stderr through klog behind
// the host's back (informer watch errors, API deprecation warnings). Both
// are provoked here; stderr stays empty and the host's logger hears them.
func TestClientGoWritesNothingToStderr(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var mu sync.Mutex
	var logged []string
	log := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		logged = append(logged, args)
	}, funcr.Options{Verbosity: 1})

	r, w, err := os.Pipe()
	require.NoError(t, err)
	stderr := os.Stderr
	os.Stderr = w
	restored := false
	restore := func() {
		if !restored {
			os.Stderr = stderr
			_ = w.Close()
			restored = true
		}
	}
	defer restore()

	// A deprecation warning: v1 Endpoints.
	c, err := cluster.New(env.Config, cluster.WithLogger(log))
	require.NoError(t, err)
	_, err = c.Dynamic().Resource(schema.GroupVersionResource{Version: "v1", Resource: "endpoints"}).Namespace("default").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)

	// Watch errors: a client that may not list what its cache watches.
	denied, err := cluster.New(cluster.Impersonate(env.Config, "default", "nobody"), cluster.WithLogger(log))
	require.NoError(t, err)
	cache := cluster.NewCache(denied, cluster.CacheOptions{IgnoreCRDChanges: true})
	lookup, stop := context.WithTimeout(ctx, 3*time.Second)
	_, _, err = cache.Lookup(lookup, gvkConfigMap, "default", "anything")
	stop()
	assert.Error(t, err, "the watch never syncs")
	cache.Stop()
	time.Sleep(200 * time.Millisecond)

	restore()
	out, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Empty(t, string(out), "client-go wrote to stderr")
	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(logged, "\n")
	assert.Contains(t, all, "deprecated", "the warning went to the host's logger")
	assert.Contains(t, all, "forbidden", "the watch errors went to the host's logger")
}
