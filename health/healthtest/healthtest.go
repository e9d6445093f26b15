// Package healthtest is a conformance suite for [health.View]
// implementations, the watch-backed views [health.Wait] reads. It lives
// outside _test.go files so that any host or third-party view can run it
// against a real API server:
//
//	func TestViewConformance(t *testing.T) {
//		healthtest.TestView(t, func(t *testing.T) healthtest.Harness {
//			return healthtest.Harness{
//				View:      myview.New(cfg),
//				Client:    env.Client,
//				Namespace: env.Namespace(t),
//			}
//		}, healthtest.WithTimeout(time.Minute)) // options are optional
//	}
//
// The suite writes ConfigMaps through Client (never through the view) and
// checks each clause of the contract documented on [health.View].
package healthtest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
)

// Harness is one view under test, fresh for each subtest.
type Harness struct {
	// View is the view under test.
	View health.View
	// Client writes to the same API server the view watches, knowing the
	// core types.
	Client client.Client
	// Namespace is a namespace, empty at the start, that the view covers
	// and the suite may write ConfigMaps in.
	Namespace string
	// Requests, when set, returns how many requests the view has sent to
	// the API server so far; the suite then checks that Get sends none once
	// a kind is watched.
	Requests func() int64
}

// Option configures [TestView].
type Option func(*settings)

// settings are the suite's knobs, per call to TestView: options rather
// than package variables, so that two suites in one test binary (a host
// running it on two views, in parallel) cannot change each other's.
type settings struct {
	timeout   time.Duration
	stopGrace time.Duration
}

// DefaultTimeout is how long, by default, each wait of the suite gives the
// view to see a change.
const DefaultTimeout = 30 * time.Second

// DefaultStopGrace is how long, by default, a Watch may still finish calls
// to notify that were under way when its context ended.
const DefaultStopGrace = 100 * time.Millisecond

// WithTimeout bounds each wait of the suite for the view to see a change;
// [DefaultTimeout] by default. A slow API server (a loaded CI machine)
// needs more; the tests take no longer when it is longer and the view is
// fast.
func WithTimeout(d time.Duration) Option {
	return func(s *settings) { s.timeout = d }
}

// WithStopGrace sets how long after its context is done a Watch may still
// finish calls to notify that were under way; [DefaultStopGrace] by
// default. A view that stops asynchronously (its informers' handlers
// removed by a goroutine) may need more.
func WithStopGrace(d time.Duration) Option {
	return func(s *settings) { s.stopGrace = d }
}

func newSettings(opts []Option) settings {
	s := settings{timeout: DefaultTimeout, stopGrace: DefaultStopGrace}
	for _, o := range opts {
		o(&s)
	}
	return s
}

// TestView runs the suite. newHarness is called once per subtest.
func TestView(t *testing.T, newHarness func(t *testing.T) Harness, opts ...Option) {
	t.Helper()
	cfg := newSettings(opts)
	// The subtests below read these, as they once read package variables.
	Timeout, StopGrace := cfg.timeout, cfg.stopGrace
	testContext := func(t *testing.T) context.Context { return newTestContext(t, Timeout) }
	waitFor := func(t *testing.T, h Harness, id object.ID, rec *recorder, ok func(found bool, value string) bool, what string) {
		t.Helper()
		waitForChange(t, h, id, rec, ok, what, Timeout)
	}

	t.Run("Watch returns synced", func(t *testing.T) {
		h := newHarness(t)
		ctx := testContext(t)
		id := create(ctx, t, h, "before-watch", "v1")
		missing := cmID(h.Namespace, "never-created")
		require.NoError(t, h.View.Watch(ctx, []object.ID{id, missing}, func(object.ID) {}))
		obj, found, err := h.View.Get(ctx, id)
		require.NoError(t, err)
		require.True(t, found, "an object created before Watch is in the view when Watch returns")
		assert.Equal(t, "v1", data(t, obj))
		obj, found, err = h.View.Get(ctx, missing)
		require.NoError(t, err, "a missing object is not an error")
		assert.False(t, found)
		assert.Nil(t, obj)
	})

	t.Run("notify on add, update and delete", func(t *testing.T) {
		h := newHarness(t)
		ctx := testContext(t)
		id := cmID(h.Namespace, "lifecycle")
		rec := newRecorder()
		require.NoError(t, h.View.Watch(ctx, []object.ID{id}, rec.notify))

		create(ctx, t, h, id.Name, "v1")
		waitFor(t, h, id, rec, func(found bool, value string) bool { return found && value == "v1" }, "added")

		update(ctx, t, h, id.Name, "v2")
		waitFor(t, h, id, rec, func(found bool, value string) bool { return found && value == "v2" }, "updated")

		require.NoError(t, h.Client.Delete(ctx, configMap(h.Namespace, id.Name, "")))
		waitFor(t, h, id, rec, func(found bool, _ string) bool { return !found }, "deleted")
	})

	t.Run("no notify after the context is done", func(t *testing.T) {
		h := newHarness(t)
		ctx := testContext(t)
		id := create(ctx, t, h, "after-cancel", "v1")
		watchCtx, cancel := context.WithCancel(ctx)
		stopped := newRecorder()
		require.NoError(t, h.View.Watch(watchCtx, []object.ID{id}, stopped.notify))
		cancel()
		// A call already under way when the context ends (the first
		// look at the existing object, say) may still finish; a view
		// that stops asynchronously gets a moment to do so. After that,
		// not one more call.
		time.Sleep(StopGrace)
		stopped.freeze()

		// A second watch proves the view saw the change, so the first
		// would have been told by now if it still were called.
		live := newRecorder()
		require.NoError(t, h.View.Watch(ctx, []object.ID{id}, live.notify))
		update(ctx, t, h, id.Name, "v2")
		waitFor(t, h, id, live, func(found bool, value string) bool { return found && value == "v2" }, "updated")
		// Handlers of one view may run in any order: give the stopped
		// one as long to show up as it had to stop.
		time.Sleep(StopGrace)
		assert.Zero(t, stopped.afterFreeze(), "notify called after its context was done")
	})

	t.Run("watches are independent", func(t *testing.T) {
		h := newHarness(t)
		ctx := testContext(t)
		id := create(ctx, t, h, "shared", "v1")
		firstCtx, cancelFirst := context.WithCancel(ctx)
		first, second := newRecorder(), newRecorder()
		require.NoError(t, h.View.Watch(firstCtx, []object.ID{id}, first.notify))
		require.NoError(t, h.View.Watch(ctx, []object.ID{id}, second.notify))
		cancelFirst()
		update(ctx, t, h, id.Name, "v2")
		waitFor(t, h, id, second, func(found bool, value string) bool { return found && value == "v2" },
			"updated, seen by the watch still running")
	})

	t.Run("many objects, one watch", func(t *testing.T) {
		h := newHarness(t)
		ctx := testContext(t)
		const n = 50
		ids := make([]object.ID, n)
		for i := range ids {
			ids[i] = cmID(h.Namespace, fmt.Sprintf("cm-%02d", i))
		}
		rec := newRecorder()
		require.NoError(t, h.View.Watch(ctx, ids, rec.notify))
		for _, id := range ids {
			create(ctx, t, h, id.Name, "v1")
		}
		deadline := time.Now().Add(Timeout)
		for _, id := range ids {
			for !rec.saw(id) {
				require.True(t, time.Now().Before(deadline), "no notify for %s", id)
				time.Sleep(20 * time.Millisecond)
			}
			_, found, err := h.View.Get(ctx, id)
			require.NoError(t, err)
			assert.True(t, found, "%s notified but not in the view", id)
		}
	})

	t.Run("Get reads memory", func(t *testing.T) {
		h := newHarness(t)
		if h.Requests == nil {
			t.Skip("the harness does not count requests")
		}
		ctx := testContext(t)
		id := create(ctx, t, h, "memory", "v1")
		missing := cmID(h.Namespace, "absent")
		require.NoError(t, h.View.Watch(ctx, []object.ID{id, missing}, func(object.ID) {}))
		before := h.Requests()
		for range 20 {
			_, found, err := h.View.Get(ctx, id)
			require.NoError(t, err)
			require.True(t, found)
			_, found, err = h.View.Get(ctx, missing)
			require.NoError(t, err)
			require.False(t, found)
		}
		assert.Equal(t, before, h.Requests(), "Get sent requests")
	})

	t.Run("unknown kind", func(t *testing.T) {
		h := newHarness(t)
		ctx := testContext(t)
		id := object.ID{Group: "nothing.converge.dev", Kind: "Nothing", Namespace: h.Namespace, Name: "x"}
		start := time.Now()
		err := h.View.Watch(ctx, []object.ID{id}, func(object.ID) {})
		assert.Error(t, err, "a kind the server does not serve cannot be watched")
		assert.Less(t, time.Since(start), Timeout, "and Watch says so without waiting for the context")
	})
}

func newTestContext(t *testing.T, timeout time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*timeout)
	t.Cleanup(cancel)
	return ctx
}

func cmID(ns, name string) object.ID {
	return object.ID{Kind: "ConfigMap", Namespace: ns, Name: name}
}

func configMap(ns, name, value string) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if value != "" {
		cm.Data = map[string]string{"k": value}
	}
	return cm
}

func create(ctx context.Context, t *testing.T, h Harness, name, value string) object.ID {
	t.Helper()
	require.NoError(t, h.Client.Create(ctx, configMap(h.Namespace, name, value)))
	return cmID(h.Namespace, name)
}

func update(ctx context.Context, t *testing.T, h Harness, name, value string) {
	t.Helper()
	cm := &corev1.ConfigMap{}
	require.NoError(t, h.Client.Get(ctx, client.ObjectKey{Namespace: h.Namespace, Name: name}, cm))
	cm.Data = map[string]string{"k": value}
	require.NoError(t, h.Client.Update(ctx, cm))
}

func data(t *testing.T, obj interface{ UnstructuredContent() map[string]any }) string {
	t.Helper()
	d, _ := obj.UnstructuredContent()["data"].(map[string]any)
	v, _ := d["k"].(string)
	return v
}

// waitForChange waits until notify has named id since the last wait and
// Get then satisfies ok: the view told of the change and holds it.
func waitForChange(t *testing.T, h Harness, id object.ID, rec *recorder, ok func(found bool, value string) bool, what string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if rec.take(id) {
			obj, found, err := h.View.Get(context.Background(), id)
			require.NoError(t, err)
			value := ""
			if found {
				require.NotNil(t, obj)
				value = data(t, obj)
			}
			if ok(found, value) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the view did not notify %s with the change within %s", what, id, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recorder records notify calls; notify never blocks.
type recorder struct {
	mu      sync.Mutex
	pending map[object.ID]bool
	all     map[object.ID]bool
	frozen  bool
	late    int
}

func newRecorder() *recorder {
	return &recorder{pending: map[object.ID]bool{}, all: map[object.ID]bool{}}
}

func (r *recorder) notify(id object.ID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.frozen {
		r.late++
	}
	r.pending[id] = true
	r.all[id] = true
}

// take reports and clears a pending notification for id.
func (r *recorder) take(id object.ID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	was := r.pending[id]
	delete(r.pending, id)
	return was
}

func (r *recorder) saw(id object.ID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.all[id]
}

func (r *recorder) freeze() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frozen = true
}

func (r *recorder) afterFreeze() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.late
}
