package cluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
)

var _ health.View = cluster.View{}

// TestHealthWaitOnTheCache waits, through the cache's View, for objects
// that do not exist yet, creates them, and checks the wait ends Healthy
// with no per-object GET.
func TestHealthWaitOnTheCache(t *testing.T) {
	ns := env.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := cluster.New(env.Config)
	require.NoError(t, err)
	cache := cluster.NewCache(c, cluster.CacheOptions{Namespaces: []string{ns}})
	defer cache.Stop()

	var ids []object.ID
	for i := range 1000 {
		ids = append(ids, object.ID{Kind: "ConfigMap", Namespace: ns, Name: fmt.Sprintf("cm-%04d", i)})
	}
	checker, err := health.New()
	require.NoError(t, err)
	before := c.Requests()
	done := make(chan error, 1)
	var report health.Report
	go func() {
		var err error
		report, err = health.Wait(ctx, cache.View(), checker, ids, health.DefaultWaitOptions())
		done <- err
	}()
	// Missing objects are Missing, not an error and not a request.
	obj, found, err := cache.View().Get(ctx, ids[0])
	require.NoError(t, err)
	assert.False(t, found)
	assert.Nil(t, obj)

	for _, id := range ids {
		apply(t, c, configMap(ns, id.Name, "v1"))
	}
	require.NoError(t, <-done)
	assert.Equal(t, health.Healthy, report.Status)
	assert.Len(t, report.Results, len(ids))
	made := c.Requests().Sub(before)
	assert.Zero(t, made[cluster.RequestKey{Verb: cluster.VerbGet, Resource: "configmaps"}], "no per-object GETs: %s", made)
	assert.LessOrEqual(t, made.Verb(cluster.VerbWatch), int64(2), "one watch for the kind: %s", made)
}
