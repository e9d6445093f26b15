package operator

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"sync"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// ShardLeasePrefix names the Lease of each shard: converge-shard-0,
// converge-shard-1, ...
const ShardLeasePrefix = "converge-shard-"

// memberLabel marks the Lease each replica renews to say it is alive, so
// that a replica holding no shard yet still counts in the fair share.
const memberLabel = "converge.dev/shard-member"

// ShardOf returns the shard, in [0, n), of the Application key names:
// rendezvous hashing of namespace/name, so that every replica computes
// the same answer without talking to the others, the shards get even
// shares, and going from n to n+1 shards moves only the keys the new
// shard wins (about 1/(n+1) of them), none between old shards.
func ShardOf(key types.NamespacedName, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(key.Namespace))
	_, _ = h.Write([]byte{'/'}) // names hold no '/': namespace/name is unambiguous
	_, _ = h.Write([]byte(key.Name))
	// FNV alone spreads similar short strings poorly; splitmix64's
	// finalizer, on the key and on each (key, shard) pair, makes the
	// scores independent enough to balance.
	k := mix64(h.Sum64())
	best, bestScore := 0, uint64(0)
	for i := range n {
		if s := mix64(k ^ mix64(uint64(i)+0x9e3779b97f4a7c15)); i == 0 || s > bestScore {
			best, bestScore = i, s
		}
	}
	return best
}

// mix64 is splitmix64's finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// ShardOptions spread the Applications over several replicas of the
// operator ([ShardKeeper]).
type ShardOptions struct {
	// Shards is how many shards the Applications are split into; 1 (or
	// 0) is one replica reconciling everything, with no Leases. Every
	// replica must be given the same number.
	Shards int
	// Namespace holds the shards' Leases (the operator's own).
	Namespace string
	// Identity names this replica in the Leases; the host name and a
	// random suffix when empty, so that a restarted replica is a new one.
	Identity string
	// LeaseDuration is how long a shard stays with a replica that stopped
	// renewing it: the longest a dead replica's shards wait for another.
	// The replica renews every LeaseDuration/6 and stops starting passes
	// of a shard LeaseDuration/3 before another replica may take it.
	LeaseDuration time.Duration

	// enter, when set, is called as a pass of key starts on a shard this
	// replica holds, with the pass's context; what it returns is called
	// as the pass ends. Tests record who reconciles what with it.
	enter func(ctx context.Context, key types.NamespacedName) (leave func())
	// noRelease leaves the Leases held when the replica stops, as a
	// crash does.
	noRelease bool
}

// DefaultShardOptions are one shard, Leases in converge-system (where
// config/default installs the operator) lasting 15 seconds, as
// controller-runtime's leader election does.
func DefaultShardOptions() ShardOptions {
	return ShardOptions{Shards: 1, Namespace: "converge-system", LeaseDuration: 15 * time.Second}
}

// ShardKeeper holds this replica's shards: each shard is a Lease
// converge-shard-<i> of ShardOptions.Namespace, and an Application
// belongs to shard [ShardOf] of its key. Every replica renews a Lease of
// its own as well (labelled converge.dev/shard-member), and takes free
// or expired shards up to a fair share, ceil(shards / live replicas),
// giving back, once their passes are done, the shards it holds beyond
// it; so a new replica gets shards, and a dead one's are taken once they
// expire: within the lease duration and two renew periods (one to see
// the last renewal, one to act) of its death.
//
// A Lease is taken as client-go's leader election takes one: by a write
// conditioned on the resourceVersion last read, and only after the
// holder has not renewed it for the lease duration, measured from when
// this replica saw the last renewal, by its own clock. A replica counts
// a shard as its own for two thirds of the lease duration after the
// start of its last successful renewal, and cancels the context of the
// passes still running on it when that ends; so a replica that cannot
// renew stops before another may start, and no Application is
// reconciled by two replicas at once.
//
// A nil *ShardKeeper owns every Application. It is a manager.Runnable
// and safe for concurrent use.
type ShardKeeper struct {
	opts   ShardOptions
	leases coordinationclient.LeaseInterface
	apps   client.Reader
	log    logr.Logger
	// validFor is how long after the start of a successful renewal a
	// shard is ours; period is how often the Leases are renewed.
	validFor, period time.Duration

	mu      sync.Mutex
	shards  []shardState
	queue   workqueue.TypedRateLimitingInterface[crreconcile.Request]
	member  *coordinationv1.Lease // this replica's member Lease, last written
	seen    map[string]observation
	stopped bool
}

// shardState is what this replica knows of one shard.
type shardState struct {
	held bool
	// releasing: held, but no pass may start; given back once inflight
	// is 0.
	releasing  bool
	validUntil time.Time
	// ctx is the context of the passes on the shard, cancelled when the
	// shard is lost.
	ctx      context.Context
	cancel   context.CancelFunc
	expiry   *time.Timer
	inflight int
}

// observation is when this replica first saw a Lease's current
// resourceVersion: a Lease expires leaseDuration after that, by our
// clock, whatever its renewTime says.
type observation struct {
	resourceVersion string
	at              time.Time
}

// newShards returns nil for one shard; otherwise a ShardKeeper added to
// mgr, listing Applications from its cache.
func newShards(cfg *rest.Config, mgr ctrl.Manager, opts ShardOptions, log logr.Logger) (*ShardKeeper, error) {
	if opts.Shards <= 1 {
		return nil, nil
	}
	k, err := NewShardKeeper(cfg, mgr.GetClient(), opts, log)
	if err != nil {
		return nil, err
	}
	if err := mgr.Add(k); err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	return k, nil
}

// NewShardKeeper returns a keeper of opts.Shards shards whose Leases it
// reads and writes through cfg; apps lists the Applications of a shard
// this replica gains (the manager's client). Start it with the manager.
func NewShardKeeper(cfg *rest.Config, apps client.Reader, opts ShardOptions, log logr.Logger) (*ShardKeeper, error) {
	if opts.Shards < 1 {
		return nil, fmt.Errorf("shards: %d shards: need at least 1", opts.Shards)
	}
	if opts.Namespace == "" {
		return nil, errors.New("shards: no namespace for the Leases")
	}
	if opts.LeaseDuration < time.Second {
		return nil, fmt.Errorf("shards: lease duration %s: a Lease counts whole seconds, need at least 1s", opts.LeaseDuration)
	}
	if opts.Identity == "" {
		host, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("shards: identity: %w", err)
		}
		opts.Identity = host + "_" + utilrand.String(8)
	}
	c, err := coordinationclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	if log.GetSink() == nil {
		log = logr.Discard()
	}
	return &ShardKeeper{
		opts:     opts,
		leases:   c.Leases(opts.Namespace),
		apps:     apps,
		log:      log,
		validFor: opts.LeaseDuration * 2 / 3,
		period:   opts.LeaseDuration / 6,
		shards:   make([]shardState, opts.Shards),
		seen:     map[string]observation{},
	}, nil
}

// Identity is this replica's name in the Leases.
func (k *ShardKeeper) Identity() string { return k.opts.Identity }

// NeedLeaderElection is false: every replica keeps its shards.
func (k *ShardKeeper) NeedLeaderElection() bool { return false }

// Owns reports whether a pass of the Application key may start on this
// replica now: true for a nil keeper.
func (k *ShardKeeper) Owns(key types.NamespacedName) bool {
	if k == nil {
		return true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.owns(&k.shards[ShardOf(key, len(k.shards))])
}

func (k *ShardKeeper) owns(s *shardState) bool {
	return s.held && !s.releasing && !k.stopped && time.Now().Before(s.validUntil)
}

// Enter starts a pass of the Application key if this replica owns its
// shard ([ShardKeeper.Owns]): it returns a context that is cancelled if
// the shard is lost meanwhile, and leave, which the caller must call when
// the pass ends (the shard is given back to another replica only after
// its passes left). It returns ok false, and nothing to call, when
// another replica owns the shard. A nil keeper enters every pass.
func (k *ShardKeeper) Enter(ctx context.Context, key types.NamespacedName) (_ context.Context, leave func(), ok bool) {
	if k == nil {
		return ctx, func() {}, true
	}
	k.mu.Lock()
	s := &k.shards[ShardOf(key, len(k.shards))]
	if !k.owns(s) {
		k.mu.Unlock()
		return ctx, nil, false
	}
	s.inflight++
	shardCtx := s.ctx
	k.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(shardCtx, cancel)
	hookLeave := func() {}
	if k.opts.enter != nil {
		hookLeave = k.opts.enter(ctx, key)
	}
	return ctx, func() {
		hookLeave()
		stop()
		cancel()
		k.mu.Lock()
		s.inflight--
		k.mu.Unlock()
	}, true
}

// Held returns the shards this replica owns now, in order.
func (k *ShardKeeper) Held() []int {
	if k == nil {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []int
	for i := range k.shards {
		if k.owns(&k.shards[i]) {
			out = append(out, i)
		}
	}
	return out
}

// source is the controller's event source of the Applications of gained
// shards: it keeps the controller's queue for them. A nil keeper's adds
// nothing.
func (k *ShardKeeper) source() source.Source {
	return source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[crreconcile.Request]) error {
		if k != nil {
			k.mu.Lock()
			k.queue = q
			k.mu.Unlock()
		}
		return nil
	})
}

// Start keeps the shards until ctx is done, then gives them back once
// their passes have left.
func (k *ShardKeeper) Start(ctx context.Context) error {
	k.log.Info("keeping shards", "identity", k.opts.Identity, "shards", len(k.shards), "namespace", k.opts.Namespace)
	t := time.NewTicker(k.period)
	defer t.Stop()
	for {
		k.tick(ctx)
		select {
		case <-ctx.Done():
			k.stop()
			return nil
		case <-t.C:
		}
	}
}
