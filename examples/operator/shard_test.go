package operator

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/internal/testenv"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

func keys(n int) []types.NamespacedName {
	out := make([]types.NamespacedName, n)
	for i := range out {
		out[i] = types.NamespacedName{Namespace: fmt.Sprintf("team-%d", i%37), Name: fmt.Sprintf("app-%d", i)}
	}
	return out
}

// TestShardOfStable pins the assignment: replicas of two versions must
// agree on it during a rolling upgrade, so a change of the hash is a
// breaking change, and this test makes it visible.
func TestShardOfStable(t *testing.T) {
	t.Parallel()
	assert.Equal(t, pinnedShards, shardsOf(keys(len(pinnedShards)), 16),
		"the assignment changed: replicas of the old and the new version would both reconcile some Applications")
	for _, n := range []int{-1, 0, 1} {
		assert.Zero(t, ShardOf(types.NamespacedName{Namespace: "shop", Name: "api"}, n), "%d shards: everything is shard 0", n)
	}
}

// pinnedShards are the shards of keys(12) among 16, as ShardOf first
// computed them.
var pinnedShards = []int{15, 15, 13, 0, 10, 10, 7, 11, 4, 9, 4, 4}

func shardsOf(ks []types.NamespacedName, n int) []int {
	out := make([]int, len(ks))
	for i, k := range ks {
		out[i] = ShardOf(k, n)
	}
	return out
}

// TestShardOfBalanced: over 10,000 keys every shard gets its share within
// four standard deviations of a uniform draw's (4% of the mean for 2
// shards, 22% for 32): a hash that favours some shards fails it.
func TestShardOfBalanced(t *testing.T) {
	t.Parallel()
	ks := keys(10000)
	for _, n := range []int{2, 3, 4, 8, 16, 32} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			counts := make([]int, n)
			for _, k := range ks {
				s := ShardOf(k, n)
				require.True(t, s >= 0 && s < n, "shard %d of %d", s, n)
				counts[s]++
			}
			mean := float64(len(ks)) / float64(n)
			sd := math.Sqrt(mean * (1 - 1/float64(n)))
			for i, c := range counts {
				assert.InDelta(t, mean, float64(c), 4*sd, "shard %d of %d holds %d keys (mean %.0f)", i, n, c, mean)
			}
		})
	}
}

// TestShardOfMinimalMovement: going from n to n+1 shards moves a key only
// to the new shard, and about 1/(n+1) of them.
func TestShardOfMinimalMovement(t *testing.T) {
	t.Parallel()
	ks := keys(10000)
	for _, n := range []int{1, 2, 4, 7, 16} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			moved := 0
			for _, k := range ks {
				before, after := ShardOf(k, n), ShardOf(k, n+1)
				if before == after {
					continue
				}
				moved++
				assert.Equal(t, n, after, "%s moved from shard %d to old shard %d", k, before, after)
			}
			want := float64(len(ks)) / float64(n+1)
			assert.InDelta(t, want, float64(moved), 0.2*want, "keys moved going from %d to %d shards", n, n+1)
		})
	}
}

// TestShardKeeperStopsWhenNotRenewed: a replica that cannot renew a
// shard (here it never tries: no API server answers) starts no pass of
// it once two thirds of the lease duration have passed since its last
// renewal began, and the pass still running is cancelled, so that it is
// over before another replica may take the Lease.
func TestShardKeeperStopsWhenNotRenewed(t *testing.T) {
	t.Parallel()
	k, err := NewShardKeeper(&rest.Config{Host: "https://127.0.0.1:1"}, nil,
		ShardOptions{Shards: 2, Namespace: "converge-system", Identity: "alone", LeaseDuration: time.Second}, logr.Discard())
	require.NoError(t, err)
	var key types.NamespacedName
	for _, c := range keys(10) {
		if ShardOf(c, 2) == 0 {
			key = c
			break
		}
	}
	_, _, ok := k.Enter(context.Background(), key)
	require.False(t, ok, "no shard is held before a Lease is taken")

	k.hold(0, time.Now()) // as after a successful renewal
	ctx, leave, ok := k.Enter(context.Background(), key)
	require.True(t, ok, "a pass starts on a held shard")
	assert.Equal(t, []int{0}, k.Held())
	select {
	case <-ctx.Done():
	case <-time.After(waitFor):
		t.Fatal("the pass on a shard that was not renewed is not cancelled")
	}
	assert.False(t, k.Owns(key), "no pass starts on a shard that was not renewed")
	_, _, ok = k.Enter(context.Background(), key)
	assert.False(t, ok)
	assert.Empty(t, k.Held())
	leave()
	assert.Zero(t, k.inflight(), "leave ends the pass")
}

// passLog records, from every replica's hook, which replica runs a pass
// of which Application, and any pass that starts while another replica's
// pass of the same Application has not left.
type passLog struct {
	mu     sync.Mutex
	inside map[types.NamespacedName]string
	passes map[types.NamespacedName]map[string]int
	// overlaps are the passes that started while another was running.
	overlaps []string
	// hold, when set, blocks the first pass of hold.key by hold.replica
	// until the pass's context ends, closing hold.entered as it starts.
	hold *holdPass
}

type holdPass struct {
	replica string
	key     types.NamespacedName
	entered chan struct{}
	once    sync.Once
}

func newPassLog() *passLog {
	return &passLog{inside: map[types.NamespacedName]string{}, passes: map[types.NamespacedName]map[string]int{}}
}

func (p *passLog) enter(replica string) func(context.Context, types.NamespacedName) func() {
	return func(ctx context.Context, key types.NamespacedName) func() {
		p.mu.Lock()
		if other, ok := p.inside[key]; ok {
			p.overlaps = append(p.overlaps, fmt.Sprintf("%s entered %s while %s was in it", replica, key, other))
		}
		p.inside[key] = replica
		if p.passes[key] == nil {
			p.passes[key] = map[string]int{}
		}
		p.passes[key][replica]++
		h := p.hold
		p.mu.Unlock()
		if h != nil && h.replica == replica && h.key == key {
			h.once.Do(func() {
				close(h.entered)
				<-ctx.Done() // mid-reconcile until the replica dies
			})
		}
		return func() {
			p.mu.Lock()
			if p.inside[key] == replica {
				delete(p.inside, key)
			}
			p.mu.Unlock()
		}
	}
}

// reset forgets the passes counted so far.
func (p *passLog) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.passes = map[types.NamespacedName]map[string]int{}
}

// snapshot returns a copy of the passes counted.
func (p *passLog) snapshot() map[types.NamespacedName]map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[types.NamespacedName]map[string]int{}
	for k, v := range p.passes {
		out[k] = map[string]int{}
		for r, n := range v {
			out[k][r] = n
		}
	}
	return out
}

func (p *passLog) overlapping() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.overlaps...)
}

// TestShards: two replicas with four shards split them two and two, and
// between them reconcile each of 20 Applications, every Application by
// the replica holding its shard only, never two at once; a replica
// killed in the middle of a pass (its Leases left held, as a crash
// leaves them) loses its shards to the other no sooner than the lease
// duration after its last renewal, and within two renew periods (and
// the API server's latency) more, and its Applications are reconciled
// again there; a third replica that joins gets its share, and gives it
// back when it stops.
//
// It runs on a plane of its own, as the webhook tests do: the package's
// shared operator reconciles every Application of its plane and would
// count as a third replica.
func TestShards(t *testing.T) {
	t.Parallel()
	env, err := testenv.Start(testenv.Options{Mode: testenv.Bare})
	if env != nil {
		t.Cleanup(func() { assert.NoError(t, env.Stop(), "stop the plane") })
	}
	require.NoError(t, err, "start a bare plane")
	require.NoError(t, InstallCRD(ctxT(t), env.Config))
	scheme, err := Scheme()
	require.NoError(t, err)
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	require.NoError(t, err)
	ns := env.Namespace(t)

	const shards, apps = 4, 20
	const lease = 3 * time.Second
	period := lease / 6
	repo := gittest.NewServer(t).NewRepo(t, "deploy")
	files := map[string]string{}
	for i := range apps {
		files[fmt.Sprintf("apps/%02d/cm.yaml", i)] = configMapYAML(fmt.Sprintf("cm-%02d", i), map[string]string{"i": fmt.Sprint(i)})
	}
	repo.Commit(t, "twenty apps", files)
	var all []types.NamespacedName
	for i := range apps {
		app := &v1alpha1.Application{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%02d", i), Namespace: ns},
			Spec:       v1alpha1.ApplicationSpec{Source: v1alpha1.Source{RepoURL: repo.URL, TargetRevision: "main", Path: fmt.Sprintf("apps/%02d", i)}},
		}
		require.NoError(t, c.Create(ctxT(t), app))
		all = append(all, client.ObjectKeyFromObject(app))
	}

	log := newPassLog()
	start := func(identity string, crash bool) (stop func()) {
		opts := DefaultOptions()
		opts.MetricsAddr, opts.HealthAddr = "0", "0"
		opts.DefaultInterval = testInterval
		opts.RetryInterval = 500 * time.Millisecond
		opts.FetchCoalesce = 0
		opts.skipNameValidation = true
		opts.Sharding = ShardOptions{Shards: shards, Namespace: ns, Identity: identity, LeaseDuration: lease,
			enter: log.enter(identity), noRelease: crash}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- Run(ctx, env.Config, opts) }()
		var once sync.Once
		stop = func() {
			once.Do(func() {
				cancel()
				select {
				case err := <-done:
					assert.NoError(t, err, "Run of %s returns nil when its context ends", identity)
				case <-time.After(30 * time.Second):
					t.Errorf("Run of %s did not return within 30s of its context ending", identity)
				}
			})
		}
		t.Cleanup(stop)
		return stop
	}
	holders := func() []string {
		h, err := shardHolders(ctxT(t), c, ns, shards)
		require.NoError(t, err)
		return h
	}
	waitHolders := func(what string, within time.Duration, ok func([]string) bool) []string {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			h := holders()
			if ok(h) {
				return h
			}
			if time.Now().After(deadline) {
				t.Fatalf("shards: %s: not within %s; holders %q", what, within, h)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	count := func(h []string, who string) int {
		n := 0
		for _, x := range h {
			if x == who {
				n++
			}
		}
		return n
	}

	stopA := start("replica-a", true)
	start("replica-b", true)
	split := waitHolders("split two and two", waitFor, func(h []string) bool {
		return count(h, "replica-a") == 2 && count(h, "replica-b") == 2
	})
	t.Logf("holders: %q", split)

	// Every Application is reconciled, by its shard's holder alone.
	log.reset()
	deadline := time.Now().Add(waitFor)
	for {
		passes := log.snapshot()
		done := len(passes) == apps
		for _, k := range all {
			n := 0
			for _, c := range passes[k] {
				n += c
			}
			done = done && n >= 2
		}
		if done {
			break
		}
		require.True(t, time.Now().Before(deadline), "every Application reconciled twice in %s; passes: %v", waitFor, passes)
		time.Sleep(100 * time.Millisecond)
	}
	passes := log.snapshot()
	require.Equal(t, split, holders(), "the shards stayed put while passes were counted")
	for _, k := range all {
		owner := split[ShardOf(k, shards)]
		assert.Equal(t, []string{owner}, replicasOf(passes[k]), "%s (shard %d) is reconciled by its shard's holder alone", k, ShardOf(k, shards))
	}
	assert.Empty(t, log.overlapping(), "no Application is reconciled by two replicas at once")
	for _, k := range all {
		app := &v1alpha1.Application{}
		require.NoError(t, c.Get(ctxT(t), k, app))
		assert.True(t, readyAt("")(app), "%s is Ready: %+v", k, app.Status.Conditions)
	}

	// Kill replica-a in the middle of a pass.
	var victim types.NamespacedName
	for _, k := range all {
		if split[ShardOf(k, shards)] == "replica-a" {
			victim = k
			break
		}
	}
	hold := &holdPass{replica: "replica-a", key: victim, entered: make(chan struct{})}
	log.mu.Lock()
	log.hold = hold
	log.mu.Unlock()
	select {
	case <-hold.entered:
	case <-time.After(waitFor):
		t.Fatalf("replica-a did not start a pass of %s within %s", victim, waitFor)
	}
	lastRenew := map[string]time.Time{}
	var leases coordinationv1.LeaseList
	require.NoError(t, c.List(ctxT(t), &leases, client.InNamespace(ns)))
	for _, l := range leases.Items {
		if holder(&l) == "replica-a" && l.Spec.RenewTime != nil {
			lastRenew[l.Name] = l.Spec.RenewTime.Time
		}
	}
	killed := time.Now()
	stopA() // its Leases stay held: noRelease
	log.reset()

	waitHolders("replica-b holds every shard", lease+2*period+2*time.Second, func(h []string) bool { return count(h, "replica-b") == shards })
	t.Logf("replica-b took replica-a's shards %s after the kill", time.Since(killed).Round(10*time.Millisecond))
	require.NoError(t, c.List(ctxT(t), &leases, client.InNamespace(ns)))
	for _, l := range leases.Items {
		renewed, ok := lastRenew[l.Name]
		if !ok {
			continue
		}
		require.NotNil(t, l.Spec.AcquireTime)
		// Taken no sooner than a lease duration after replica-a's last
		// renewal (the same clock wrote both, to the microsecond).
		assert.GreaterOrEqual(t, l.Spec.AcquireTime.Sub(renewed), lease-time.Millisecond, "%s taken %s after its last renewal", l.Name, l.Spec.AcquireTime.Sub(renewed))
	}

	// replica-a's Applications, the one it died in the middle of too, are
	// reconciled again, by replica-b.
	deadline = time.Now().Add(waitFor)
	for {
		passes := log.snapshot()
		done := true
		for _, k := range all {
			done = done && passes[k]["replica-b"] > 0
		}
		if done {
			assert.Zero(t, passes[victim]["replica-a"], "a dead replica starts nothing")
			break
		}
		require.True(t, time.Now().Before(deadline), "every Application reconciled by replica-b within %s; passes: %v", waitFor, passes)
		time.Sleep(100 * time.Millisecond)
	}
	assert.Empty(t, log.overlapping(), "no Application is reconciled by two replicas at once")

	// A replica that joins gets its share from replica-b, which gives
	// the shards back once their passes have left; stopped, it gives
	// them back at once, not after the lease duration.
	stopC := start("replica-c", false)
	waitHolders("replica-b and replica-c split two and two", waitFor, func(h []string) bool {
		return count(h, "replica-b") == 2 && count(h, "replica-c") == 2
	})
	stopC()
	assert.Zero(t, count(holders(), "replica-c"), "a replica that stopped gave its shards back before Run returned, not left them to expire")
	waitHolders("replica-b holds every shard again", lease, func(h []string) bool { return count(h, "replica-b") == shards })
	assert.Empty(t, log.overlapping(), "no Application is reconciled by two replicas at once")
}

func replicasOf(passes map[string]int) []string {
	var out []string
	for r := range passes {
		out = append(out, r)
	}
	return out
}

// TestShardedWebhook: a forge reaches one replica of several; the push
// still reconciles at once the Applications of the shards the other
// replica holds (their interval and their fetch coalescing are an hour),
// each by its shard's holder, and a redelivery of the same push writes
// nothing more.
func TestShardedWebhook(t *testing.T) {
	t.Parallel()
	env, err := testenv.Start(testenv.Options{Mode: testenv.Bare})
	if env != nil {
		t.Cleanup(func() { assert.NoError(t, env.Stop(), "stop the plane") })
	}
	require.NoError(t, err, "start a bare plane")
	require.NoError(t, InstallCRD(ctxT(t), env.Config))
	scheme, err := Scheme()
	require.NoError(t, err)
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	require.NoError(t, err)
	f := &fixture{t: t, env: env, c: c, ns: env.Namespace(t), repo: gittest.NewServer(t).NewRepo(t, "deploy")}

	const shards, apps = 4, 8
	files := func(v string) map[string]string {
		out := map[string]string{}
		for i := range apps {
			out[fmt.Sprintf("apps/%02d/cm.yaml", i)] = configMapYAML(fmt.Sprintf("cm-%02d", i), map[string]string{"v": v})
		}
		return out
	}
	first := f.repo.Commit(t, "v1", files("1"))
	secret := []byte("shared-with-the-forges")
	webhookAddr := freeAddr(t)
	start := func(identity string, webhook bool) {
		opts := DefaultOptions()
		opts.MetricsAddr, opts.HealthAddr = "0", "0"
		opts.DefaultInterval = time.Hour
		opts.FetchCoalesce = time.Hour
		opts.RetryInterval = 500 * time.Millisecond
		opts.skipNameValidation = true
		opts.Sharding = ShardOptions{Shards: shards, Namespace: f.ns, Identity: identity, LeaseDuration: 3 * time.Second}
		if webhook {
			opts.WebhookAddr = webhookAddr
			opts.WebhookSecrets = WebhookSecrets{GitHub: secret, Gitea: secret, GitLab: secret}
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- Run(ctx, env.Config, opts) }()
		t.Cleanup(func() {
			cancel()
			select {
			case err := <-done:
				assert.NoError(t, err, "Run of %s returns nil when its context ends", identity)
			case <-time.After(30 * time.Second):
				t.Errorf("Run of %s did not return within 30s of its context ending", identity)
			}
		})
	}
	start("replica-a", true)
	start("replica-b", false)
	deadline := time.Now().Add(waitFor)
	var holders []string
	for {
		holders, err = shardHolders(ctxT(t), c, f.ns, shards)
		require.NoError(t, err)
		n := map[string]int{}
		for _, h := range holders {
			n[h]++
		}
		if n["replica-a"] == 2 && n["replica-b"] == 2 {
			break
		}
		require.True(t, time.Now().Before(deadline), "shards not split two and two within %s: %q", waitFor, holders)
		time.Sleep(50 * time.Millisecond)
	}
	var ofB []string
	for i := range apps {
		name := fmt.Sprintf("app-%02d", i)
		f.application(name, fmt.Sprintf("apps/%02d", i))
		if holders[ShardOf(types.NamespacedName{Namespace: f.ns, Name: name}, shards)] == "replica-b" {
			ofB = append(ofB, name)
		}
	}
	require.NotEmpty(t, ofB, "some Applications are replica-b's")
	for i := range apps {
		f.eventually(fmt.Sprintf("app-%02d", i), "ready at v1", readyAt(first))
	}

	second := f.repo.Commit(t, "v2", files("2"))
	body := pushBody(t, "main", second, f.repo.URL, "")
	post := func() {
		req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, "http://"+webhookAddr+WebhookPath, strings.NewReader(string(body)))
		require.NoError(t, err)
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-Hub-Signature-256", "sha256="+sign(secret, body))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusAccepted, resp.StatusCode)
	}
	post()
	for i := range apps {
		f.eventually(fmt.Sprintf("app-%02d", i), "ready at v2 after the push to replica-a", readyAt(second))
	}
	for _, name := range ofB {
		app := f.get(name)
		assert.Equal(t, second, app.Annotations[AnnotationPushed], "%s was handed on to replica-b", name)
	}
	// A redelivery finds the annotation set: no write, no new generation
	// of anything.
	versions := map[string]string{}
	for _, name := range ofB {
		versions[name] = f.get(name).ResourceVersion
	}
	post()
	time.Sleep(time.Second)
	for _, name := range ofB {
		assert.Equal(t, versions[name], f.get(name).ResourceVersion, "%s: the redelivery wrote nothing", name)
	}
}
