package apply

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/converge-dev/converge/object"
)

// stage 0 holds what the rest of the set may depend on: CRDs, Namespaces
// and cluster RBAC. It is applied first, whatever its waves say, and the
// rest waits for its CRDs to be Established and its Namespaces Active.
func stageOf(it *item) int {
	if object.ClassOf(it.id.GroupKind()) < object.ClassOther {
		return 0
	}
	return 1
}

// sortItems orders a set for apply: stage, wave, class, kind, then ID.
func sortItems(items []*item) {
	slices.SortStableFunc(items, func(a, b *item) int {
		return cmp.Or(
			cmp.Compare(stageOf(a), stageOf(b)),
			cmp.Compare(a.s.wave, b.s.wave),
			object.Compare(a.id, b.id),
		)
	})
}

// batch is a group of items applied concurrently: one stage, one wave,
// one kind rank.
type batch struct {
	stage, wave int
	items       []*item
	hooks       bool // a wave of Sync hooks
}

// batches splits sorted items into batches. Batches of one stage and wave
// form a wave: a failure in a wave stops the waves after it.
func batches(items []*item) []batch {
	var out []batch
	for _, it := range items {
		st, rank := stageOf(it), object.KindRank(it.id.GroupKind())
		if n := len(out); n > 0 {
			last := &out[n-1]
			prev := last.items[len(last.items)-1]
			if last.stage == st && last.wave == it.s.wave && object.KindRank(prev.id.GroupKind()) == rank &&
				object.ClassOf(prev.id.GroupKind()) == object.ClassOf(it.id.GroupKind()) {
				last.items = append(last.items, it)
				continue
			}
		}
		out = append(out, batch{stage: st, wave: it.s.wave, items: []*item{it}})
	}
	return out
}

// pruneRank orders deletions: ordinary objects (custom resources among
// them, kinds in reverse apply order) first, then cluster RBAC, then CRDs,
// Namespaces last.
func pruneRank(id object.ID) int {
	switch object.ClassOf(id.GroupKind()) {
	case object.ClassClusterRBAC:
		return 1 << 20
	case object.ClassCustomResourceDefinition:
		return 2 << 20
	case object.ClassNamespace:
		return 3 << 20
	}
	return -object.KindRank(id.GroupKind())
}

// forEach runs fn on each item with at most n in flight, and returns once
// all have returned. It stops starting new work when ctx is done and
// returns the items it did not start. It runs n workers rather than a
// goroutine per item: most items of an in-sync set take microseconds.
func forEach[T any](ctx context.Context, items []T, n int, fn func(T)) (notStarted []T) {
	n = max(1, min(n, len(items)))
	var (
		next atomic.Int64
		mu   sync.Mutex
		wg   sync.WaitGroup
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(items)) {
					return
				}
				if ctx.Err() != nil {
					mu.Lock()
					notStarted = append(notStarted, items[i])
					mu.Unlock()
					return
				}
				fn(items[i])
			}
		}()
	}
	wg.Wait()
	if taken := next.Load(); taken < int64(len(items)) {
		notStarted = append(notStarted, items[taken:]...)
	}
	return notStarted
}
