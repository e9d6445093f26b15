package reconcile_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/notify"
)

// receiver is a real HTTP endpoint that records the notifications posted.
type receiver struct {
	mu       sync.Mutex
	payloads []notify.Payload
	srv      *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p notify.Payload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.payloads = append(rc.payloads, p)
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) reasons() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, p := range rc.payloads {
		out = append(out, p.Reason)
	}
	return out
}

// statuses records what a Loop reports.
type statuses struct {
	mu   sync.Mutex
	list []reconcile.Status
}

func (s *statuses) add(st reconcile.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, st)
}

func (s *statuses) all() []reconcile.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]reconcile.Status(nil), s.list...)
}

func (s *statuses) last(name string) (reconcile.Status, bool) {
	all := s.all()
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Unit.Name == name {
			return all[i], true
		}
	}
	return reconcile.Status{}, false
}

func runLoop(t *testing.T, l *reconcile.Loop) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not return after its context was cancelled")
		}
	})
}

func TestLoopGitDownMidLoopKeepsStateBacksOffAndNotifiesOnce(t *testing.T) {
	var down atomic.Bool
	srv := gittest.NewServer(t, gittest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if down.Load() {
				http.Error(w, "unavailable", http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	rc := newReceiver(t)
	hook, err := notify.NewWebhook(rc.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, reconcile.WithNotifier(hook))
	f.repo = srv.NewRepo(t, "deploy")
	f.repo.Commit(t, "app", map[string]string{"app/a.yaml": configMapYAML("a", nil)})
	u := f.unit("app", "app")
	u.Interval = 100 * time.Millisecond
	u.Retry = reconcile.Retry{Backoff: 100 * time.Millisecond, Factor: 2, MaxBackoff: 2 * time.Second}

	var seen statuses
	opts := reconcile.DefaultLoopOptions()
	opts.Coalesce = 0
	opts.OnStatus = seen.add
	l := reconcile.NewLoop(f.r, opts)
	if err := l.Set(u); err != nil {
		t.Fatal(err)
	}
	runLoop(t, l)
	waitFor(t, 20*time.Second, "the first pass", func() bool { s, ok := seen.last("app"); return ok && s.Ready() })

	down.Store(true)
	waitFor(t, 20*time.Second, "four failed passes", func() bool { s, _ := seen.last("app"); return s.Failures >= 4 })
	f.mustExist("a")
	down.Store(false)
	waitFor(t, 20*time.Second, "recovery", func() bool { s, _ := seen.last("app"); return s.Ready() && s.Failures == 0 })
	waitFor(t, 5*time.Second, "the recovery notification", func() bool { return len(rc.reasons()) >= 2 })
	time.Sleep(300 * time.Millisecond) // a few more healthy passes
	if got := strings.Join(rc.reasons(), ","); got != "SyncFailed,Recovered" {
		t.Fatalf("notifications: %s; want exactly one failure and one recovery", got)
	}

	// The waits between failed passes grew.
	var failedAt []time.Time
	for _, s := range seen.all() {
		if s.Failures > 0 {
			failedAt = append(failedAt, s.Finished)
		}
	}
	if len(failedAt) < 4 {
		t.Fatalf("only %d failed passes", len(failedAt))
	}
	first, later := failedAt[1].Sub(failedAt[0]), failedAt[3].Sub(failedAt[2])
	if later < first*3/2 {
		t.Fatalf("backoff did not grow: %s then %s", first, later)
	}
}

func TestLoopSelfHealsDriftWithoutWaitingForTheInterval(t *testing.T) {
	f := newFixture(t)
	f.repo.Commit(t, "app", map[string]string{"app/a.yaml": configMapYAML("a", map[string]string{"k": "git"})})
	u := f.unit("app", "app")
	u.Interval = time.Hour
	u.Sync.SelfHeal = true
	opts := reconcile.DefaultLoopOptions()
	opts.SelfHealDelay = 100 * time.Millisecond
	l := reconcile.NewLoop(f.r, opts)
	if err := l.Set(u); err != nil {
		t.Fatal(err)
	}
	runLoop(t, l)
	waitFor(t, 20*time.Second, "the first pass", func() bool { _, err := f.configMap("a"); return err == nil })
	time.Sleep(500 * time.Millisecond)

	cm, _ := f.configMap("a")
	cm.Data["k"] = "edited by hand"
	if err := f.env.Client.Update(f.ctx, cm); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the hand edit is reverted", func() bool {
		cm, err := f.configMap("a")
		return err == nil && cm.Data["k"] == "git"
	})
}

func TestLoopTriggerReconcilesAtOnce(t *testing.T) {
	f := newFixture(t)
	f.repo.Commit(t, "v1", map[string]string{"app/a.yaml": configMapYAML("a", nil)})
	u := f.unit("app", "app")
	u.Interval = time.Hour
	l := reconcile.NewLoop(f.r, reconcile.DefaultLoopOptions())
	if err := l.Set(u); err != nil {
		t.Fatal(err)
	}
	runLoop(t, l)
	waitFor(t, 20*time.Second, "the first pass", func() bool { _, err := f.configMap("a"); return err == nil })

	f.repo.Commit(t, "v2", map[string]string{"app/b.yaml": configMapYAML("b", nil)})
	if n := l.TriggerSource(strings.TrimSuffix(f.repo.URL, ".git") + "/"); n != 1 {
		t.Fatalf("a webhook for the repository triggered %d units", n)
	}
	waitFor(t, 10*time.Second, "the new commit is applied", func() bool { _, err := f.configMap("b"); return err == nil })
}

func TestLoopRefusesDependencyCyclesNamingThem(t *testing.T) {
	f := newFixture(t)
	a, b, c := f.unit("a", "a"), f.unit("b", "b"), f.unit("c", "c")
	a.DependsOn = []reconcile.Ref{{Name: "b"}}
	b.DependsOn = []reconcile.Ref{{Name: "c"}}
	c.DependsOn = []reconcile.Ref{{Name: "a"}}
	l := reconcile.NewLoop(f.r, reconcile.DefaultLoopOptions())
	err := l.Set(a, b, c)
	if !errors.Is(err, reconcile.ErrInvalidUnit) || !strings.Contains(err.Error(), "/a → "+f.ns+"/b → "+f.ns+"/c → "+f.ns+"/a") {
		t.Fatalf("want the cycle named, got %v", err)
	}
	if len(l.Units()) != 0 {
		t.Fatal("a refused Set added units")
	}
}

func TestLoopIsNotHeldUpByAHangingNotifier(t *testing.T) {
	hang := reconcile.NotifierFunc(func(ctx context.Context, e reconcile.Event) error {
		<-ctx.Done()
		return ctx.Err()
	})
	f := newFixture(t, reconcile.WithNotifier(hang), reconcile.WithNotifyTimeout(time.Hour))
	f.repo.Commit(t, "broken", map[string]string{"app/a.yaml": "kind: [\n"})
	u := f.unit("app", "app")
	u.Retry = reconcile.Retry{Backoff: 50 * time.Millisecond, Factor: 1}
	var seen statuses
	opts := reconcile.DefaultLoopOptions()
	opts.OnStatus = seen.add
	l := reconcile.NewLoop(f.r, opts)
	if err := l.Set(u); err != nil {
		t.Fatal(err)
	}
	runLoop(t, l)
	waitFor(t, 10*time.Second, "passes go on while the notifier hangs", func() bool {
		s, _ := seen.last("app")
		return s.Failures >= 5
	})
}

func TestLoopDependsOnWaitsForTheDependency(t *testing.T) {
	f := newFixture(t)
	f.repo.Commit(t, "apps", map[string]string{
		"infra/crd.yaml": configMapYAML("infra", nil),
		"app/a.yaml":     configMapYAML("app", nil),
	})
	infra, app := f.unit("infra", "no-such-dir"), f.unit("app", "app")
	app.DependsOn = []reconcile.Ref{{Name: "infra"}}
	for _, u := range []*reconcile.Unit{&infra, &app} {
		u.Retry = reconcile.Retry{Backoff: 100 * time.Millisecond, Factor: 1}
	}
	var seen statuses
	opts := reconcile.DefaultLoopOptions()
	opts.OnStatus = seen.add
	opts.DependencyRetry = time.Hour // only the dependency becoming Ready may start it
	l := reconcile.NewLoop(f.r, opts)
	if err := l.Set(infra, app); err != nil {
		t.Fatal(err)
	}
	runLoop(t, l)
	waitFor(t, 20*time.Second, "the dependent waits", func() bool {
		s, ok := seen.last("app")
		return ok && condition(s, reconcile.ConditionReady) == "False/DependencyNotReady"
	})
	f.mustBeGone("app")

	infra.Path = "infra"
	if err := l.Set(infra); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the dependent follows its dependency", func() bool { _, err := f.configMap("app"); return err == nil })
}
