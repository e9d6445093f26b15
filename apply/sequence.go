package apply

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/object"
)

// sequence applies a prepared set in Argo CD's order: the first stage
// (CRDs, Namespaces, cluster RBAC) and its readiness, so that hooks find
// the namespaces and kinds they need; then the PreSync hooks; then the
// rest of the set wave by wave, each wave's Sync hooks after its ordinary
// objects and before the next wave. It reports whether everything
// succeeded.
func (r *run) sequence(ctx context.Context, p *prepared) bool {
	var first, rest []*item
	for _, it := range p.items {
		if stageOf(it) == 0 {
			first = append(first, it)
		} else {
			rest = append(rest, it)
		}
	}
	skip := func(reason string) {
		r.skipAll(p.hooks[PhasePreSync], PhasePreSync, reason)
		r.skipAll(rest, PhaseSync, reason)
		r.skipAll(p.hooks[PhaseSync], PhaseSync, reason)
	}
	if !r.applyBatches(ctx, batches(first)) {
		skip("an earlier wave failed")
		return false
	}
	if len(first) > 0 && !r.dry && !r.ready(ctx, first) {
		skip("the CRDs and Namespaces of the set are not ready")
		return false
	}
	if !r.hooks(ctx, PhasePreSync, p.hooks[PhasePreSync]) {
		r.skipAll(rest, PhaseSync, "a PreSync hook failed")
		r.skipAll(p.hooks[PhaseSync], PhaseSync, "a PreSync hook failed")
		return false
	}
	return r.applyBatches(ctx, withHooks(batches(rest), p.hooks[PhaseSync]))
}

// withHooks places each wave of Sync hooks after the ordinary objects of
// its wave, before the next wave: hooks and objects share one wave order.
func withHooks(bs []batch, hooks []*item) []batch {
	if len(hooks) == 0 {
		return bs
	}
	var waves []batch
	for _, h := range hooks {
		if n := len(waves); n > 0 && waves[n-1].wave == h.s.wave {
			waves[n-1].items = append(waves[n-1].items, h)
			continue
		}
		waves = append(waves, batch{stage: 1, wave: h.s.wave, items: []*item{h}, hooks: true})
	}
	out := make([]batch, 0, len(bs)+len(waves))
	for _, b := range bs {
		for len(waves) > 0 && waves[0].wave < b.wave {
			out, waves = append(out, waves[0]), waves[1:]
		}
		out = append(out, b)
	}
	return append(out, waves...)
}

// applyBatches applies batches in order. A failure lets the rest of its
// wave finish and skips the waves after it; a wave of hooks after a
// failure is skipped too.
func (r *run) applyBatches(ctx context.Context, bs []batch) bool {
	var mu sync.Mutex
	failed := false
	for i, b := range bs {
		newWave := i > 0 && (bs[i-1].wave != b.wave || bs[i-1].hooks != b.hooks)
		if ((newWave || b.hooks) && failed) || ctx.Err() != nil {
			reason := "an earlier wave failed"
			if ctx.Err() != nil {
				reason = "cancelled"
			}
			for _, rest := range bs[i:] {
				r.skipAll(rest.items, PhaseSync, reason)
			}
			return false
		}
		if b.hooks {
			if !r.hookWave(ctx, PhaseSync, b.items) {
				failed = true
			}
			continue
		}
		notStarted := forEach(ctx, b.items, r.opts.Concurrency, func(it *item) {
			or := r.applyItem(ctx, it, PhaseSync)
			r.add(or)
			if or.Action == Failed {
				mu.Lock()
				failed = true
				mu.Unlock()
			}
		})
		r.skipAll(notStarted, PhaseSync, "cancelled")
	}
	return !failed && ctx.Err() == nil
}

// hasWork reports whether applying the set would change anything: an
// object to create or update, or one to prune. Hooks run only then (or
// with Options.ForceHooks), as in Argo CD, so that an in-sync set does not
// rerun a migration Job on every pass. It reads the cache, as a Plan does.
func (r *run) hasWork(ctx context.Context, p *prepared, prev []object.ID) bool {
	if r.opts.Prune {
		inSet := make(map[object.ID]bool, len(p.items))
		for _, it := range p.items {
			inSet[it.id] = true
		}
		for _, id := range prev {
			if !inSet[id] {
				return true
			}
		}
	}
	for _, it := range p.items {
		if it.s.mode == modeIgnore {
			continue
		}
		live, known, err := r.a.live(ctx, it.obj, false)
		if err != nil || !known || live == nil {
			return true // to create, or to be written anyway
		}
		if it.s.mode == modeIfNotPresent || it.s.onRequest {
			continue // exists, and is never updated
		}
		obj, err := r.ownedVersion(it.obj, live)
		if err != nil {
			return true
		}
		d, err := r.a.differ.Diff(ctx, obj, live)
		if err != nil || d.Action != diff.Unchanged {
			return true
		}
	}
	return false
}

// phaseRank orders results: hooks and objects by the phase they ran in.
func phaseRank(p Phase) int {
	switch p {
	case PhasePreSync:
		return 0
	case PhaseSync, "":
		return 1
	case PhasePostSync:
		return 2
	case PhaseSyncFail:
		return 3
	}
	return 4
}

// sortResults puts a call's results in a stable order, whatever order the
// workers finished in: by phase, then in apply order (pruned objects in
// prune order).
func sortResults(res *Result, p *prepared) {
	pos := make(map[object.ID]int, len(p.items))
	for i, it := range p.items {
		pos[it.id] = i
	}
	n := len(p.items)
	for _, phase := range []Phase{PhasePreSync, PhaseSync, PhasePostSync, PhaseSyncFail} {
		for _, it := range p.hooks[phase] {
			if _, ok := pos[it.id]; !ok {
				pos[it.id] = n
				n++
			}
		}
	}
	for _, it := range p.skipped {
		pos[it.id] = n
		n++
	}
	slices.SortStableFunc(res.Objects, func(a, b ObjectResult) int {
		if c := cmp.Compare(phaseRank(a.Phase), phaseRank(b.Phase)); c != 0 {
			return c
		}
		if a.Phase == PhasePrune {
			return cmp.Or(cmp.Compare(pruneRank(a.ID), pruneRank(b.ID)), object.Compare(a.ID, b.ID))
		}
		return cmp.Compare(pos[a.ID], pos[b.ID])
	})
}
