package health_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
)

// memView is a health.View over a map, for the pure tests of Wait's own
// logic (skipping, progress): what it does with a real watch is proven on
// the API server by the living tests and the conformance suite.
type memView struct {
	mu       sync.Mutex
	objs     map[object.ID]*unstructured.Unstructured
	watchers []memWatcher
	watched  map[object.ID]bool
}

type memWatcher struct {
	ctx    context.Context
	notify func(object.ID)
}

var _ health.View = (*memView)(nil)

func newMemView(objs ...*unstructured.Unstructured) *memView {
	v := &memView{objs: map[object.ID]*unstructured.Unstructured{}, watched: map[object.ID]bool{}}
	for _, o := range objs {
		v.objs[object.IDOf(o)] = o
	}
	return v
}

func (v *memView) Get(_ context.Context, id object.ID) (*unstructured.Unstructured, bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	o, ok := v.objs[id]
	return o, ok, nil
}

func (v *memView) Watch(ctx context.Context, ids []object.ID, notify func(object.ID)) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, id := range ids {
		v.watched[id] = true
	}
	v.watchers = append(v.watchers, memWatcher{ctx: ctx, notify: notify})
	return nil
}

// set stores o and tells the watches that are still running.
func (v *memView) set(o *unstructured.Unstructured) {
	id := object.IDOf(o)
	v.mu.Lock()
	v.objs[id] = o
	ws := append([]memWatcher(nil), v.watchers...)
	v.mu.Unlock()
	for _, w := range ws {
		if w.ctx.Err() == nil {
			w.notify(id)
		}
	}
}

func (v *memView) wasWatched(id object.ID) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.watched[id]
}

func configMapObj(ns, name string) *unstructured.Unstructured {
	return obj(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name, "namespace": ns}})
}

func widgetObj(ns, name string, status map[string]any) *unstructured.Unstructured {
	o := map[string]any{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": map[string]any{"name": name, "namespace": ns}}
	if status != nil {
		o["status"] = status
	}
	return obj(o)
}

var widgetKind = schema.GroupKind{Group: "example.com", Kind: "Widget"}

// TestWaitSkip: skipped objects are reported, apart, but neither block the
// wait, nor fail it fast, nor count in its roll-up, nor are watched.
func TestWaitSkip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cm := configMapObj("shop", "settings")
	silent := widgetObj("shop", "silent", nil) // Unknown: NoStatus
	failed := obj(map[string]any{"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": "migrate", "namespace": "shop"},
		"status": map[string]any{"conditions": []any{map[string]any{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}}}})
	view := newMemView(cm, silent, failed)
	ids := []object.ID{object.IDOf(cm), object.IDOf(silent), object.IDOf(failed)}

	cases := map[string]struct {
		reason string
		skip   health.Skip
	}{
		"by kind":   {reason: "a kind nobody reports on", skip: health.Skip{Kinds: []schema.GroupKind{widgetKind, {Group: "batch", Kind: "Job"}}}},
		"by object": {reason: "chosen objects", skip: health.Skip{Objects: []object.ID{object.IDOf(silent), object.IDOf(failed)}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			opts := health.DefaultWaitOptions()
			opts.Timeout = 5 * time.Second
			opts.FailFast = true
			opts.Skip = tc.skip
			start := time.Now()
			rep, err := health.Wait(ctx, view, newEngine(t), ids, opts)
			require.NoError(t, err, "%s: the skipped Unknown and Degraded objects do not block or fail the wait", tc.reason)
			assert.Less(t, time.Since(start), opts.Timeout, "the wait ended at once")
			require.Len(t, rep.Results, 1)
			assert.Equal(t, object.IDOf(cm), rep.Results[0].ID)
			assert.Equal(t, health.Healthy, rep.Status, "skipped objects do not count in the roll-up")
			require.Len(t, rep.Skipped, 2, "skipped objects are reported")
			assert.Equal(t, health.Unknown, rep.Skipped[0].Status, "worst first")
			assert.Equal(t, "NoStatus", rep.Skipped[0].Reason)
			assert.Equal(t, health.Degraded, rep.Skipped[1].Status)
			assert.False(t, view.wasWatched(object.IDOf(silent)), "skipped objects are not watched")
		})
	}

	// Without the skip the same wait fails fast on the Job.
	opts := health.DefaultWaitOptions()
	opts.FailFast = true
	_, err := health.Wait(ctx, view, newEngine(t), ids, opts)
	require.ErrorIs(t, err, health.ErrDegraded)
}

func TestParseSkip(t *testing.T) {
	s, err := health.ParseSkip("ServiceMonitor.monitoring.coreos.com", "Deployment.apps/shop/api", "ClusterRole.rbac.authorization.k8s.io/viewer")
	require.NoError(t, err)
	assert.Equal(t, []schema.GroupKind{{Group: "monitoring.coreos.com", Kind: "ServiceMonitor"}}, s.Kinds)
	assert.Equal(t, []object.ID{
		{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "api"},
		{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "viewer"},
	}, s.Objects)
	assert.True(t, s.Matches(object.ID{Group: "monitoring.coreos.com", Kind: "ServiceMonitor", Namespace: "x", Name: "y"}))
	assert.False(t, s.Matches(object.ID{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "web"}))
	for _, bad := range []string{"", "Deployment.apps//api", "Deployment.apps/a/b/c"} {
		_, err := health.ParseSkip(bad)
		assert.Error(t, err, "%q", bad)
	}
}

// TestWaitProgressNamesWaiting: every progress report names what the wait
// still waits for, worst first, at most WaitingShown of them and a count
// of the rest, with their current results.
func TestWaitProgressNamesWaiting(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	silent := widgetObj("shop", "a-silent", nil)
	view := newMemView(configMapObj("shop", "present"), silent)
	ids := []object.ID{object.IDOf(silent), {Kind: "ConfigMap", Namespace: "shop", Name: "present"}}
	for i := range 8 {
		ids = append(ids, object.ID{Kind: "ConfigMap", Namespace: "shop", Name: fmt.Sprintf("cm-%d", i)})
	}
	var mu sync.Mutex
	var reports []health.Progress
	first := make(chan struct{})
	var once sync.Once
	opts := health.DefaultWaitOptions()
	opts.Accept = []health.Status{health.Healthy}
	opts.Progress = func(p health.Progress) {
		mu.Lock()
		reports = append(reports, p)
		mu.Unlock()
		once.Do(func() { close(first) })
	}
	done := make(chan error, 1)
	go func() {
		_, err := health.Wait(ctx, view, newEngine(t), ids, opts)
		done <- err
	}()
	<-first
	for i := range 8 {
		view.set(configMapObj("shop", fmt.Sprintf("cm-%d", i)))
	}
	view.set(widgetObj("shop", "a-silent", map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "True"}}}))
	require.NoError(t, <-done)

	mu.Lock()
	defer mu.Unlock()
	p := reports[0]
	assert.Equal(t, 1, p.Ready)
	assert.Equal(t, 10, p.Total)
	require.Len(t, p.Waiting, health.WaitingShown, "bounded")
	assert.Equal(t, object.IDOf(silent), p.Waiting[0].ID, "Unknown is worse than Missing: first")
	assert.Equal(t, "NoStatus", p.Waiting[0].Reason)
	for _, w := range p.Waiting[1:] {
		assert.Equal(t, health.Missing, w.Status)
	}
	assert.Equal(t, "cm-0", p.Waiting[1].ID.Name, "then in ID order")
	s := p.String()
	assert.True(t, strings.HasPrefix(s, "1/10 ready; waiting for Widget.example.com/shop/a-silent (Unknown: NoStatus: "), s)
	assert.Contains(t, s, "ConfigMap/shop/cm-0 (Missing: NotFound: object does not exist)")
	assert.True(t, strings.HasSuffix(s, " and 4 more"), s)

	last := reports[len(reports)-1]
	assert.Empty(t, last.Waiting)
	assert.Equal(t, "10/10 ready", last.String())
}

// TestWaitPassesContext: a ContextChecker gets the wait's context, so that
// a CRD lookup ends with the wait.
func TestWaitPassesContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type key struct{}
	ctx = context.WithValue(ctx, key{}, "the wait's")
	var got any
	crds := health.CRDsFunc(func(ctx context.Context, gk schema.GroupKind) (*unstructured.Unstructured, bool, error) {
		got = ctx.Value(key{})
		return testCRD(gk, false), true, nil
	})
	view := newMemView(widgetObj("shop", "w", nil))
	rep, err := health.Wait(ctx, view, newEngine(t, health.WithCRDs(crds)), []object.ID{{Group: "example.com", Kind: "Widget", Namespace: "shop", Name: "w"}}, health.DefaultWaitOptions())
	require.NoError(t, err)
	assert.Equal(t, "NoStatusSubresource", rep.Results[0].Reason)
	assert.Equal(t, "the wait's", got)
}
