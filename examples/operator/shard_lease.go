package operator

// The Lease protocol of a ShardKeeper: renewing, taking and giving back
// the shards' Leases, and the member Lease that counts a replica.

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

// call bounds one request to the API server by a renew period, so that a
// hung request does not hold the loop past a renewal.
func (k *ShardKeeper) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, k.period)
}

// tick renews this replica's member Lease, reads every Lease, renews or
// gives back the shards it holds and takes free ones up to its share.
func (k *ShardKeeper) tick(ctx context.Context) {
	k.renewMember(ctx)
	cctx, cancel := k.call(ctx)
	list, err := k.leases.List(cctx, metav1.ListOptions{})
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			k.log.Error(err, "list leases")
		}
		return
	}
	now := time.Now()
	byName := map[string]*coordinationv1.Lease{}
	live := map[string]bool{k.opts.Identity: true}
	seen := map[string]observation{}
	for i := range list.Items {
		l := &list.Items[i]
		o, ok := k.seen[l.Name]
		if !ok || o.resourceVersion != l.ResourceVersion {
			o = observation{resourceVersion: l.ResourceVersion, at: now}
		}
		seen[l.Name] = o
		byName[l.Name] = l
		if l.Labels[memberLabel] != "true" || holder(l) == "" || holder(l) == k.opts.Identity {
			continue
		}
		if !k.expired(l, o, now) {
			live[holder(l)] = true
		} else {
			k.deleteStale(ctx, l)
		}
	}
	k.seen = seen
	share := (len(k.shards) + len(live) - 1) / len(live)

	for i := range k.shards {
		l := byName[shardLease(i)]
		switch {
		case l != nil && holder(l) == k.opts.Identity:
			k.renew(ctx, i, l)
		case k.isHeld(i):
			k.lose(i, "held by "+holderOf(l))
		}
	}
	held := k.rebalance(share)
	for i := range k.shards {
		if held >= share {
			break
		}
		if k.isHeld(i) {
			continue
		}
		if l := byName[shardLease(i)]; l == nil || holder(l) == "" || k.expired(l, seen[l.Name], now) {
			if k.acquire(ctx, i, l) {
				held++
			}
		}
	}
}

// expired reports whether l's holder has not renewed it for its lease
// duration, by our observation o.
func (k *ShardKeeper) expired(l *coordinationv1.Lease, o observation, now time.Time) bool {
	d := k.opts.LeaseDuration
	if s := l.Spec.LeaseDurationSeconds; s != nil && *s > 0 {
		d = time.Duration(*s) * time.Second
	}
	return now.Sub(o.at) >= d
}

func (k *ShardKeeper) isHeld(i int) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.shards[i].held
}

// rebalance marks the held shards beyond share (the highest first) to be
// given back, and takes back the mark from those within it; it returns
// how many shards are held.
func (k *ShardKeeper) rebalance(share int) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for i := range k.shards {
		s := &k.shards[i]
		if !s.held {
			continue
		}
		s.releasing = k.stopped || n >= share
		n++
	}
	return n
}

// renew renews shard i's Lease l, which names this replica, or gives it
// back when it is being released and no pass is left on it.
func (k *ShardKeeper) renew(ctx context.Context, i int, l *coordinationv1.Lease) {
	k.mu.Lock()
	s := &k.shards[i]
	release := s.held && s.releasing && s.inflight == 0
	k.mu.Unlock()
	if release {
		k.release(ctx, i, l)
		return
	}
	start := time.Now()
	l = l.DeepCopy()
	l.Spec.RenewTime = &metav1.MicroTime{Time: start}
	l.Spec.LeaseDurationSeconds = k.leaseSeconds()
	cctx, cancel := k.call(ctx)
	_, err := k.leases.Update(cctx, l, metav1.UpdateOptions{FieldManager: FieldManager})
	cancel()
	if err != nil {
		// Not renewed: the shard stays ours until its validity ends (the
		// timer), or another holder shows in the next list.
		if ctx.Err() == nil {
			k.log.Error(err, "renew shard lease", "shard", i)
		}
		return
	}
	k.hold(i, start)
}

// acquire takes shard i's Lease l (nil: none yet), free or expired.
func (k *ShardKeeper) acquire(ctx context.Context, i int, l *coordinationv1.Lease) bool {
	start := time.Now()
	now := metav1.MicroTime{Time: start}
	id := k.opts.Identity
	cctx, cancel := k.call(ctx)
	defer cancel()
	var err error
	if l == nil {
		l = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: shardLease(i), Namespace: k.opts.Namespace},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &id, LeaseDurationSeconds: k.leaseSeconds(),
				AcquireTime: &now, RenewTime: &now},
		}
		_, err = k.leases.Create(cctx, l, metav1.CreateOptions{FieldManager: FieldManager})
	} else {
		prev := holder(l)
		l = l.DeepCopy()
		l.Spec.HolderIdentity = &id
		l.Spec.LeaseDurationSeconds = k.leaseSeconds()
		l.Spec.AcquireTime, l.Spec.RenewTime = &now, &now
		if prev != "" {
			t := int32(0)
			if l.Spec.LeaseTransitions != nil {
				t = *l.Spec.LeaseTransitions
			}
			t++
			l.Spec.LeaseTransitions = &t
		}
		// Conditioned on l's resourceVersion: a renewal or another
		// replica's take since we read it makes this a conflict.
		_, err = k.leases.Update(cctx, l, metav1.UpdateOptions{FieldManager: FieldManager})
	}
	if err != nil {
		if !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) && ctx.Err() == nil {
			k.log.Error(err, "acquire shard lease", "shard", i)
		}
		return false
	}
	k.hold(i, start)
	return true
}

// hold records a successful take or renewal of shard i that started at
// start; a shard newly held gets a fresh context and its Applications are
// queued.
func (k *ShardKeeper) hold(i int, start time.Time) {
	k.mu.Lock()
	s := &k.shards[i]
	gained := !s.held
	if gained {
		s.held, s.releasing = true, false
		s.ctx, s.cancel = context.WithCancel(context.Background())
	}
	s.validUntil = start.Add(k.validFor)
	d := time.Until(s.validUntil)
	if s.expiry == nil {
		s.expiry = time.AfterFunc(d, func() { k.expire(i) })
	} else {
		s.expiry.Reset(d)
	}
	q := k.queue
	k.mu.Unlock()
	if gained {
		k.log.Info("gained shard", "shard", i)
		k.enqueue(i, q)
	}
}

// expire drops shard i when its validity has ended without a renewal,
// cancelling the passes still on it.
func (k *ShardKeeper) expire(i int) {
	k.mu.Lock()
	s := &k.shards[i]
	due := s.held && !time.Now().Before(s.validUntil)
	k.mu.Unlock()
	if due {
		k.lose(i, "not renewed in time")
	}
}

// lose drops shard i and cancels the passes still on it.
func (k *ShardKeeper) lose(i int, why string) {
	k.mu.Lock()
	s := &k.shards[i]
	if !s.held {
		k.mu.Unlock()
		return
	}
	s.held, s.releasing = false, false
	if s.expiry != nil {
		s.expiry.Stop()
	}
	s.cancel()
	k.mu.Unlock()
	k.log.Info("lost shard", "shard", i, "reason", why)
}

// release gives shard i's Lease l back: no holder, so that another
// replica takes it at once.
func (k *ShardKeeper) release(ctx context.Context, i int, l *coordinationv1.Lease) {
	l = l.DeepCopy()
	none := ""
	one := int32(1)
	l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds = &none, &one
	l.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
	cctx, cancel := k.call(ctx)
	_, err := k.leases.Update(cctx, l, metav1.UpdateOptions{FieldManager: FieldManager})
	cancel()
	if err != nil {
		k.log.Error(err, "release shard lease", "shard", i)
		return
	}
	k.lose(i, "released")
}

// enqueue queues the Applications of shard i.
func (k *ShardKeeper) enqueue(i int, q workqueue.TypedRateLimitingInterface[crreconcile.Request]) {
	if q == nil || k.apps == nil {
		// The controller has not started: its first listing queues
		// every Application, and this shard is ours by then.
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), k.period)
	defer cancel()
	var list v1alpha1.ApplicationList
	if err := k.apps.List(ctx, &list); err != nil {
		k.log.Error(err, "list the applications of a gained shard", "shard", i)
		return
	}
	for _, a := range list.Items {
		key := types.NamespacedName{Namespace: a.Namespace, Name: a.Name}
		if ShardOf(key, len(k.shards)) == i {
			q.Add(crreconcile.Request{NamespacedName: key})
		}
	}
}

// renewMember renews (or creates) this replica's member Lease.
func (k *ShardKeeper) renewMember(ctx context.Context) {
	id := k.opts.Identity
	now := metav1.MicroTime{Time: time.Now()}
	cctx, cancel := k.call(ctx)
	defer cancel()
	l := k.member
	var err error
	if l == nil {
		l = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: memberLease(id), Namespace: k.opts.Namespace,
				Labels: map[string]string{memberLabel: "true"}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &id, LeaseDurationSeconds: k.leaseSeconds(), AcquireTime: &now, RenewTime: &now},
		}
		l, err = k.leases.Create(cctx, l, metav1.CreateOptions{FieldManager: FieldManager})
		if apierrors.IsAlreadyExists(err) {
			l, err = k.leases.Get(cctx, memberLease(id), metav1.GetOptions{})
		}
	} else {
		l = l.DeepCopy()
		l.Spec.HolderIdentity, l.Spec.RenewTime = &id, &now
		l, err = k.leases.Update(cctx, l, metav1.UpdateOptions{FieldManager: FieldManager})
	}
	if err != nil {
		l = nil // read it again next time
		if ctx.Err() == nil {
			k.log.Error(err, "renew member lease")
		}
	}
	k.member = l
}

// deleteStale deletes the expired member Lease of a replica that is gone,
// unless it was renewed since we read it.
func (k *ShardKeeper) deleteStale(ctx context.Context, l *coordinationv1.Lease) {
	cctx, cancel := k.call(ctx)
	defer cancel()
	rv := l.ResourceVersion
	err := k.leases.Delete(cctx, l.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &rv}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) && ctx.Err() == nil {
		k.log.Error(err, "delete stale member lease", "lease", l.Name)
	}
}

// stop stops passes from starting, waits (within the shards' validity)
// for the running ones to leave, and gives every shard and the member
// Lease back.
func (k *ShardKeeper) stop() {
	k.mu.Lock()
	k.stopped = true
	k.mu.Unlock()
	deadline := time.Now().Add(k.validFor)
	for time.Now().Before(deadline) && k.inflight() > 0 {
		time.Sleep(20 * time.Millisecond)
	}
	if k.opts.noRelease {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range k.shards {
		if !k.isHeld(i) {
			continue
		}
		l, err := k.leases.Get(ctx, shardLease(i), metav1.GetOptions{})
		if err == nil && holder(l) == k.opts.Identity {
			k.release(ctx, i, l)
		}
		k.lose(i, "stopped")
	}
	if m := k.member; m != nil {
		rv := m.ResourceVersion
		_ = k.leases.Delete(ctx, m.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &rv}})
	}
}

func (k *ShardKeeper) inflight() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for i := range k.shards {
		n += k.shards[i].inflight
	}
	return n
}

func (k *ShardKeeper) leaseSeconds() *int32 {
	// Rounded up: another replica waits at least as long as we assume.
	s := int32((k.opts.LeaseDuration + time.Second - 1) / time.Second)
	return &s
}

func shardLease(i int) string { return ShardLeasePrefix + strconv.Itoa(i) }

// memberLease names a replica's member Lease by a hash of its identity,
// which may hold characters a name may not.
func memberLease(identity string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(identity))
	return fmt.Sprintf("%smember-%08x", ShardLeasePrefix, h.Sum32())
}

func holder(l *coordinationv1.Lease) string {
	if l == nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

func holderOf(l *coordinationv1.Lease) string {
	if h := holder(l); h != "" {
		return h
	}
	return "no one"
}

// shardHolders reads the shards' Leases and returns each shard's holder
// ("" for none): who reconciles what.
func shardHolders(ctx context.Context, c client.Reader, namespace string, shards int) ([]string, error) {
	var list coordinationv1.LeaseList
	if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("shards: list leases: %w", err)
	}
	out := make([]string, shards)
	names := map[string]int{}
	for i := range shards {
		names[shardLease(i)] = i
	}
	for i := range list.Items {
		if j, ok := names[list.Items[i].Name]; ok {
			out[j] = holder(&list.Items[i])
		}
	}
	return out, nil
}
