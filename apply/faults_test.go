package apply_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/internal/testenv"
)

// The faults of issue 6, each against a real API server.

func TestFaultAPIServerStopsMidApplyThenRestarts(t *testing.T) {
	// A private plane: stopping the shared one would fail other tests.
	priv, err := testenv.Start(testenv.Options{Mode: testenv.Bare})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := priv.Stop(); err != nil {
			t.Errorf("stop the private plane: %v", err)
		}
	})
	ns := priv.Namespace(t)

	// The API server goes away just before the (written+1)th write of a
	// set object: exactly `written` objects reach it. One write at a time
	// keeps that exact.
	const total, written = 20, 5
	var stopErr error
	gate := &writeGate{
		match: func(req *http.Request) bool {
			return req.Method == http.MethodPatch && strings.Contains(req.URL.Path, "/namespaces/"+ns+"/configmaps/obj-")
		},
		after: written,
		trip:  func() { stopErr = priv.StopAPIServer() },
	}
	cfg := rest.CopyConfig(priv.Config)
	cfg.Wrap(gate.wrap)
	f := newFixtureOn(t, cfg, ns)
	get := func(name string) (*corev1.ConfigMap, error) {
		var cm corev1.ConfigMap
		err := priv.Client.Get(f.ctx, client.ObjectKey{Namespace: ns, Name: name}, &cm)
		return &cm, err
	}

	f.apply(setOf(t, configMap("stale", map[string]string{"k": "v"})), f.options())

	var objs []*unstructured.Unstructured
	for i := range total {
		objs = append(objs, configMap(fmt.Sprintf("obj-%02d", i), map[string]string{"i": fmt.Sprint(i)}))
	}
	set := setOf(t, objs...)
	opts := f.options()
	opts.Concurrency = 1
	res, err := f.applier.Apply(f.ctx, set, opts)
	if stopErr != nil {
		t.Fatalf("the API server did not stop: %v", stopErr)
	}
	if !gate.tripped() {
		t.Fatalf("the API server was never stopped: %d writes seen\n%s", gate.seen(), describe(res))
	}
	if err == nil {
		t.Fatalf("an apply against a stopped API server succeeded:\n%s", describe(res))
	}
	var oe *apply.ObjectError
	if !errors.As(err, &oe) {
		t.Fatalf("the error names no object: %v", err)
	}
	if res == nil || res.PruneSkipped == "" || res.Count(apply.Pruned) != 0 {
		t.Fatalf("prune ran after a failed apply:\n%s", describe(res))
	}
	if n := res.Count(apply.Created); n != written {
		t.Errorf("created %d objects before the API server stopped, want %d:\n%s", n, written, describe(res))
	}

	if err := priv.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	if _, err := get("stale"); err != nil {
		t.Fatalf("stale was pruned by the failed call: %v", err)
	}
	before := map[string]*corev1.ConfigMap{}
	for _, o := range objs {
		cm, err := get(o.GetName())
		switch {
		case err == nil:
			before[o.GetName()] = cm
		case !apierrors.IsNotFound(err):
			t.Fatal(err)
		}
	}
	if len(before) != written {
		t.Fatalf("%d objects exist after the failed call, want %d", len(before), written)
	}

	// The same Applier, on the restarted API server, converges: what the
	// failed call wrote is not written again, the rest is created once,
	// stale is pruned once.
	res = f.apply(set, opts)
	if res.Count(apply.Unchanged) != written || res.Count(apply.Created) != total-written || res.Count(apply.Pruned) != 1 {
		t.Fatalf("after the restart: %s\n%s", res, describe(res))
	}
	if res.Writes != total-written+1 {
		t.Errorf("after the restart: %d writes, want %d (one per missing object, one delete)", res.Writes, total-written+1)
	}
	if _, err := get("stale"); !apierrors.IsNotFound(err) {
		t.Errorf("stale not pruned after the restart: %v", err)
	}
	for _, o := range objs {
		cm, err := get(o.GetName())
		if err != nil {
			t.Fatalf("%s: %v", o.GetName(), err)
		}
		if cm.Data["i"] != o.Object["data"].(map[string]any)["i"] {
			t.Errorf("%s: data %v", o.GetName(), cm.Data)
		}
		if b, ok := before[o.GetName()]; ok && (b.UID != cm.UID || b.ResourceVersion != cm.ResourceVersion) {
			t.Errorf("%s was written again: uid %s→%s, resourceVersion %s→%s", o.GetName(), b.UID, cm.UID, b.ResourceVersion, cm.ResourceVersion)
		}
	}
	res = f.apply(set, opts)
	if res.Count(apply.Unchanged) != total || res.Writes != 0 {
		t.Fatalf("a third call is not a no-op: %s, %d writes\n%s", res, res.Writes, describe(res))
	}
}

func TestFaultWebhookDeniesOneObject(t *testing.T) {
	f := newFixture(t)
	const message = "faults-test: this ConfigMap is over its budget"
	hook := startWebhook(t, func(*admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
		return &admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{Code: http.StatusForbidden, Message: message}}
	})
	f.apply(setOf(t, configMap("a", nil), configMap("b", nil), configMap("stale", nil)), f.options())

	f.registerWebhook(hook, "deny.faults.converge.dev", 5)
	denied := configMap("denied", map[string]string{"k": "v"})
	denied.SetLabels(map[string]string{webhookLabel: "true"})
	res, err := f.applier.Apply(f.ctx, setOf(t, configMap("a", nil), configMap("b", map[string]string{"k": "new"}), configMap("c", nil), denied), f.options())
	if err == nil {
		t.Fatalf("a denied object did not fail the call:\n%s", describe(res))
	}
	want := "ConfigMap/" + f.ns + "/denied: "
	if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), message) {
		t.Fatalf("want an error starting %q with the webhook's message, got %v", want, err)
	}
	t.Logf("%v", err)
	got := f.actions(res)
	if got["ConfigMap/denied"] != apply.Failed || got["ConfigMap/a"] != apply.Unchanged ||
		got["ConfigMap/b"] != apply.Configured || got["ConfigMap/c"] != apply.Created {
		t.Fatalf("the others of the wave: %v\n%s", got, describe(res))
	}
	if res.PruneSkipped == "" || res.Count(apply.Pruned) != 0 {
		t.Fatalf("prune ran after a denied object:\n%s", describe(res))
	}
	if _, err := f.getConfigMap("stale"); err != nil {
		t.Fatalf("stale was pruned: %v", err)
	}
	if _, err := f.getConfigMap("denied"); !apierrors.IsNotFound(err) {
		t.Fatalf("the denied object exists: %v", err)
	}
}

func TestFaultWebhookTimesOut(t *testing.T) {
	f := newFixture(t)
	hook := startWebhook(t, func(*admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
		return nil // hang until the API server gives up
	})
	const name = "slow.faults.converge.dev"
	f.registerWebhook(hook, name, 1)
	slow := configMap("slow", nil)
	slow.SetLabels(map[string]string{webhookLabel: "true"})

	start := time.Now()
	res, err := f.applier.Apply(f.ctx, setOf(t, configMap("fast", nil), slow), f.options())
	took := time.Since(start)
	if took > 10*time.Second {
		t.Errorf("the call took %s with a webhook of timeoutSeconds 1", took)
	}
	if err == nil {
		t.Fatalf("an object behind a timed-out webhook did not fail:\n%s", describe(res))
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "ConfigMap/"+f.ns+"/slow: ") || !strings.Contains(msg, name) ||
		!(strings.Contains(msg, "deadline") || strings.Contains(strings.ToLower(msg), "timeout")) {
		t.Fatalf("not a clear error: %v", err)
	}
	t.Logf("after %s: %v", took.Round(time.Millisecond), err)
	if got := f.actions(res); got["ConfigMap/fast"] != apply.Created || got["ConfigMap/slow"] != apply.Failed {
		t.Fatalf("%v\n%s", got, describe(res))
	}
}

func TestFaultContextCancelledMidWave(t *testing.T) {
	ns := env.Namespace(t)
	// Each write of a set object takes 100ms, so a wave of 40 at 8 in
	// flight takes about half a second: long enough to cancel in.
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			if req.Method == http.MethodPatch && strings.Contains(req.URL.Path, "/configmaps/obj-") {
				select {
				case <-req.Context().Done():
					return nil, req.Context().Err()
				case <-time.After(100 * time.Millisecond):
				}
			}
			return rt.RoundTrip(req)
		})
	})
	f := newFixtureOn(t, cfg, ns)
	// Warm the Applier: its cache watches ConfigMaps, its client knows
	// the API, its HTTP connection is open.
	f.apply(setOf(t, configMap("stale", nil)), f.options())
	if _, err := f.applier.Plan(f.ctx, setOf(t, configMap("stale", nil)), f.options()); err != nil {
		t.Fatal(err)
	}
	ignore := goleak.IgnoreCurrent()

	var objs []*unstructured.Unstructured
	for i := range 40 {
		objs = append(objs, configMap(fmt.Sprintf("obj-%02d", i), nil))
	}
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	var (
		events     atomic.Int32
		cancelOnce sync.Once
		cancelled  atomic.Int64
	)
	opts := f.options()
	opts.Progress = func(e apply.Event) {
		if e.Phase == apply.PhaseSync && events.Add(1) == 3 {
			cancelOnce.Do(func() {
				cancelled.Store(time.Now().UnixNano())
				cancel()
			})
		}
	}
	res, err := f.applier.Apply(ctx, setOf(t, objs...), opts)
	returned := time.Now()
	if cancelled.Load() == 0 {
		t.Fatalf("the call ended before it could be cancelled: %v\n%s", err, describe(res))
	}
	if after := returned.Sub(time.Unix(0, cancelled.Load())); after > 3*time.Second {
		t.Errorf("the call returned %s after its context was cancelled", after)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if res == nil || res.Count(apply.Pruned) != 0 {
		t.Fatalf("a cancelled call pruned:\n%s", describe(res))
	}
	if n := res.Count(apply.Created); n >= len(objs) {
		t.Errorf("the whole wave was written despite the cancel:\n%s", describe(res))
	}
	if _, err := f.getConfigMap("stale"); err != nil {
		t.Fatalf("stale was pruned by a cancelled call: %v", err)
	}

	t.Logf("cancelled after 3 events: %s", res)

	f.applier.Close()
	goleak.VerifyNone(t, ignore,
		// Connections of client-go's shared transport: the pool, not the
		// call, owns them, and one may be replaced at any time.
		goleak.IgnoreAnyFunction("golang.org/x/net/http2.(*ClientConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"))
}

func TestFaultPruneDoesNotDeleteAnObjectRecreatedBySomeoneElse(t *testing.T) {
	ns := env.Namespace(t)
	// Between prune's read of "victim" and its delete, someone else
	// deletes victim and creates a new object of the same name, without
	// converge's labels. The delete carries the UID prune read: it must
	// not remove the new object.
	var (
		swapOnce sync.Once
		swapErr  error
		newUID   string
	)
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			if req.Method == http.MethodDelete && strings.HasSuffix(req.URL.Path, "/namespaces/"+ns+"/configmaps/victim") {
				swapOnce.Do(func() {
					ctx := req.Context()
					old := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "victim", Namespace: ns}}
					if swapErr = env.Client.Delete(ctx, old); swapErr != nil {
						return
					}
					fresh := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "victim", Namespace: ns},
						Data: map[string]string{"owner": "someone else"}}
					swapErr = env.Client.Create(ctx, fresh)
					newUID = string(fresh.UID)
				})
			}
			return rt.RoundTrip(req)
		})
	})
	f := newFixtureOn(t, cfg, ns)
	f.apply(setOf(t, configMap("keep", nil), configMap("victim", map[string]string{"owner": "converge"})), f.options())

	res, err := f.applier.Apply(f.ctx, setOf(t, configMap("keep", nil)), f.options())
	if swapErr != nil {
		t.Fatalf("recreate victim: %v", swapErr)
	}
	if newUID == "" {
		t.Fatalf("prune never sent a delete for victim: %v\n%s", err, describe(res))
	}
	cm, getErr := f.getConfigMap("victim")
	if getErr != nil {
		t.Fatalf("prune deleted an object someone else recreated: %v\n%s", getErr, describe(res))
	}
	if string(cm.UID) != newUID || cm.Data["owner"] != "someone else" {
		t.Fatalf("victim is not the recreated object: uid %s, data %v", cm.UID, cm.Data)
	}
	t.Logf("prune after the swap:\n%s", describe(res))
	got := f.actions(res)
	if got["ConfigMap/victim"] == apply.Pruned {
		t.Fatalf("victim reported pruned:\n%s", describe(res))
	}
	if got["ConfigMap/victim"] == apply.Failed {
		// The precondition failed: a 409 the error must name and carry.
		var oe *apply.ObjectError
		if !errors.As(err, &oe) || oe.ID.Name != "victim" || !apierrors.IsConflict(err) {
			t.Fatalf("want a 409 conflict naming victim, got %v", err)
		}
	}

	// The next call sees an object without the owner's labels: it keeps
	// it and forgets it.
	res = f.apply(setOf(t, configMap("keep", nil)), f.options())
	if got := f.actions(res); got["ConfigMap/victim"] != apply.Kept && got["ConfigMap/victim"] != "" {
		t.Fatalf("the next call: %v\n%s", got, describe(res))
	}
	if cm, err := f.getConfigMap("victim"); err != nil || string(cm.UID) != newUID {
		t.Fatalf("the recreated object did not survive the next call: %v", err)
	}
	// The inventory is read through the cache: let it see the last write
	// (TestFaultLaggingWatchLosesNoInventoryEntry is about when it has not).
	waitFor(t, func() bool {
		res, err := f.applier.Plan(f.ctx, setOf(t, configMap("keep", nil)), f.options())
		return err == nil && res.Count(apply.Kept) == 0
	})
	res = f.apply(setOf(t, configMap("keep", nil)), f.options())
	if res.Count(apply.Pruned)+res.Count(apply.Kept)+res.Count(apply.Failed) != 0 {
		t.Fatalf("victim is still in the inventory:\n%s", describe(res))
	}
}

func TestFaultLaggingWatchLosesNoInventoryEntry(t *testing.T) {
	ns := env.Namespace(t)
	// The Applier's watch of ConfigMaps (which holds its inventory) falls
	// behind, as a watch on a loaded API server does: events arrive late.
	// The objects are ServiceAccounts, whose watch keeps up.
	lag := &watchLag{}
	t.Cleanup(lag.resume)
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(lag.wrap("configmaps"))
	f := newFixtureOn(t, cfg, ns)
	sa := func(name string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceAccount",
			"metadata": map[string]any{"name": name}}}
	}
	exists := func(name string) bool {
		var got corev1.ServiceAccount
		err := env.Client.Get(f.ctx, client.ObjectKey{Namespace: ns, Name: name}, &got)
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}
	f.apply(setOf(t, sa("w")), f.options())
	waitFor(t, func() bool {
		_, found, err := f.applier.Cache().Lookup(f.ctx, corev1.SchemeGroupVersion.WithKind("ConfigMap"), ns, "converge-app")
		return err == nil && found
	})

	lag.pause()
	f.apply(setOf(t, sa("w"), sa("x")), f.options()) // the inventory now holds x
	// x leaves the set, z joins it: x must be pruned, now or, once the
	// watch caught up, by the next call; never forgotten.
	res := f.apply(setOf(t, sa("w"), sa("z")), f.options())
	t.Logf("while the watch lags:\n%s", describe(res))
	lag.resume()
	waitFor(t, func() bool { // until the cache holds the stored inventory
		var stored corev1.ConfigMap
		err := env.Client.Get(f.ctx, client.ObjectKey{Namespace: ns, Name: "converge-app"}, &stored)
		cached, found, cerr := f.applier.Cache().Lookup(f.ctx, corev1.SchemeGroupVersion.WithKind("ConfigMap"), ns, "converge-app")
		return err == nil && cerr == nil && found && cached.GetResourceVersion() == stored.ResourceVersion
	})
	res = f.apply(setOf(t, sa("w"), sa("z")), f.options())
	t.Logf("once it caught up:\n%s", describe(res))
	if exists("x") {
		t.Fatal("x left the set and was never pruned: the inventory lost it")
	}
}

func TestFaultObjectTooLargeForTheServer(t *testing.T) {
	f := newFixture(t)
	const marker = "MARKER-7f3c-do-not-echo"
	big := func(name string, size int) *unstructured.Unstructured {
		return configMap(name, map[string]string{"blob": marker + strings.Repeat("q", size)})
	}
	// 1.5 MiB: over a ConfigMap's 1 MiB, which the API server validates
	// (422). 3.5 MiB: over the 3 MiB request body the API server reads
	// at all (413).
	set := setOf(t, big("over-configmap-limit", 3<<19), big("over-request-limit", 7<<19), configMap("small", nil), configMap("small-2", nil))
	res, err := f.applier.Apply(f.ctx, set, f.options())
	if err == nil {
		t.Fatalf("objects too large for the server were accepted:\n%s", describe(res))
	}
	got := f.actions(res)
	if got["ConfigMap/small"] != apply.Created || got["ConfigMap/small-2"] != apply.Created {
		t.Fatalf("the others did not apply: %v\n%s", got, describe(res))
	}
	msg := err.Error()
	if strings.Contains(msg, marker) || strings.Contains(msg, "qqqqqqqq") {
		t.Errorf("the error quotes the object's data (%d bytes)", len(msg))
	}
	if len(msg) > 4096 {
		t.Errorf("the error is %d bytes long", len(msg))
	}
	for _, name := range []string{"over-configmap-limit", "over-request-limit"} {
		if got["ConfigMap/"+name] != apply.Failed {
			t.Errorf("%s: %s, want Failed", name, got["ConfigMap/"+name])
		}
		if !strings.Contains(msg, "ConfigMap/"+f.ns+"/"+name+": ") {
			t.Errorf("the error does not name %s first: %.500s", name, msg)
		}
		if _, err := f.getConfigMap(name); !apierrors.IsNotFound(err) {
			t.Errorf("%s exists: %v", name, err)
		}
	}
	for _, o := range res.Objects {
		if o.Err != nil && strings.Contains(o.Err.Error(), marker) {
			t.Errorf("%s: the result's error quotes the object's data", o.ID)
		}
	}
	t.Logf("error: %s", msg)
}
